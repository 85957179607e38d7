#include <cctype>

#include <nlohmann/json.hpp>

#include "http/http.h"

namespace iotstream::http {
namespace {

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    const size_t end = path.find('/', i);
    const size_t stop = end == std::string_view::npos ? path.size() : end;
    out.push_back(path.substr(i, stop - i));
    i = stop;
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string PercentDecode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%' && i + 2 < in.size()) {
      const int hi = HexValue(in[i + 1]);
      const int lo = HexValue(in[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && c == '+' ? ' ' : c);
  }
  return out;
}

std::string_view Request::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (IEquals(k, name)) return v;
  }
  return {};
}

std::optional<std::string> Request::query_param(std::string_view name) const {
  std::string_view q = query;
  while (!q.empty()) {
    const size_t amp = q.find('&');
    const std::string_view pair = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
    const size_t eq = pair.find('=');
    const std::string key = PercentDecode(pair.substr(0, eq), true);
    if (key != name) continue;
    return eq == std::string_view::npos ? std::string() : PercentDecode(pair.substr(eq + 1), true);
  }
  return std::nullopt;
}

std::string_view Request::param(std::string_view name) const {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return {};
}

Response Response::Json(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response Response::Error(int status, std::string_view message) {
  // Messages quote what clients sent (paths, ids), which need not be UTF-8: such bytes become U+FFFD rather than
  // make dump() throw on an I/O thread.
  return Json(status, nlohmann::json{{"error", message}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void Router::Add(Method method, std::string_view pattern, Handler handler) {
  Route route{method, std::string(pattern), {}, std::move(handler), nullptr};
  for (auto seg : SplitPath(pattern)) route.segments.emplace_back(seg);
  routes_.push_back(std::move(route));
}

void Router::AddTakeover(Method method, std::string_view pattern, TakeoverHandler handler) {
  Route route{method, std::string(pattern), {}, nullptr, std::move(handler)};
  for (auto seg : SplitPath(pattern)) route.segments.emplace_back(seg);
  routes_.push_back(std::move(route));
}

Router::Match Router::Find(Request* req) const {
  const auto segs = SplitPath(req->path);
  bool path_matched = false;
  for (const auto& route : routes_) {
    if (route.segments.size() != segs.size()) continue;
    Fields captures;
    bool ok = true;
    for (size_t i = 0; i < segs.size() && ok; ++i) {
      const auto& pat = route.segments[i];
      if (pat.size() > 2 && pat.front() == '{' && pat.back() == '}') {
        captures.emplace_back(pat.substr(1, pat.size() - 2), PercentDecode(segs[i], false));
      } else {
        ok = pat == segs[i];
      }
    }
    if (!ok) continue;
    path_matched = true;
    const bool head_as_get = req->method == Method::kHead && route.method == Method::kGet;
    if (route.method != req->method && !head_as_get) continue;
    req->params = std::move(captures);
    Match m;
    m.pattern = &route.pattern;
    if (route.takeover) {
      m.takeover = &route.takeover;
    } else {
      m.handler = &route.handler;
    }
    return m;
  }
  Match none;
  none.status = path_matched ? 405 : 404;
  return none;
}

std::optional<Response> Router::Admit(Request& req, const Match& match) const {
  if (!guard_ || match.pattern == nullptr) return std::nullopt;
  return guard_(req, *match.pattern);
}

std::optional<Upstream> Router::Forward(const Request& req, const Match& match) const {
  if (!forwarder_ || match.pattern == nullptr || !req.header(kForwardedByHeader).empty()) return std::nullopt;
  return forwarder_(req, *match.pattern);
}

}  // namespace iotstream::http
