#include "api/access.h"

#include <cctype>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/log.h"

namespace iotstream::api {
namespace {

using http::Method;
using http::Request;
using http::Response;
using auth::Role;

bool StartsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

bool IsLoopback(std::string_view address) { return StartsWith(address, "127.") || address == "::1"; }

bool ChangesState(Method m) { return m != Method::kGet && m != Method::kHead && m != Method::kOptions; }

bool IsWebSocket(std::string_view pattern) { return pattern == "/ws" || StartsWith(pattern, "/ws/"); }

// The value of the first cookie named `name` in a Cookie header; empty when absent.
std::string_view CookieValue(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const size_t semi = header.find(';');
    std::string_view pair = header.substr(0, semi);
    header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    const size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) return pair.substr(eq + 1);
  }
  return {};
}

}  // namespace

std::string_view RouteClassName(RouteClass c) {
  switch (c) {
    case RouteClass::kPublic: return "public";
    case RouteClass::kPage: return "page";
    case RouteClass::kLogin: return "login";
    case RouteClass::kSession: return "session";
    case RouteClass::kIngest: return "ingest";
    case RouteClass::kLive: return "live";
    case RouteClass::kFootage: return "footage";
    case RouteClass::kEvents: return "events";
    case RouteClass::kDevices: return "devices";
    case RouteClass::kRecognition: return "recognition";
    case RouteClass::kEnrolment: return "enrolment";
    case RouteClass::kAdmin: return "admin";
    case RouteClass::kMetrics: return "metrics";
  }
  return "admin";
}

RouteRule ClassifyRoute(Method method, std::string_view p) {
  const bool get = method == Method::kGet || method == Method::kHead;
  RouteRule r;
  if (p == "/health") {
    r.cls = RouteClass::kPublic;
  } else if (p == "/api/v1/stream/fast" || p == "/api/v1/stream/stream") {
    r.cls = RouteClass::kIngest;
  } else if (IsWebSocket(p) || p == "/api/v1/devices/{id}/mjpeg" || p == "/api/v1/devices/{id}/snapshot.jpg") {
    r.cls = RouteClass::kLive;
    r.token_in_query = get;
  } else if (p == "/api/v1/live/viewers") {
    r.cls = RouteClass::kLive;
  } else if (p == "/api/v1/devices/{id}/frames" || p == "/api/v1/frames/{frame_id}" ||
             p == "/api/v1/devices/{id}/frames/{frame_id}" ||
             StartsWith(p, "/api/v1/footage/")) {
    r.cls = RouteClass::kFootage;  // exports too: a viewer may take away what it may watch
  } else if (p == "/api/v1/devices" || p == "/api/v1/devices/{id}" || p == "/api/v1/cluster") {
    r.cls = RouteClass::kDevices;
    r.admin_only = !get;
  } else if (p == "/api/v1/events/{id}/feedback" || p == "/api/v1/events/{id}/enrol" ||
             p == "/api/v1/recognition/strangers/{id}/enrol") {
    r.cls = RouteClass::kEnrolment;  // teaches the gallery who someone is (or is not)
  } else if (StartsWith(p, "/api/v1/events")) {
    r.cls = RouteClass::kEvents;
  } else if (p == "/api/v1/recognition/add-permitted-face" || StartsWith(p, "/api/v1/recognition/permitted-faces/")) {
    r.cls = RouteClass::kEnrolment;
  } else if (p == "/api/v1/recognize" || StartsWith(p, "/api/v1/recognition/")) {
    r.cls = RouteClass::kRecognition;
  } else if (p == "/metrics" || p == "/api/v1/system/performance") {
    r.cls = RouteClass::kMetrics;
  } else if (p == "/api/v1/auth/login") {
    r.cls = RouteClass::kLogin;
  } else if (p == "/api/v1/auth/logout" || p == "/api/v1/auth/me") {
    r.cls = RouteClass::kSession;
  } else if (StartsWith(p, "/api/")) {
    r.cls = RouteClass::kAdmin;  // webhooks, accounts, tokens, audit, and anything added without a rule here
  } else if (p == "/" || p == "/index.html" || p == "/admin.html" || p == "/footage.html" || p == "/people.html" ||
             p == "/events.html" || p == "/system.html") {
    r.cls = RouteClass::kPage;
  } else {
    r.cls = RouteClass::kPublic;  // the dashboard's static files: the login page, scripts, styles
  }
  if (r.cls == RouteClass::kEnrolment || r.cls == RouteClass::kAdmin) r.admin_only = true;
  return r;
}

AccessControl::AccessControl(const AccessOptions& options, auth::AuthStore& auth, Metrics& metrics)
    : options_(options),
      auth_(auth),
      limiter_(options.limiter),
      rate_limited_(metrics.counter("auth_rate_limited_total",
                                    "requests refused with 429: their address failed to authenticate too often")),
      cross_origin_(metrics.counter("auth_cross_origin_refused_total",
                                    "cookie-bearing requests or WebSocket upgrades refused for a foreign Origin")),
      blocks_(metrics.counter("auth_address_blocks_total", "addresses blocked after repeated failed credentials")) {
  for (size_t i = 1; i < kRouteClasses; ++i) {  // public routes are never refused
    const std::string name(RouteClassName(static_cast<RouteClass>(i)));
    counters_[i].unauthorized = &metrics.counter(
        "auth_unauthorized_total", "requests refused with 401 (no or bad credential), by route class", {{"class", name}});
    counters_[i].forbidden = &metrics.counter(
        "auth_forbidden_total", "requests refused with 403 (role or Origin), by route class", {{"class", name}});
  }
}

http::Router::Guard AccessControl::Guard() {
  return [this](Request& req, std::string_view pattern) { return Decide(req, pattern, NowMs()); };
}

std::string AccessControl::SessionIdOf(const Request& req) {
  return std::string(CookieValue(req.header("Cookie"), kSessionCookie));
}

bool AccessControl::OriginAllowed(std::string_view origin, std::string_view host) const {
  for (const auto& allowed : options_.allowed_origins) {
    if (IEquals(origin, allowed)) return true;
  }
  const size_t scheme = origin.find("://");
  if (scheme == std::string_view::npos || host.empty()) return false;
  const std::string_view s = origin.substr(0, scheme);
  if (s != "http" && s != "https") return false;
  return IEquals(origin.substr(scheme + 3), host);
}

http::Response AccessControl::Refuse(int status, RouteClass cls, std::string message) {
  ClassCounters& c = counters_[static_cast<size_t>(cls)];
  (status == 401 ? c.unauthorized : c.forbidden)->Add();
  Response r = Response::Error(status, message);
  if (status == 401) r.headers.emplace_back("WWW-Authenticate", R"(Bearer realm="iotstream")");
  return r;
}

void AccessControl::OnLoginFailure(const std::string& address, int64_t now_ms) {
  counters_[static_cast<size_t>(RouteClass::kLogin)].unauthorized->Add();
  CountFailure(address, now_ms);
}

void AccessControl::CountFailure(const std::string& address, int64_t now_ms) {
  if (limiter_.RecordFailure(address, now_ms)) {
    blocks_.Add();
    IOT_LOG(kWarn) << "auth: " << address << " blocked after repeated failed logins or credentials";
  }
}

void AccessControl::OnLoginSuccess(const std::string& address) { limiter_.RecordSuccess(address); }

AccessControl::Credential AccessControl::CredentialOf(const Request& req, bool token_in_query) {
  Credential c;
  const std::string_view authorization = req.header("Authorization");
  if (authorization.size() > 7 && IEquals(authorization.substr(0, 7), "Bearer ")) {
    c.token = std::string(authorization.substr(7));
  }
  if (c.token.empty()) c.token = std::string(req.header("X-API-Key"));
  if (c.token.empty() && token_in_query) c.token = req.query_param("token").value_or("");
  if (c.token.empty()) c.session = SessionIdOf(req);
  return c;
}

std::optional<auth::Principal> AccessControl::Identify(const Request& req, int64_t now_ms) const {
  const Credential c = CredentialOf(req, false);
  if (!c.token.empty()) return auth_.AuthenticateToken(c.token);
  if (!c.session.empty()) return auth_.AuthenticateSession(c.session, now_ms);
  return std::nullopt;
}

std::optional<Response> AccessControl::Decide(Request& req, std::string_view pattern, int64_t now_ms) {
  const RouteRule rule = ClassifyRoute(req.method, pattern);
  const RouteClass cls = rule.cls;
  if (cls == RouteClass::kPublic) return std::nullopt;
  if (cls == RouteClass::kIngest && !options_.camera_auth) return std::nullopt;

  const std::string_view origin = req.header("Origin");
  if (cls == RouteClass::kLogin) {
    // A foreign page must not log the browser in to an account of its choosing.
    if (!origin.empty() && !OriginAllowed(origin, req.header("Host"))) {
      cross_origin_.Add();
      return Refuse(403, cls, "cross-origin login refused (Origin " + std::string(origin) + ")");
    }
  }

  if (req.query_param("token") && !rule.token_in_query) {
    return Refuse(401, cls, "?token= is accepted only on GET of MJPEG, snapshot and WebSocket URLs; "
                            "send 'Authorization: Bearer <token>'");
  }
  const Credential cred = CredentialOf(req, rule.token_in_query);
  const std::string& token = cred.token;
  const std::string& session = cred.session;
  const bool presented = !token.empty() || !session.empty();

  if (presented || cls == RouteClass::kLogin) {
    if (const int64_t wait = limiter_.RetryAfterS(req.remote_address, now_ms); wait > 0) {
      rate_limited_.Add();
      Response r = Response::Error(429, "too many failed attempts from " + req.remote_address + "; retry in " +
                                            std::to_string(wait) + " s");
      r.headers.emplace_back("Retry-After", std::to_string(wait));
      return r;
    }
  }
  if (cls == RouteClass::kLogin) return std::nullopt;

  // A dashboard page without a valid credential sends the browser to the login page (counted as a 401).
  auto to_login = [this, cls] {
    Response r;
    r.status = 302;
    r.content_type = "text/plain";
    r.headers.emplace_back("Location", "/login.html");
    counters_[static_cast<size_t>(cls)].unauthorized->Add();
    return r;
  };
  if (!presented) {
    if (cls == RouteClass::kMetrics && IsLoopback(req.remote_address)) return std::nullopt;
    if (cls == RouteClass::kPage) return to_login();
    return Refuse(401, cls, "authentication required: send 'Authorization: Bearer <token>' or log in");
  }

  std::optional<auth::Principal> who =
      token.empty() ? auth_.AuthenticateSession(session, now_ms) : auth_.AuthenticateToken(token);
  if (!who) {
    CountFailure(req.remote_address, now_ms);
    if (cls == RouteClass::kPage) return to_login();
    return Refuse(401, cls, token.empty() ? "the session has expired or ended; log in again"
                                          : "the token is unknown or revoked");
  }

  // A cookie travels with every request the browser makes, whichever page asked: state changes and WebSocket
  // upgrades with one must come from the dashboard's own origin (or an allowed one).
  if (token.empty() && (ChangesState(req.method) || IsWebSocket(pattern)) &&
      !OriginAllowed(origin, req.header("Host"))) {
    cross_origin_.Add();
    return Refuse(403, cls, origin.empty() ? std::string("a request with a session cookie must carry an Origin header")
                                           : "cross-origin request refused (Origin " + std::string(origin) + ")");
  }

  const Role role = who->role;
  bool allowed = false;
  switch (cls) {
    case RouteClass::kSession: allowed = true; break;
    case RouteClass::kIngest: allowed = role == Role::kAdmin || role == Role::kCamera; break;
    case RouteClass::kPage:
    case RouteClass::kLive:
    case RouteClass::kFootage:
    case RouteClass::kEvents:
    case RouteClass::kDevices:
    case RouteClass::kRecognition:
    case RouteClass::kMetrics: allowed = role == Role::kAdmin || (role == Role::kViewer && !rule.admin_only); break;
    default: allowed = role == Role::kAdmin; break;
  }
  if (!allowed) {
    return Refuse(403, cls, "role '" + std::string(auth::RoleName(role)) + "' may not use " + std::string(RouteClassName(cls)) +
                                " routes" + (rule.admin_only ? " that change things" : ""));
  }
  if (cls == RouteClass::kIngest && !who->device.empty()) {
    std::string device(req.header("X-Device-ID"));
    if (device.empty()) device = req.query_param("device_id").value_or("");
    if (device != who->device) {
      return Refuse(403, cls, "this token uploads only for device '" + who->device +
                                  "': send it in X-Device-ID or ?device_id=");
    }
  }
  req.principal = who->name;
  return std::nullopt;
}

}  // namespace iotstream::api
