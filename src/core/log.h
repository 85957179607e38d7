// Minimal leveled logging to stderr, one line per call, safe from any thread.
//
//   IOT_LOG(kWarn) << "store: " << status.ToString();
//
// The message is formatted only when its level is enabled. Lines from different threads never interleave.
#pragma once

#include <sstream>
#include <string_view>

namespace iotstream {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };

void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);
// Parses "debug", "info", "warn", "error", "off"; false on anything else.
bool ParseLogLevel(std::string_view text, LogLevel* out);

class LogLine {
 public:
  explicit LogLine(LogLevel level) : level_(level) {}
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;
  ~LogLine();
  template <typename T>
  LogLine& operator<<(const T& v) {
    out_ << v;
    return *this;
  }

 private:
  LogLevel level_;
  std::ostringstream out_;
};

}  // namespace iotstream

// glog's trick: `&` binds looser than `<<`, so the whole stream expression is the conditional's operand,
// and the macro stays one expression (safe in an unbraced if/else).
namespace iotstream {
struct LogVoidify {
  void operator&(const LogLine&) {}
};
}  // namespace iotstream

#define IOT_LOG(level)                                              \
  !::iotstream::LogEnabled(::iotstream::LogLevel::level)            \
      ? (void)0                                                     \
      : ::iotstream::LogVoidify() & ::iotstream::LogLine(::iotstream::LogLevel::level)
