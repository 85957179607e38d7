// Stand-in for ESP-IDF's esp_timer.h: the microsecond clock since boot. Declaration only; see Arduino.h here.
#pragma once

#include <cstdint>

int64_t esp_timer_get_time();
