#include "api/auth_api.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "api/respond.h"
#include "core/clock.h"
#include "core/parse.h"

namespace iotstream::api {
namespace {

using http::Method;
using http::Request;
using http::Responder;
using http::Response;
using nlohmann::json;

// Runs `work` on the auth pool; 503 with Retry-After now when its queue is full.
void OnAuthPool(AuthApiContext* c, const Responder& s, std::function<void()> work) {
  if (!c->pool.Submit(std::move(work))) s.Send(ErrorOf(Status::Unavailable("too many account operations in flight")));
}

// The JSON object in the body, or nullopt after answering 400.
std::optional<json> BodyObject(const Request& req, const Responder& s, std::string_view example) {
  json body = json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    s.Send(Response::Error(400, "body must be a JSON object like " + std::string(example)));
    return std::nullopt;
  }
  return body;
}

// body[key] as a string; "" when absent; nullopt after answering 400 when it is not a string.
std::optional<std::string> StringField(const json& body, const char* key, const Responder& s) {
  if (!body.contains(key) || body[key].is_null()) return std::string();
  if (!body[key].is_string()) {
    s.Send(Response::Error(400, std::string("'") + key + "' must be a string"));
    return std::nullopt;
  }
  return body[key].get<std::string>();
}

std::string SessionCookie(const std::string& value, int64_t max_age_s, bool secure) {
  return std::string(kSessionCookie) + "=" + value + "; Path=/; HttpOnly; SameSite=Strict; " +
         (secure ? "Secure; " : "") + "Max-Age=" + std::to_string(max_age_s);
}

void AddSessionRoutes(http::Router& router, AuthApiContext* c) {
  router.Add(Method::kPost, "/api/v1/auth/login", [c](Request&& req, Responder s) {
    auto body = BodyObject(req, s, R"({"username": "admin", "password": "..."})");
    if (!body) return;
    auto name = StringField(*body, "username", s);
    if (!name) return;
    auto password = StringField(*body, "password", s);
    if (!password) return;
    if (name->empty() || name->size() > 64 || password->empty() || password->size() > 256) {
      return s.Send(Response::Error(400, "give 'username' (1-64 characters) and 'password' (1-256 bytes)"));
    }
    const std::string address = req.remote_address;
    OnAuthPool(c, s, [c, s, name = *name, password = *password, address] {
      auto who = c->store.CheckPassword(name, password);
      if (!who.ok()) return s.Send(ErrorOf(who.status()));
      const int64_t now = NowMs();
      if (!who.value()) {
        if (c->access != nullptr) c->access->OnLoginFailure(address, now);
        c->audit.RecordNow({name, address}, "login_failed", "wrong user name or password");
        return s.Send(Response::Error(401, "wrong user name or password"));
      }
      if (c->access != nullptr) c->access->OnLoginSuccess(address);
      const auth::Principal& p = *who.value();
      auto session = c->store.CreateSession(p, now);
      if (!session.ok()) return s.Send(ErrorOf(session.status()));
      c->audit.RecordNow({p.name, address}, "login", "");
      Response res = Response::Json(200, json{{"user", name}, {"role", auth::RoleName(p.role)}}.dump());
      const int64_t max_age_s = (session.value().expires_ms - now) / 1000;
      res.headers.emplace_back("Set-Cookie", SessionCookie(session.value().id, max_age_s, c->secure_cookies));
      res.headers.emplace_back("Cache-Control", "no-store");
      s.Send(std::move(res));
    });
  });

  router.Add(Method::kPost, "/api/v1/auth/logout", [c](Request&& req, Responder s) {
    const std::string session = AccessControl::SessionIdOf(req);
    const AuditTrail::Who who = AuditTrail::Of(req);
    OnAuthPool(c, s, [c, s, session, who] {
      if (!session.empty()) {
        if (Status st = c->store.EndSession(session); !st.ok()) return s.Send(ErrorOf(st));
      }
      c->audit.RecordNow(who, "logout", "");
      Response res = Response::Json(200, R"({"success":true})");
      res.headers.emplace_back("Set-Cookie", SessionCookie("", 0, c->secure_cookies));
      s.Send(std::move(res));
    });
  });

  router.Add(Method::kGet, "/api/v1/auth/me", [c](Request&& req, Responder s) {
    if (c->access == nullptr) {
      return s.Send(Response::Json(200, json{{"auth_enabled", false}, {"name", nullptr}, {"role", "admin"}}.dump()));
    }
    const std::optional<auth::Principal> p = c->access->Identify(req, NowMs());
    json role = p ? json(auth::RoleName(p->role)) : json(nullptr);
    s.Send(Response::Json(200, json{{"auth_enabled", true}, {"name", req.principal}, {"role", role}}.dump()));
  });
}

void AddUserRoutes(http::Router& router, AuthApiContext* c) {
  router.Add(Method::kGet, "/api/v1/auth/users", [c](Request&&, Responder s) {
    OnAuthPool(c, s, [c, s] {
      auto users = c->store.ListUsers();
      if (!users.ok()) return s.Send(ErrorOf(users.status()));
      json list = json::array();
      for (const auto& u : users.value()) {
        list.push_back({{"name", u.name}, {"role", auth::RoleName(u.role)}, {"created_ms", u.created_ms}});
      }
      const size_t count = list.size();
      s.Send(Response::Json(200, json{{"users", std::move(list)}, {"count", count}}.dump()));
    });
  });

  router.Add(Method::kPost, "/api/v1/auth/users", [c](Request&& req, Responder s) {
    auto body = BodyObject(req, s, R"({"name": "alice", "password": "...", "role": "viewer"})");
    if (!body) return;
    auto name = StringField(*body, "name", s);
    if (!name) return;
    auto password = StringField(*body, "password", s);
    if (!password) return;
    auto role_name = StringField(*body, "role", s);
    if (!role_name) return;
    const auto role = role_name->empty() ? std::optional(auth::Role::kViewer) : auth::ParseRole(*role_name);
    if (!role) return s.Send(Response::Error(400, "'role' must be 'admin' or 'viewer'"));
    OnAuthPool(c, s, [c, s, who = AuditTrail::Of(req), name = *name, password = *password, role = *role] {
      if (Status st = c->store.AddUser(name, password, role); !st.ok()) return s.Send(ErrorOf(st));
      c->audit.RecordNow(who, "user_add", name + " (" + std::string(auth::RoleName(role)) + ")");
      s.Send(Response::Json(201, json{{"name", name}, {"role", auth::RoleName(role)}}.dump()));
    });
  });

  router.Add(Method::kPatch, "/api/v1/auth/users/{name}", [c](Request&& req, Responder s) {
    auto body = BodyObject(req, s, R"({"password": "..."})");
    if (!body) return;
    auto password = StringField(*body, "password", s);
    if (!password) return;
    OnAuthPool(c, s, [c, s, who = AuditTrail::Of(req), name = std::string(req.param("name")), password = *password] {
      if (Status st = c->store.SetPassword(name, password); !st.ok()) return s.Send(ErrorOf(st));
      c->audit.RecordNow(who, "user_passwd", name);
      s.Send(Response::Json(200, json{{"success", true}, {"name", name}}.dump()));
    });
  });

  router.Add(Method::kDelete, "/api/v1/auth/users/{name}", [c](Request&& req, Responder s) {
    OnAuthPool(c, s, [c, s, who = AuditTrail::Of(req), name = std::string(req.param("name"))] {
      if (Status st = c->store.RemoveUser(name); !st.ok()) return s.Send(ErrorOf(st));
      c->audit.RecordNow(who, "user_remove", name);
      s.Send(Response::Json(200, json{{"success", true}, {"name", name}}.dump()));
    });
  });
}

void AddTokenRoutes(http::Router& router, AuthApiContext* c) {
  router.Add(Method::kGet, "/api/v1/auth/tokens", [c](Request&&, Responder s) {
    OnAuthPool(c, s, [c, s] {
      auto tokens = c->store.ListTokens();
      if (!tokens.ok()) return s.Send(ErrorOf(tokens.status()));
      json list = json::array();
      for (const auto& t : tokens.value()) {
        list.push_back({{"id", t.id},
                        {"name", t.name},
                        {"role", auth::RoleName(t.role)},
                        {"device", t.device.empty() ? json(nullptr) : json(t.device)},
                        {"prefix", t.prefix},
                        {"created_ms", t.created_ms},
                        {"created_by", t.created_by}});
      }
      const size_t count = list.size();
      s.Send(Response::Json(200, json{{"tokens", std::move(list)}, {"count", count}}.dump()));
    });
  });

  router.Add(Method::kPost, "/api/v1/auth/tokens", [c](Request&& req, Responder s) {
    auto body = BodyObject(req, s, R"({"name": "phone", "role": "viewer"})");
    if (!body) return;
    auto name = StringField(*body, "name", s);
    if (!name) return;
    auto role_name = StringField(*body, "role", s);
    if (!role_name) return;
    auto device = StringField(*body, "device", s);
    if (!device) return;
    const auto role = auth::ParseRole(*role_name);
    if (!role) return s.Send(Response::Error(400, "'role' must be 'admin', 'viewer' or 'camera'"));
    OnAuthPool(c, s, [c, s, who = AuditTrail::Of(req), name = *name, role = *role, device = *device] {
      auto token = c->store.CreateToken(name, role, device, who.actor);
      if (!token.ok()) return s.Send(ErrorOf(token.status()));
      c->audit.RecordNow(who, "token_create",
                         name + " (" + std::string(auth::RoleName(role)) + (device.empty() ? "" : ", " + device) + ")");
      s.Send(Response::Json(201, json{{"name", name},
                                      {"role", auth::RoleName(role)},
                                      {"device", device.empty() ? json(nullptr) : json(device)},
                                      {"token", token.value()}}
                                     .dump()));
    });
  });

  router.Add(Method::kDelete, "/api/v1/auth/tokens/{id}", [c](Request&& req, Responder s) {
    OnAuthPool(c, s, [c, s, who = AuditTrail::Of(req), id = std::string(req.param("id"))] {
      if (Status st = c->store.RevokeToken(id); !st.ok()) return s.Send(ErrorOf(st));
      c->audit.RecordNow(who, "token_revoke", id);
      s.Send(Response::Json(200, json{{"success", true}, {"revoked", id}}.dump()));
    });
  });

  router.Add(Method::kGet, "/api/v1/audit", [c](Request&& req, Responder s) {
    int64_t before = 0;
    int64_t limit = 100;
    for (auto [key, out] : {std::pair{"before_id", &before}, std::pair{"limit", &limit}}) {
      auto text = req.query_param(key);
      if (!text) continue;
      auto v = ParseInt(*text);
      if (!v || *v < 0) return s.Send(Response::Error(400, std::string("'") + key + "' must be a non-negative integer"));
      *out = *v;
    }
    limit = std::clamp<int64_t>(limit, 1, 1000);
    OnAuthPool(c, s, [c, s, before, limit] {
      auto records = c->store.ListAudit(before, static_cast<size_t>(limit));
      if (!records.ok()) return s.Send(ErrorOf(records.status()));
      json list = json::array();
      for (const auto& r : records.value()) {
        list.push_back({{"id", r.id},
                        {"ts_ms", r.ts_ms},
                        {"actor", r.actor},
                        {"address", r.address},
                        {"action", r.action},
                        {"detail", r.detail}});
      }
      const size_t count = list.size();
      s.Send(Response::Json(200, json{{"records", std::move(list)}, {"count", count}}.dump()));
    });
  });
}

}  // namespace

void AddAuthRoutes(http::Router& router, AuthApiContext& ctx) {
  AddSessionRoutes(router, &ctx);
  AddUserRoutes(router, &ctx);
  AddTokenRoutes(router, &ctx);
}

}  // namespace iotstream::api
