// A /ws viewer's control message, {"subscribe": [ids]} or {"subscribe": "*"}: ParseSubscribe, and the
// "subscribed" answer the session builds from what it parsed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "live/subscribe.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using nlohmann::json;
  auto sub = iotstream::live::ParseSubscribe(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!sub.ok()) {
    if (sub.status().message().empty()) std::abort();
    return 0;
  }
  if (sub.value().all && !sub.value().ids.empty()) std::abort();
  // As the session answers; dump() throws (and the fuzzer reports it) on text that is not UTF-8.
  const std::string answer =
      json{{"type", "subscribed"}, {"devices", sub.value().all ? json("*") : json(sub.value().ids)}}.dump();
  if (answer.empty()) std::abort();
  return 0;
}
