// The board's side of the firmware: the uploader's seams implemented with the Arduino-ESP32 core (WiFiClient,
// esp_timer, esp32-camera, Serial, GPIO) for the AI-Thinker ESP32-CAM, and the setup/loop that runs them.
#include <Arduino.h>
#include <WiFi.h>
#include <esp_camera.h>
#include <esp_timer.h>
#include <sys/time.h>

#include <cstdio>
#include <string>

#include "../../config.h"
#include "../uploader/door.h"
#include "../uploader/http.h"
#include "../uploader/uploader.h"
#include "esp_board.h"

namespace iotstream::firmware::board {
namespace {

// WiFiClient blocks inside write(); the deadline is checked between chunks of this size.
constexpr size_t kWriteChunk = 4096;
// A wall clock before 2020 has not been set by NTP yet.
constexpr time_t kClockSetAfter = 1577836800;

class WiFiTransport final : public Transport {
 public:
  bool Connect(const char* host, uint16_t port, uint32_t timeout_ms) override {
    client_.stop();
    open_ = client_.connect(host, port, static_cast<int32_t>(timeout_ms)) == 1;
    if (open_) client_.setNoDelay(true);
    return open_;
  }
  bool connected() const override { return open_; }
  bool WriteAll(const uint8_t* data, size_t size, uint32_t timeout_ms) override {
    const int64_t deadline = esp_timer_get_time() + static_cast<int64_t>(timeout_ms) * 1000;
    while (size > 0) {
      if (esp_timer_get_time() >= deadline) return false;
      const size_t n = client_.write(data, size < kWriteChunk ? size : kWriteChunk);
      if (n == 0) return false;
      data += n;
      size -= n;
    }
    return true;
  }
  int ReadSome(uint8_t* buffer, size_t capacity, uint32_t timeout_ms) override {
    const int64_t deadline = esp_timer_get_time() + static_cast<int64_t>(timeout_ms) * 1000;
    for (;;) {
      const int available = client_.available();
      if (available > 0) {
        const size_t want = static_cast<size_t>(available) < capacity ? static_cast<size_t>(available) : capacity;
        return client_.read(buffer, want);
      }
      if (!client_.connected()) return -1;
      if (esp_timer_get_time() >= deadline) return 0;
      delay(1);
    }
  }
  void Close() override {
    client_.stop();
    open_ = false;
  }

 private:
  WiFiClient client_;
  bool open_ = false;
};

class EspClock final : public Clock {
 public:
  uint64_t MonotonicUs() override { return static_cast<uint64_t>(esp_timer_get_time()); }
  bool WallMs(int64_t* ms) override {
    timeval now{};
    gettimeofday(&now, nullptr);
    if (now.tv_sec < kClockSetAfter) return false;
    *ms = static_cast<int64_t>(now.tv_sec) * 1000 + now.tv_usec / 1000;
    return true;
  }
  void SleepUs(uint64_t us) override {
    if (us >= 1000) delay(static_cast<uint32_t>(us / 1000));
    else delayMicroseconds(static_cast<uint32_t>(us));
  }
};

class EspCamera final : public Camera {
 public:
  bool Grab(FrameView* frame) override {
    fb_ = esp_camera_fb_get();
    if (fb_ == nullptr) return false;
    frame->data = fb_->buf;
    frame->size = fb_->len;
    return true;
  }
  void Release() override {
    esp_camera_fb_return(fb_);
    fb_ = nullptr;
  }

 private:
  camera_fb_t* fb_ = nullptr;
};

class SerialLog final : public Log {
 public:
  void Line(const char* text) override { Serial.println(text); }
};

class PinOut final : public DigitalOut {
 public:
  explicit PinOut(int pin) : pin_(pin) {}
  void Write(bool on) override { digitalWrite(static_cast<uint8_t>(pin_), on ? HIGH : LOW); }

 private:
  int pin_;
};

// Everything the loop needs, built once in setup() and never destroyed (the board runs until power-off).
struct App {
  WiFiTransport transport;
  EspClock clock;
  EspCamera camera;
  SerialLog log;
  PinOut door_pin{config::kDoorPin};
  Uploader uploader;
  Door door;

  explicit App(const UploaderOptions& options)
      : uploader(options, transport, clock, log),
        door(DoorOptions{config::kDoorIntervalMs, config::kDoorOpenMs, 10}, uploader, door_pin, clock, log) {}
};

App* app = nullptr;

// The AI-Thinker ESP32-CAM's OV2640 wiring.
bool InitCamera() {
  camera_config_t c{};
  c.pin_pwdn = 32;
  c.pin_reset = -1;
  c.pin_xclk = 0;
  c.pin_sccb_sda = 26;
  c.pin_sccb_scl = 27;
  c.pin_d7 = 35;
  c.pin_d6 = 34;
  c.pin_d5 = 39;
  c.pin_d4 = 36;
  c.pin_d3 = 21;
  c.pin_d2 = 19;
  c.pin_d1 = 18;
  c.pin_d0 = 5;
  c.pin_vsync = 25;
  c.pin_href = 23;
  c.pin_pclk = 22;
  c.xclk_freq_hz = 20000000;
  c.ledc_timer = LEDC_TIMER_0;
  c.ledc_channel = LEDC_CHANNEL_0;
  c.pixel_format = PIXFORMAT_JPEG;
  c.frame_size = config::kFrameSize;
  c.jpeg_quality = config::kJpegQuality;
  // Two buffers in PSRAM let the sensor fill one while the other is uploaded; without PSRAM one fits in DRAM.
  c.fb_count = psramFound() ? 2 : 1;
  c.fb_location = psramFound() ? CAMERA_FB_IN_PSRAM : CAMERA_FB_IN_DRAM;
  c.grab_mode = CAMERA_GRAB_LATEST;
  return esp_camera_init(&c) == ESP_OK;
}

void WaitForWifi() {
  while (WiFi.status() != WL_CONNECTED) {
    Serial.println("wifi: connecting");
    delay(500);
  }
}

std::string DeviceId() {
  if (config::kDeviceId[0] != '\0') return config::kDeviceId;
  uint8_t mac[6] = {};
  WiFi.macAddress(mac);
  char id[32];
  std::snprintf(id, sizeof id, "esp32cam-%02x%02x%02x%02x%02x%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
  return id;
}

void Halt(const char* why) {
  Serial.println(why);
  delay(5000);
  ESP.restart();
}

}  // namespace

void Setup() {
  Serial.begin(115200);
  pinMode(config::kDoorPin, OUTPUT);
  digitalWrite(config::kDoorPin, LOW);
  if (config::kTriggerPin >= 0) pinMode(static_cast<uint8_t>(config::kTriggerPin), INPUT_PULLDOWN);
  if (!InitCamera()) Halt("camera: init failed, restarting");

  WiFi.mode(WIFI_STA);
  WiFi.setSleep(false);  // modem sleep adds up to 100 ms to every answer
  WiFi.begin(config::kWifiSsid, config::kWifiPassword);
  WaitForWifi();
  configTime(0, 0, "pool.ntp.org");

  ServerUrl url;
  if (!ParseServerUrl(config::kServerUrl, &url)) Halt("config: kServerUrl is not http://host[:port]");
  UploaderOptions options;
  options.host = url.host;
  options.port = url.port;
  options.path = config::kMode == config::Mode::kDoor ? "/api/v1/stream/stream" : "/api/v1/stream/fast";
  options.device_id = DeviceId();
  options.api_key = config::kApiKey;
  options.fps = config::kTargetFps;
  options.timeout_ms = config::kTimeoutMs;
  options.stats_interval_ms = config::kStatsIntervalMs;
  app = new App(options);
  const std::string hello = "iotstream camera " + options.device_id + " -> " + config::kServerUrl + options.path;
  Serial.println(hello.c_str());
}

void Loop() {
  if (WiFi.status() != WL_CONNECTED) {
    app->transport.Close();
    WiFi.reconnect();
    WaitForWifi();
  }
  if (config::kMode == config::Mode::kDoor) {
    const bool trigger = config::kTriggerPin >= 0 && digitalRead(static_cast<uint8_t>(config::kTriggerPin)) == HIGH;
    app->door.RunOnce(app->camera, trigger);
  } else {
    app->uploader.RunOnce(app->camera);
  }
}

}  // namespace iotstream::firmware::board
