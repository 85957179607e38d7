#include "api/webhooks_api.h"

#include <nlohmann/json.hpp>

#include "api/bodies.h"
#include "api/respond.h"

namespace iotstream::api {
namespace {

using http::Method;
using http::Request;
using http::Responder;
using http::Response;
using nlohmann::json;

json ListOrNull(const std::vector<std::string>& list) { return list.empty() ? json(nullptr) : json(list); }
json OrNull(const std::optional<int64_t>& v) { return v ? json(*v) : json(nullptr); }

json WebhookJson(const store::WebhookRecord& w) {
  return json{{"id", w.id},
              {"url", w.url},
              {"signed", !w.secret.empty()},
              {"types", ListOrNull(w.types)},
              {"cameras", ListOrNull(w.cameras)},
              {"persons", ListOrNull(w.persons)},
              {"not_persons", ListOrNull(w.not_persons)},
              {"source", w.configured ? "flag" : "api"},
              {"created_ms", w.created_ms},
              {"last_success_ms", OrNull(w.last_success_ms)},
              {"last_error", w.last_error.empty() ? json(nullptr) : json(w.last_error)},
              {"last_error_ms", OrNull(w.last_error_ms)},
              {"failures", w.failures},
              {"given_up", w.given_up},
              {"backlog", w.backlog}};
}

}  // namespace

void AddWebhookRoutes(http::Router& router, notify::WebhookPublisher& webhooks, WorkPool& disk_pool, AuditTrail& audit) {
  notify::WebhookPublisher* w = &webhooks;
  WorkPool* pool = &disk_pool;
  AuditTrail* a = &audit;
  router.Add(Method::kPost, "/api/v1/webhooks", [w, pool, a](Request&& req, Responder s) {
    auto spec = WebhookSpecOf(req.body);
    if (!spec.ok()) return s.Send(ErrorOf(spec.status()));
    OnDiskPool(*pool, s, [w, s, a, who = AuditTrail::Of(req), spec = std::move(spec).value()] {
      auto created = w->Create(spec);
      if (!created.ok()) return s.Send(ErrorOf(created.status()));
      a->Record(who, "webhook_create", std::to_string(created.value().id) + " " + created.value().url);
      json body = WebhookJson(created.value());
      body["secret"] = created.value().secret.empty() ? json(nullptr) : json(created.value().secret);
      s.Send(Response::Json(201, body.dump()));
    });
  });
  router.Add(Method::kGet, "/api/v1/webhooks", [w, pool](Request&&, Responder s) {
    OnDiskPool(*pool, s, [w, s] {
      auto list = w->List();
      if (!list.ok()) return s.Send(ErrorOf(list.status()));
      json hooks = json::array();
      for (const auto& h : list.value()) hooks.push_back(WebhookJson(h));
      const size_t count = hooks.size();
      s.Send(Response::Json(200, json{{"webhooks", std::move(hooks)}, {"count", count}}.dump()));
    });
  });
  router.Add(Method::kDelete, "/api/v1/webhooks/{id}", [w, pool, a](Request&& req, Responder s) {
    auto id = ParseId(req.param("id"));
    if (!id) return s.Send(Response::Error(400, "webhook id must be a positive integer"));
    OnDiskPool(*pool, s, [w, s, a, who = AuditTrail::Of(req), id = *id] {
      if (Status st = w->Delete(id); !st.ok()) return s.Send(ErrorOf(st));
      a->Record(who, "webhook_delete", std::to_string(id));
      s.Send(Response::Json(200, json{{"success", true}, {"id", id}}.dump()));
    });
  });
}

}  // namespace iotstream::api
