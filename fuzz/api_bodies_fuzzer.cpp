// The JSON bodies of the management routes: PATCH /api/v1/devices/{id}, POST /api/v1/webhooks,
// POST /api/v1/events/{id}/feedback and POST /api/v1/footage/{device}/exports, through the same checks the handlers
// make (api/bodies.h).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "api/bodies.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  if (auto u = iotstream::api::DeviceUpdateOf(body); u.ok()) {
    const auto& v = u.value();
    if (!v.name && !v.location && !v.sparse && !v.expected_interval_ms) std::abort();
    if ((v.name && v.name->size() > 128) || (v.location && v.location->size() > 128)) std::abort();
    if (v.expected_interval_ms && (*v.expected_interval_ms < 0 || *v.expected_interval_ms > 7LL * 24 * 3600 * 1000)) {
      std::abort();
    }
  } else if (!u.status().IsInvalidArgument()) {
    std::abort();
  }
  if (auto w = iotstream::api::WebhookSpecOf(body); !w.ok() && !w.status().IsInvalidArgument()) std::abort();
  if (auto f = iotstream::api::FeedbackOf(body); !f.ok() && !f.status().IsInvalidArgument()) std::abort();
  if (auto e = iotstream::api::ExportSpecOf(body); !e.ok() && !e.status().IsInvalidArgument()) std::abort();
  return 0;
}
