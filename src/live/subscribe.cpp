#include "live/subscribe.h"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace iotstream::live {

Result<Subscription> ParseSubscribe(std::string_view text) {
  using nlohmann::json;
  const json cmd = json::parse(text, nullptr, false);
  if (cmd.is_discarded() || !cmd.is_object() || !cmd.contains("subscribe")) {
    return Status::InvalidArgument(R"(expected {"subscribe": ["cam1", ...]} or {"subscribe": "*"})");
  }
  const json& sub = cmd["subscribe"];
  Subscription out;
  if (sub.is_string() && sub.get_ref<const std::string&>() == "*") {
    out.all = true;
  } else if (sub.is_array() && std::all_of(sub.begin(), sub.end(), [](const json& j) { return j.is_string(); })) {
    for (const auto& j : sub) out.ids.insert(j.get<std::string>());
  } else {
    return Status::InvalidArgument(R"('subscribe' must be "*" or an array of device ids)");
  }
  return out;
}

}  // namespace iotstream::live
