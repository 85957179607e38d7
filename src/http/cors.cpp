#include "http/cors.h"

#include <algorithm>
#include <cctype>
#include <optional>

namespace iotstream::http {

namespace {

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](unsigned char x, unsigned char y) {
           return std::tolower(x) == std::tolower(y);
         });
}

std::optional<Method> MethodOf(std::string_view name) {
  static constexpr std::pair<std::string_view, Method> kMethods[] = {
      {"GET", Method::kGet},     {"HEAD", Method::kHead},   {"POST", Method::kPost},
      {"PUT", Method::kPut},     {"PATCH", Method::kPatch}, {"DELETE", Method::kDelete},
  };
  for (const auto& [text, method] : kMethods) {
    if (name == text) return method;
  }
  return std::nullopt;
}

}  // namespace

bool CorsOriginAllowed(std::string_view origin, const std::vector<std::string>& allowed) {
  if (origin.empty()) return false;
  return std::any_of(allowed.begin(), allowed.end(), [origin](const std::string& a) { return IEquals(origin, a); });
}

bool IsPreflight(const Request& req) {
  return req.method == Method::kOptions && !req.header("Origin").empty() &&
         !req.header("Access-Control-Request-Method").empty();
}

void AddCorsHeaders(std::string_view origin, Response* response) {
  response->headers.emplace_back("Access-Control-Allow-Origin", std::string(origin));
  response->headers.emplace_back("Access-Control-Allow-Credentials", "true");
  response->headers.emplace_back("Access-Control-Expose-Headers", "Retry-After, WWW-Authenticate");
  response->headers.emplace_back("Vary", "Origin");
}

Response AnswerPreflight(const Request& req, const Router& router, const std::vector<std::string>& allowed) {
  const std::string_view origin = req.header("Origin");
  if (!CorsOriginAllowed(origin, allowed)) {
    Response r = Response::Error(403, "cross-origin requests from " + std::string(origin) +
                                          " are not allowed (start the server with --allowed-origin " +
                                          std::string(origin) + " to allow them)");
    r.headers.emplace_back("Vary", "Origin");
    return r;
  }
  const std::string_view requested = req.header("Access-Control-Request-Method");
  const std::optional<Method> method = MethodOf(requested);
  Response r;
  if (!method) {
    r = Response::Error(405, "method " + std::string(requested) + " is not served");
  } else {
    Request probe;
    probe.method = *method;
    probe.path = req.path;
    const Router::Match match = router.Find(&probe);
    if (match.pattern == nullptr) {
      r = Response::Error(match.status, match.status == 404 ? "no such path: " + req.path
                                                            : std::string(requested) + " is not allowed on " + req.path);
    } else {
      r.status = 204;
      r.content_type = "text/plain";
      r.headers.emplace_back("Access-Control-Allow-Methods", std::string(requested));
      if (const std::string_view headers = req.header("Access-Control-Request-Headers"); !headers.empty()) {
        r.headers.emplace_back("Access-Control-Allow-Headers", std::string(headers));
      }
      r.headers.emplace_back("Access-Control-Max-Age", "600");
    }
  }
  AddCorsHeaders(origin, &r);
  return r;
}

}  // namespace iotstream::http
