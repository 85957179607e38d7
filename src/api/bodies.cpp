#include "api/bodies.h"

#include <string>

#include <nlohmann/json.hpp>

namespace iotstream::api {
namespace {

using nlohmann::json;

// A sparse camera's longest interval between bursts: a week.
constexpr double kMaxIntervalS = 7 * 24 * 3600;

}  // namespace

Result<ingest::DeviceUpdate> DeviceUpdateOf(std::string_view body) {
  const json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::InvalidArgument("body must be a JSON object like {\"name\": \"Front door\"}");
  }
  ingest::DeviceUpdate update;
  for (const char* key : {"name", "location"}) {
    if (!j.contains(key)) continue;
    const auto& v = j[key];
    if (!v.is_string() || v.get_ref<const std::string&>().size() > 128) {
      return Status::InvalidArgument(std::string("'") + key + "' must be a string of at most 128 characters");
    }
    (std::string_view(key) == "name" ? update.name : update.location) = v.get<std::string>();
  }
  if (j.contains("sparse")) {
    if (!j["sparse"].is_boolean()) return Status::InvalidArgument("'sparse' must be true or false");
    update.sparse = j["sparse"].get<bool>();
  }
  if (j.contains("expected_interval_s")) {
    const auto& v = j["expected_interval_s"];
    if (!v.is_number() || v.get<double>() < 0 || v.get<double>() > kMaxIntervalS) {
      return Status::InvalidArgument("'expected_interval_s' must be a number of seconds from 0 (learn it) to " +
                                     std::to_string(static_cast<int>(kMaxIntervalS)));
    }
    update.expected_interval_ms = static_cast<int64_t>(v.get<double>() * 1000);
  }
  if (!update.name && !update.location && !update.sparse && !update.expected_interval_ms) {
    return Status::InvalidArgument("nothing to change: send 'name', 'location', 'sparse' or 'expected_interval_s'");
  }
  return update;
}

Result<store::WebhookRecord> WebhookSpecOf(std::string_view body) {
  const json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::InvalidArgument(R"(body must be a JSON object like {"url": "https://example.com/hook"})");
  }
  store::WebhookRecord w;
  if (!j.contains("url") || !j["url"].is_string()) return Status::InvalidArgument("'url' must be a string");
  w.url = j["url"].get<std::string>();
  if (j.contains("secret")) {
    if (!j["secret"].is_string()) return Status::InvalidArgument("'secret' must be a string");
    w.secret = j["secret"].get<std::string>();
  }
  for (auto [key, out] : {std::pair{"types", &w.types}, std::pair{"cameras", &w.cameras},
                          std::pair{"persons", &w.persons}, std::pair{"not_persons", &w.not_persons}}) {
    if (!j.contains(key) || j[key].is_null()) continue;
    const json& list = j[key];
    if (!list.is_array()) return Status::InvalidArgument(std::string("'") + key + "' must be an array of strings");
    for (const auto& v : list) {
      if (!v.is_string()) return Status::InvalidArgument(std::string("'") + key + "' must be an array of strings");
      out->push_back(v.get<std::string>());
    }
  }
  return w;
}

Result<bool> FeedbackOf(std::string_view body) {
  const json j = json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("correct") || !j["correct"].is_boolean()) {
    return Status::InvalidArgument("body must be {\"correct\": true} or {\"correct\": false}");
  }
  return j["correct"].get<bool>();
}

Result<ExportSpec> ExportSpecOf(std::string_view body) {
  const json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::InvalidArgument(R"(body must be a JSON object like {"from": 1700000000000, "to": 1700000010000, )"
                                   R"("format": "mp4"})");
  }
  ExportSpec spec;
  for (auto [key, out] : {std::pair{"from", &spec.from_ms}, std::pair{"to", &spec.to_ms}}) {
    if (!j.contains(key) || !j[key].is_number_integer() || j[key].get<int64_t>() < 0) {
      return Status::InvalidArgument(std::string("'") + key + "' must be a non-negative integer (ms since the epoch)");
    }
    *out = j[key].get<int64_t>();
  }
  if (spec.to_ms <= spec.from_ms) return Status::InvalidArgument("'to' must be after 'from'");
  if (j.contains("format")) {
    const auto format = j["format"].is_string() ? exports::ParseFormat(j["format"].get<std::string>()) : std::nullopt;
    if (!format) return Status::InvalidArgument("'format' must be \"mp4\" or \"zip\"");
    spec.format = *format;
  }
  return spec;
}

}  // namespace iotstream::api
