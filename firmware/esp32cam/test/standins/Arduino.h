// Stand-in for the Arduino-ESP32 core's Arduino.h: only the declarations esp32cam.ino uses, so the sketch compiles
// on a host without the ESP32 toolchain (tests/firmware, FirmwareSketchCompiles). Nothing here is defined or run.
#pragma once

#include <cstddef>
#include <cstdint>

#define LOW 0x0
#define HIGH 0x1
#define OUTPUT 0x03
#define INPUT_PULLDOWN 0x09

void pinMode(uint8_t pin, uint8_t mode);
void digitalWrite(uint8_t pin, uint8_t value);
int digitalRead(uint8_t pin);
void delay(uint32_t ms);
void delayMicroseconds(uint32_t us);
bool psramFound();
void configTime(long gmt_offset_sec, int daylight_offset_sec, const char* server1, const char* server2 = nullptr,
                const char* server3 = nullptr);

class HardwareSerial {
 public:
  void begin(unsigned long baud);
  size_t println(const char* text);
};
extern HardwareSerial Serial;

class EspClass {
 public:
  void restart();
};
extern EspClass ESP;
