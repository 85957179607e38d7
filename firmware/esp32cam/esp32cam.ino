// iotstream camera firmware for the AI-Thinker ESP32-CAM: captures VGA JPEGs with the esp32-camera driver and posts
// them to iotstream (fast mode), or opens a door for permitted faces (door mode). Settings: config.h. The upload
// logic is the portable core in src/uploader/ (also built and tested on the host); src/board/ gives it the board's
// Wi-Fi, clock, camera, serial console and pins. Helpers live there, not here, so the Arduino preprocessor's
// generated prototypes have nothing to trip over.
#include <Arduino.h>

#include "src/board/esp_board.h"

void setup() { iotstream::firmware::board::Setup(); }

void loop() { iotstream::firmware::board::Loop(); }
