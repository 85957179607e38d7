// The HTTP layer's public surface: requests, responses, a router and a Beast/Asio server.
//
// This layer knows nothing of frames or devices: it reads one bounded request at a time per connection,
// hands it to a route's handler, and writes whatever Response the handler sends back, possibly later and
// from another thread (a handler that waits on the disk must not hold an I/O thread).
//
// With a TlsContext in its options a server speaks HTTPS (and WSS) only, on the same port; routes and handlers
// are the same either way.
//
// Error model: the server answers protocol-level problems itself with JSON errors (400 malformed request,
// 400 plain HTTP on an HTTPS port, 404 unknown path, 405 wrong method, 413 body too large, 431 header too
// large, 503 too many connections) and counts each in metrics. Handlers never throw; they send a Response.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/metrics.h"
#include "core/status.h"

namespace iotstream::http {

enum class Method { kGet, kHead, kPost, kPut, kPatch, kDelete, kOptions, kOther };

using Fields = std::vector<std::pair<std::string, std::string>>;

// One request, owned by the handler it is given to. Not thread-safe; move it where it is needed.
struct Request {
  Method method = Method::kOther;
  std::string target;            // as sent: path plus optional "?query"
  std::string path;              // path as sent (still percent-encoded), without the query
  std::string query;             // raw query string, without '?'
  Fields headers;                // in arrival order, names as sent
  Fields params;                 // route captures, e.g. {"id", "cam1"} for /devices/{id}; percent-decoded
  std::string body;              // whole body (bounded by ServerOptions::max_body_bytes)
  std::string remote_address;    // client IP, textual (IPv4-mapped IPv6 is shown as IPv4): the peer's, or behind a
                                 // trusted proxy the one it forwarded (ServerOptions::trusted_proxies)
  std::string principal;         // who asks, as the router's guard established it (for logs); empty without one

  // Case-insensitive header lookup; empty when absent.
  std::string_view header(std::string_view name) const;
  // First query parameter `name`, percent- and '+'-decoded; nullopt when absent.
  std::optional<std::string> query_param(std::string_view name) const;
  // Route capture `name`; empty when the route has none of that name.
  std::string_view param(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  Fields headers;  // extra headers, e.g. Retry-After, ETag

  // `body` must already be JSON.
  static Response Json(int status, std::string body);
  // {"error": message} with `status`.
  static Response Error(int status, std::string_view message);
};

namespace detail {
class Exchange;
}

// The one-shot way to answer a request. Copyable handle, thread-safe: Send() may be called from any
// thread, exactly once; later calls are ignored. If every copy is destroyed unsent, the client gets
// 500 {"error":"request was not answered"} rather than a hung connection.
class Responder {
 public:
  explicit Responder(std::shared_ptr<detail::Exchange> exchange) : exchange_(std::move(exchange)) {}
  void Send(Response response) const;

 private:
  std::shared_ptr<detail::Exchange> exchange_;
};

// Runs on an I/O thread: it must not block. Hand slow work to another thread and Send() from there.
using Handler = std::function<void(Request&&, Responder)>;

// A connection taken over by a route (WebSocket upgrade, MJPEG stream): defined in http/connection.h, which
// exposes the Beast stream (TCP or TLS); only subsystems that speak a protocol over the socket include it.
class Connection;
// Runs on the connection's I/O thread, which then owns the socket; the HTTP session ends. Must not block.
using TakeoverHandler = std::function<void(Request&&, std::unique_ptr<Connection>)>;

// Another server that answers a request in this one's place, e.g. the cluster node that holds the camera a request
// is about. The server relays the request to it (adding X-Forwarded-For and kForwardedByHeader) and its answer back,
// byte for byte, for as long as either side keeps the exchange open (a WebSocket, an MJPEG stream).
struct Upstream {
  std::string host;   // a name or an IP address (IPv6 without brackets), plain HTTP
  std::string port;
  std::string via;    // who forwards (this node's id): the value of kForwardedByHeader
  std::string label;  // how logs and the 502 answer name the upstream, e.g. "node n2 (http://10.0.0.2:9003)"
};

// Marks a forwarded request: a request carrying it is never forwarded again (two servers that each believe the
// other should answer do not bounce a request between them).
inline constexpr std::string_view kForwardedByHeader = "X-Iotstream-Forwarded-By";

// Maps (method, path pattern) to handlers. Patterns are literal segments and "{name}" captures of one
// segment each, e.g. "/api/v1/devices/{id}/frames". Not thread-safe while routes are added; immutable
// and shareable once handed to a Server.
class Router {
 public:
  void Add(Method method, std::string_view pattern, Handler handler);
  void AddTakeover(Method method, std::string_view pattern, TakeoverHandler handler);

  // Decides whether a matched route may run (access control): nullopt lets it, a Response refuses it (that is the
  // answer; the route never sees the request). `pattern` is the matched route's pattern as given to Add. It may set
  // req.principal. Runs on an I/O thread before every matched route, takeovers included: it must not block.
  using Guard = std::function<std::optional<Response>(Request& req, std::string_view pattern)>;
  void SetGuard(Guard guard) { guard_ = std::move(guard); }

  // Decides whether another server answers a matched, admitted request instead of its route: nullopt lets the route
  // run here. Never asked for a request that carries kForwardedByHeader. Runs on an I/O thread after the guard, before
  // every matched route, takeovers included: it must not block. The server answers 502 when the upstream cannot be
  // reached within 3 s, and counts every forward and every failure in metrics.
  using Forwarder = std::function<std::optional<Upstream>(const Request& req, std::string_view pattern)>;
  void SetForwarder(Forwarder forwarder) { forwarder_ = std::move(forwarder); }

  struct Match {
    const Handler* handler = nullptr;        // exactly one of these is set on a match
    const TakeoverHandler* takeover = nullptr;
    const std::string* pattern = nullptr;    // the matched route's pattern
    int status = 0;                          // on no match: 404 (no such path) or 405 (other method)
  };
  // Fills req->params on a match.
  Match Find(Request* req) const;
  // The guard's answer for a request Find matched; nullopt (let it run) without a guard.
  std::optional<Response> Admit(Request& req, const Match& match) const;
  // The forwarder's answer for a request Find matched and Admit let through; nullopt without a forwarder or when
  // the request was forwarded already.
  std::optional<Upstream> Forward(const Request& req, const Match& match) const;

 private:
  struct Route {
    Method method;
    std::string pattern;
    std::vector<std::string> segments;  // "{name}" for a capture
    Handler handler;
    TakeoverHandler takeover;
  };
  std::vector<Route> routes_;
  Guard guard_;
  Forwarder forwarder_;
};

// A server certificate and its private key, loaded for HTTPS and WSS (OpenSSL): TLS 1.2 and 1.3 only, OpenSSL's
// default cipher suites, no compression, no renegotiation. Immutable once loaded, so thread-safe: one may serve
// several servers.
class TlsContext {
 public:
  // Loads PEM files: `cert_file` holds the server's certificate, then any intermediates; `key_file` its private
  // key, unencrypted. InvalidArgument naming the file and the reason when one cannot be read or parsed, or when
  // the key is not the certificate's.
  static Result<std::shared_ptr<const TlsContext>> Load(const std::string& cert_file, const std::string& key_file);
  virtual ~TlsContext() = default;
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // SHA-256 of the server certificate (DER) as upper-case hex pairs joined by ':': what a client pins.
  virtual const std::string& fingerprint() const = 0;

 protected:
  TlsContext() = default;
};

// The files of a self-signed certificate kept in a folder (iotstream --tls-self-signed).
struct SelfSignedFiles {
  std::string cert_file;  // <dir>/tls-cert.pem
  std::string key_file;   // <dir>/tls-key.pem, mode 0600
  bool created = false;   // true: made by this call; false: found and reused
};

// Reuses the certificate and key in `dir` when both are there and the certificate has not expired; otherwise
// makes an EC P-256 key and a self-signed X.509 v3 certificate, valid for 730 days, for localhost, 127.0.0.1, ::1
// and `host_name` (left out when it is not a DNS name), and writes both (the key with mode 0600; each file
// written whole, then renamed into place). Creates `dir` if needed. Does not check that a reused pair loads:
// TlsContext::Load does. IOError when a file cannot be written; Internal when OpenSSL fails. Not for two
// processes on one folder at once: the files on disk may then mix their pairs (TlsContext::Load says so).
Result<SelfSignedFiles> EnsureSelfSignedCertificate(const std::string& dir, const std::string& host_name);

struct ServerOptions {
  std::string bind_address = "0.0.0.0";
  uint16_t port = 9003;                                     // 0 picks a free port; see Server::port()
  int io_threads = 0;                                       // 0: one per hardware thread
  size_t max_body_bytes = 2 * 1024 * 1024;                  // larger bodies: 413
  size_t max_header_bytes = 16 * 1024;                      // larger request heads: 431
  std::chrono::milliseconds read_timeout{10'000};           // a request must arrive whole within this; also idle keep-alive limit
  std::chrono::milliseconds write_timeout{10'000};          // a client that does not read its answer is closed
  size_t max_connections = 10'000;                          // more are answered 503 and closed
  std::string name = "http";                                // metric label prefix and log tag, e.g. "main"
  std::shared_ptr<const TlsContext> tls;                    // set: HTTPS and WSS only; null: plain HTTP
  std::chrono::milliseconds tls_handshake_timeout{10'000};  // a client must finish its TLS handshake within this
  std::vector<std::string> cors_origins;                    // foreign origins whose pages may read answers (http/cors.h)
  // Load balancers in front (their IPs, as Request::remote_address shows them): a request from one of them is taken
  // as from the last address of its X-Forwarded-For (the one the balancer appended), when that is an IP address.
  std::vector<std::string> trusted_proxies;
};

// A listening HTTP/1.1 server with its own pool of I/O threads. Thread-safe.
class Server {
 public:
  // Binds and starts serving. Returns IOError if the address cannot be bound.
  static Result<std::unique_ptr<Server>> Start(const ServerOptions& options, Router router, Metrics& metrics);
  virtual ~Server() = default;
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  virtual uint16_t port() const = 0;
  virtual size_t open_connections() const = 0;
  // Stops accepting, lets answers in flight be written for up to `grace`, then closes every connection
  // and joins the I/O threads. Idempotent. REQUIRES: not called from an I/O thread of this server.
  virtual void Stop(std::chrono::milliseconds grace) = 0;

 protected:
  Server() = default;
};

// Percent-decodes `in` ('+' becomes a space when `plus_is_space`). Malformed escapes are kept literally.
std::string PercentDecode(std::string_view in, bool plus_is_space);

}  // namespace iotstream::http
