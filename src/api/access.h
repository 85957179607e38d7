// Access control as the API enforces it: every route belongs to a class (ingest, live, footage, ...), each class
// needs a role, and a guard on the router checks the request's credential before the route runs. The decisions
// about credentials (what a token or session is worth) come from auth::AuthStore.
//
// Credentials, in this order: `Authorization: Bearer <token>`, `X-API-Key: <token>`, `?token=<token>` (only on GET
// of MJPEG, snapshot and WebSocket URLs), the `iotstream_session` cookie. Answers: 401 without a credential or with
// a wrong one, 403 for a role that may not, 403 for a cookie-bearing state-changing request or WebSocket upgrade from
// a foreign Origin, 429 with Retry-After for an address that failed too often; each counted per class in metrics.
//
// Thread-safety: thread-safe; the guard runs on I/O threads and never blocks (memory lookups only).
// Lifetime: `auth` and `metrics` must outlive the AccessControl, which must outlive every router it guards.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/auth.h"
#include "auth/limiter.h"
#include "core/metrics.h"
#include "http/http.h"

namespace iotstream::api {

enum class RouteClass {
  kPublic,       // /health, the login page and the dashboard's scripts and styles
  kPage,         // the dashboard's HTML pages: without a session, a redirect to the login page
  kLogin,        // POST /api/v1/auth/login: open, but rate-limited and Origin-checked
  kSession,      // logout and "who am I": any valid credential
  kIngest,       // camera uploads: open unless --camera-auth, then camera (bound device) or admin
  kLive,         // WebSocket, MJPEG, snapshots, viewer list: viewer
  kFootage,      // stored frames: viewer
  kEvents,       // the event log: viewer
  kDevices,      // device list and details: viewer; changes and deletion: admin
  kRecognition,  // recognise an image, list permitted people: viewer
  kEnrolment,    // enrol, delete faces and people, feedback: admin
  kAdmin,        // accounts, tokens, audit, webhooks, and any route not classified (fail closed): admin
  kMetrics,      // /metrics and /api/v1/system/performance: viewer, or anyone on loopback
};
inline constexpr size_t kRouteClasses = 13;

// "ingest", "live", ...: the name used in metrics and docs.
std::string_view RouteClassName(RouteClass c);

// The class of the route with `pattern` for `method`, and whether that route needs an admin (a write in a class that
// is otherwise read-only for viewers).
struct RouteRule {
  RouteClass cls = RouteClass::kAdmin;
  bool admin_only = false;
  bool token_in_query = false;  // ?token= accepted (GET of MJPEG, snapshot, WebSocket)
};
RouteRule ClassifyRoute(http::Method method, std::string_view pattern);

struct AccessOptions {
  bool enabled = true;                       // --auth on|off
  bool camera_auth = false;                  // --camera-auth: uploads need a camera or admin token
  std::vector<std::string> allowed_origins;  // --allowed-origin: more origins than the server's own
  auth::LimiterOptions limiter;              // failures per address before 429
};

// The name of the dashboard's session cookie.
inline constexpr std::string_view kSessionCookie = "iotstream_session";

class AccessControl {
 public:
  AccessControl(const AccessOptions& options, auth::AuthStore& auth, Metrics& metrics);
  AccessControl(const AccessControl&) = delete;
  AccessControl& operator=(const AccessControl&) = delete;

  // The guard to install on a router (http::Router::SetGuard). REQUIRES: options.enabled.
  http::Router::Guard Guard();

  // The guard's decision for `req` on the route with `pattern`: nullopt lets it run (with req->principal set).
  std::optional<http::Response> Decide(http::Request& req, std::string_view pattern, int64_t now_ms);

  // A failed login from `address`: counted towards its limit.
  void OnLoginFailure(const std::string& address, int64_t now_ms);
  void OnLoginSuccess(const std::string& address);

  // Who presents the request's credential (the same one the guard checks); nullopt without a valid one.
  std::optional<auth::Principal> Identify(const http::Request& req, int64_t now_ms) const;

  // The session id in the request's cookie; empty when none.
  static std::string SessionIdOf(const http::Request& req);
  // Whether `origin` (an Origin header) is the server's own (same host:port as `host`, the Host header) or allowed.
  bool OriginAllowed(std::string_view origin, std::string_view host) const;

 private:
  struct ClassCounters {
    Counter* unauthorized = nullptr;  // 401
    Counter* forbidden = nullptr;     // 403
  };
  struct Credential {
    std::string token;    // from Authorization: Bearer, X-API-Key or ?token= (where the route allows it)
    std::string session;  // from the cookie, when no token was sent
  };
  static Credential CredentialOf(const http::Request& req, bool token_in_query);
  http::Response Refuse(int status, RouteClass cls, std::string message);
  void CountFailure(const std::string& address, int64_t now_ms);  // towards the address's limit

  const AccessOptions options_;
  auth::AuthStore& auth_;
  auth::FailureLimiter limiter_;
  std::array<ClassCounters, kRouteClasses> counters_;
  Counter& rate_limited_;
  Counter& cross_origin_;
  Counter& blocks_;
};

}  // namespace iotstream::api
