// Private to api/: the JSON bodies of the management routes, parsed and checked apart from their handlers so that
// they can be tested and fuzzed on their own. Stateless and thread-safe; InvalidArgument names what is wrong.
#pragma once

#include <string_view>

#include "core/status.h"
#include "exports/exporter.h"
#include "ingest/ingest.h"
#include "store/outbox.h"

namespace iotstream::api {

// PATCH /api/v1/devices/{id}: {"name", "location" (strings of at most 128 bytes), "sparse" (bool),
// "expected_interval_s" (0 to a week)}, at least one of them.
Result<ingest::DeviceUpdate> DeviceUpdateOf(std::string_view body);

// POST /api/v1/webhooks: {"url" (string), "secret" (string), "types", "cameras", "persons", "not_persons"
// (arrays of strings, or null)}. The URL itself is checked by the webhook publisher.
Result<store::WebhookRecord> WebhookSpecOf(std::string_view body);

// POST /api/v1/events/{id}/feedback: {"correct": true|false}.
Result<bool> FeedbackOf(std::string_view body);

// POST /api/v1/footage/{device}/exports: {"from", "to" (ms since the epoch, non-negative integers, from < to: the
// range [from, to)), "format" ("mp4", the default, or "zip")}. The range's length is the exporter's to bound.
struct ExportSpec {
  int64_t from_ms = 0;
  int64_t to_ms = 0;
  exports::Format format = exports::Format::kMp4;
};
Result<ExportSpec> ExportSpecOf(std::string_view body);

}  // namespace iotstream::api
