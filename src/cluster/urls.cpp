#include "cluster/cluster.h"

#include <libpq-fe.h>

#include <cctype>

namespace iotstream::cluster {
namespace {

bool StartsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

bool HostChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-'; }

}  // namespace

Status CheckDatabaseUrl(std::string_view url) {
  if (!StartsWith(url, "postgresql://") && !StartsWith(url, "postgres://")) {
    return Status::InvalidArgument("must be a postgresql://user:password@host:port/database URL");
  }
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(std::string(url).c_str(), &error);
  if (options == nullptr) {
    std::string why = error != nullptr ? error : "out of memory";
    PQfreemem(error);
    while (!why.empty() && why.back() == '\n') why.pop_back();
    return Status::InvalidArgument("is not a valid PostgreSQL URL: " + why);
  }
  PQconninfoFree(options);
  return Status::Ok();
}

Status CheckNodeId(std::string_view node_id) {
  if (node_id.empty() || node_id.size() > 64) return Status::InvalidArgument("must be 1-64 characters");
  for (char c : node_id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return Status::InvalidArgument("may hold only A-Z a-z 0-9 . _ -");
    }
  }
  return Status::Ok();
}

Result<Endpoint> ParseAdvertiseUrl(std::string_view url) {
  const auto bad = [url](const std::string& why) {
    return Status::InvalidArgument("'" + std::string(url) + "' " + why + " (want http://host:port)");
  };
  Endpoint e;
  if (StartsWith(url, "http://")) {
    url.remove_prefix(7);
    e.port = 80;
  } else if (StartsWith(url, "https://")) {
    url.remove_prefix(8);
    e.tls = true;
    e.port = 443;
  } else {
    return bad("is not an http:// or https:// URL");
  }
  if (!url.empty() && url.back() == '/') url.remove_suffix(1);
  std::string_view host = url;
  std::string_view port;
  if (StartsWith(url, "[")) {  // [IPv6]
    const size_t close = url.find(']');
    if (close == std::string_view::npos) return bad("has an unclosed [");
    host = url.substr(0, close + 1);
    for (char c : host.substr(1, host.size() - 2)) {
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return bad("has a bad IPv6 address");
    }
    const std::string_view rest = url.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return bad("has something after the host that is not a port");
    if (!rest.empty()) port = rest.substr(1);
  } else {
    const size_t colon = url.find(':');
    host = url.substr(0, colon);
    if (colon != std::string_view::npos) port = url.substr(colon + 1);
    for (char c : host) {
      if (!HostChar(c)) return bad("has a path, user or character a host name cannot hold");
    }
  }
  if (host.empty() || host == "[]") return bad("has no host");
  if (url.size() > host.size() && port.empty()) return bad("has an empty port");
  if (!port.empty()) {
    int n = 0;
    for (char c : port) {
      if (!std::isdigit(static_cast<unsigned char>(c)) || n > 65'535) return bad("has a port that is not 1-65535");
      n = n * 10 + (c - '0');
    }
    if (n < 1 || n > 65'535) return bad("has a port that is not 1-65535");
    e.port = n;
  }
  e.host = std::string(host);
  return e;
}

Status CheckAdvertiseUrl(std::string_view url) {
  auto e = ParseAdvertiseUrl(url);
  return e.ok() ? Status::Ok() : e.status();
}

}  // namespace iotstream::cluster
