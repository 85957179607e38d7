// Cross-origin resource sharing (the Fetch standard's CORS protocol) for the origins an operator allowed with
// --allowed-origin: a page served from one of them may read iotstream's answers (with credentials), and its
// preflight requests are answered. Any other origin gets no CORS header at all, so browsers keep its pages from
// reading anything; the server's own origin needs none.
//
// Thread-safety: pure functions of their arguments.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "http/http.h"

namespace iotstream::http {

// Whether `origin` (an Origin header) is one of `allowed`, compared as origins are: exactly, ASCII case aside.
bool CorsOriginAllowed(std::string_view origin, const std::vector<std::string>& allowed);

// Whether `req` is a CORS preflight: OPTIONS with an Origin and an Access-Control-Request-Method.
bool IsPreflight(const Request& req);

// The answer to a preflight: 204 with the Access-Control-Allow-* headers when its origin is allowed and the
// requested method has a route at req.path; 403 for an origin not allowed (without CORS headers), 404 or 405
// (with them) when no such route exists. Preflights carry no credentials, so no access check precedes this.
Response AnswerPreflight(const Request& req, const Router& router, const std::vector<std::string>& allowed);

// Adds the headers that let the page at `origin` read `response`. REQUIRES: CorsOriginAllowed(origin, ...).
void AddCorsHeaders(std::string_view origin, Response* response);

}  // namespace iotstream::http
