// The firmware's entry points on the board, called by esp32cam.ino's setup() and loop(). Board-only (Arduino-ESP32
// core); runs on the Arduino loop task, never concurrently.
#pragma once

namespace iotstream::firmware::board {

// Starts the serial console, the camera, Wi-Fi and NTP, and builds the uploader from config.h; restarts the board
// when the camera or the server URL cannot be used.
void Setup();
// One step: reconnects Wi-Fi when it dropped, then one paced upload (fast mode) or one door step (door mode).
void Loop();

}  // namespace iotstream::firmware::board
