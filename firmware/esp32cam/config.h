// The camera's settings, all in one place: edit them, then build and flash (README.md). Read once at start-up.
#pragma once

#include <cstdint>

#include <esp_camera.h>

namespace config {

// Wi-Fi (2.4 GHz only: the ESP32 has no 5 GHz radio).
constexpr const char* kWifiSsid = "your-ssid";
constexpr const char* kWifiPassword = "your-password";

// iotstream's main port; plain http (the board spends no time on TLS at 10 fps).
constexpr const char* kServerUrl = "http://192.168.1.10:9003";

// X-Device-ID; "" uses "esp32cam-" and the board's MAC address (e.g. esp32cam-a0b1c2d3e4f5).
constexpr const char* kDeviceId = "";

// Sent as X-API-Key when not empty.
constexpr const char* kApiKey = "";

// VGA (640x480) at quality 12 (esp32-camera's scale: 0-63, lower is better) is about 25-40 KB a frame.
constexpr framesize_t kFrameSize = FRAMESIZE_VGA;
constexpr int kJpegQuality = 12;

// Frames per second in fast mode; a frame whose slot passed while the last answer was awaited is skipped.
constexpr double kTargetFps = 10;

// One request, connect to the last byte of the answer.
constexpr uint32_t kTimeoutMs = 3000;

// Serial console stats line interval.
constexpr uint32_t kStatsIntervalMs = 10000;

enum class Mode {
  kFast,  // every frame to /api/v1/stream/fast, answered at once
  kDoor,  // one frame a second (or on the trigger) to /api/v1/stream/stream; a permitted face opens the door
};
constexpr Mode kMode = Mode::kFast;

// Door mode. GPIO 14 and 13 are free on the AI-Thinker board when no SD card is used (12 is a boot strapping pin,
// 4 the flash LED).
constexpr int kDoorPin = 14;          // relay or LED, on (HIGH) while the door is open
constexpr int kTriggerPin = 13;       // a PIR or button pulling it HIGH posts at once; -1: none
constexpr uint32_t kDoorOpenMs = 5000;
constexpr uint32_t kDoorIntervalMs = 1000;

}  // namespace config
