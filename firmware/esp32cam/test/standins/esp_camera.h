// Stand-in for the esp32-camera driver's esp_camera.h, with the bits of esp_err.h, sensor.h and driver/ledc.h it
// brings along that esp32cam.ino uses. Field names follow esp32-camera 2.x. Declarations only; see Arduino.h here.
#pragma once

#include <cstddef>
#include <cstdint>

typedef int esp_err_t;
#define ESP_OK 0

typedef enum { LEDC_TIMER_0 = 0 } ledc_timer_t;
typedef enum { LEDC_CHANNEL_0 = 0 } ledc_channel_t;
typedef enum { PIXFORMAT_JPEG = 4 } pixformat_t;
typedef enum { FRAMESIZE_QVGA = 5, FRAMESIZE_VGA = 8, FRAMESIZE_SVGA = 9 } framesize_t;
typedef enum { CAMERA_FB_IN_PSRAM = 0, CAMERA_FB_IN_DRAM = 1 } camera_fb_location_t;
typedef enum { CAMERA_GRAB_WHEN_EMPTY = 0, CAMERA_GRAB_LATEST = 1 } camera_grab_mode_t;

typedef struct {
  int pin_pwdn;
  int pin_reset;
  int pin_xclk;
  int pin_sccb_sda;
  int pin_sccb_scl;
  int pin_d7;
  int pin_d6;
  int pin_d5;
  int pin_d4;
  int pin_d3;
  int pin_d2;
  int pin_d1;
  int pin_d0;
  int pin_vsync;
  int pin_href;
  int pin_pclk;
  int xclk_freq_hz;
  ledc_timer_t ledc_timer;
  ledc_channel_t ledc_channel;
  pixformat_t pixel_format;
  framesize_t frame_size;
  int jpeg_quality;
  size_t fb_count;
  camera_fb_location_t fb_location;
  camera_grab_mode_t grab_mode;
} camera_config_t;

typedef struct {
  uint8_t* buf;
  size_t len;
  size_t width;
  size_t height;
  pixformat_t format;
} camera_fb_t;

esp_err_t esp_camera_init(const camera_config_t* config);
camera_fb_t* esp_camera_fb_get();
void esp_camera_fb_return(camera_fb_t* fb);
