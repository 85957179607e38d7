// The access-control API (main port):
//
//   POST   /api/v1/auth/login              {"username", "password"} -> 200 {"user","role"} + the session cookie
//   POST   /api/v1/auth/logout             ends the session, clears the cookie
//   GET    /api/v1/auth/me                 {"auth_enabled", "name", "role"}
//   GET    /api/v1/auth/users              admin: {"users":[{"name","role","created_ms"}], "count"}
//   POST   /api/v1/auth/users              admin: {"name","password","role"} -> 201
//   PATCH  /api/v1/auth/users/{name}       admin: {"password"} -> 200 (ends that user's sessions)
//   DELETE /api/v1/auth/users/{name}       admin
//   GET    /api/v1/auth/tokens             admin: {"tokens":[{"id","name","role","device","prefix",...}], "count"}
//   POST   /api/v1/auth/tokens             admin: {"name","role","device"?} -> 201 with "token", shown this once
//   DELETE /api/v1/auth/tokens/{id}        admin: revoke (id or name)
//   GET    /api/v1/audit                   admin: ?before_id=&limit= -> {"records":[...], "count"}, newest first
//
// Password hashing and auth.db work run on the auth pool (bounded; a full queue answers 503 with Retry-After).
// Lifetime: everything referenced outlives the server the routes are given to.
#pragma once

#include "api/access.h"
#include "api/audit.h"
#include "auth/auth.h"
#include "core/work_pool.h"
#include "http/http.h"

namespace iotstream::api {

struct AuthApiContext {
  auth::AuthStore& store;
  AccessControl* access;  // null with --auth off: logins are not rate-limited (nothing needs them)
  WorkPool& pool;         // the auth pool
  AuditTrail& audit;
  bool secure_cookies = false;  // TLS is on: the session cookie gets Secure (browsers send it over HTTPS only)
};

void AddAuthRoutes(http::Router& router, AuthApiContext& ctx);

}  // namespace iotstream::api
