// Private to live/: the one control message a /ws viewer sends, {"subscribe": [ids]} or {"subscribe": "*"}, parsed
// apart from the session so that it can be tested and fuzzed on its own. Stateless and thread-safe.
#pragma once

#include <set>
#include <string>
#include <string_view>

#include "core/status.h"

namespace iotstream::live {

struct Subscription {
  bool all = false;           // "*": every camera
  std::set<std::string> ids;  // the cameras named; empty when `all`
};

// The subscription `text` asks for. InvalidArgument, with a message for the viewer, when it is not a JSON object
// with a "subscribe" member that is "*" or an array of strings. The ids are not checked against the devices: one
// that sends nothing yet is simply never matched.
Result<Subscription> ParseSubscribe(std::string_view text);

}  // namespace iotstream::live
