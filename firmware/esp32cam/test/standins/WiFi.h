// Stand-in for the Arduino-ESP32 core's WiFi.h (WiFiClass, WiFiClient): only what esp32cam.ino uses. Declarations
// only; see Arduino.h here.
#pragma once

#include <cstddef>
#include <cstdint>

#include "Arduino.h"

typedef enum { WL_IDLE_STATUS = 0, WL_CONNECTED = 3, WL_DISCONNECTED = 6 } wl_status_t;
typedef enum { WIFI_MODE_NULL = 0, WIFI_MODE_STA = 1 } wifi_mode_t;
#define WIFI_STA WIFI_MODE_STA

class WiFiClass {
 public:
  bool mode(wifi_mode_t mode);
  wl_status_t begin(const char* ssid, const char* passphrase);
  wl_status_t status();
  bool reconnect();
  bool setSleep(bool enabled);
  uint8_t* macAddress(uint8_t* mac);
};
extern WiFiClass WiFi;

class WiFiClient {
 public:
  int connect(const char* host, uint16_t port, int32_t timeout_ms);
  size_t write(const uint8_t* buffer, size_t size);
  int available();
  int read(uint8_t* buffer, size_t size);
  uint8_t connected();
  void stop();
  int setNoDelay(bool nodelay);
};
