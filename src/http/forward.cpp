// A forwarded exchange: the client's connection, a connection to the upstream, and one buffer per direction.
//
// Each direction reads into its own buffer and writes it whole before reading again, so memory stays at two
// buffers however fast one side sends and however slowly the other reads: a slow viewer slows the upstream's
// writes to this relay, and the upstream's own viewer session decides what to skip, as it does for any viewer.
#include "http/forward.h"

#include <array>
#include <memory>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "core/log.h"

namespace iotstream::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kConnectTimeout = std::chrono::seconds(3);
constexpr size_t kRelayBufferBytes = 64 * 1024;

template <class Stream>
class Relay final : public std::enable_shared_from_this<Relay<Stream>> {
 public:
  Relay(Stream client, beast::flat_buffer leftover, std::string head, Upstream to, bool upgrade,
        ForwardCounters counters)
      : client_(std::move(client)),
        upstream_(client_.get_executor()),
        resolver_(client_.get_executor()),
        head_(std::move(head)),
        to_(std::move(to)),
        upgrade_(upgrade),
        counters_(counters) {
    // Bytes the client sent past its request belong to a WebSocket's first frames; for one exchange they would be
    // a next request, which goes to whichever server the client's next connection reaches.
    if (upgrade_) head_.append(beast::buffers_to_string(leftover.data()));
  }

  void Run() {
    upstream_.expires_after(kConnectTimeout);
    resolver_.async_resolve(to_.host, to_.port,
                            [self = this->shared_from_this()](beast::error_code ec, tcp::resolver::results_type r) {
                              if (ec) return self->Unreachable("cannot resolve " + self->to_.host + ": " + ec.message());
                              self->upstream_.async_connect(r, [self](beast::error_code c_ec, const tcp::endpoint&) {
                                self->OnConnect(c_ec);
                              });
                            });
  }

 private:
  using Executor = typename Stream::executor_type;
  using Resolver = asio::ip::basic_resolver<tcp, Executor>;

  void OnConnect(beast::error_code ec) {
    if (ec == beast::error::timeout) return Unreachable("no connection within 3 s");
    if (ec) return Unreachable(ec.message());
    upstream_.expires_never();
    counters_.forwarded.Add();
    beast::error_code ignored;
    upstream_.socket().set_option(tcp::no_delay(true), ignored);
    asio::async_write(upstream_, asio::buffer(head_), [self = this->shared_from_this()](beast::error_code w_ec, size_t) {
      if (w_ec) return self->Finish();
      self->head_.clear();
      self->head_.shrink_to_fit();
      self->ReadUpstream();
      self->ReadClient();
    });
  }

  // upstream -> client, until the upstream ends its answer (or the client goes away).
  void ReadUpstream() {
    upstream_.async_read_some(asio::buffer(down_), [self = this->shared_from_this()](beast::error_code ec, size_t n) {
      if (ec) return self->Finish();
      asio::async_write(self->client_, asio::buffer(self->down_.data(), n),
                        [self](beast::error_code w_ec, size_t) {
                          if (w_ec) return self->Finish();
                          self->ReadUpstream();
                        });
    });
  }

  // client -> upstream for a WebSocket; for one exchange only watching for the client to leave (what it sends is
  // dropped: its request is already on its way).
  void ReadClient() {
    client_.async_read_some(asio::buffer(up_), [self = this->shared_from_this()](beast::error_code ec, size_t n) {
      if (ec) return self->Finish();
      if (!self->upgrade_) return self->ReadClient();
      asio::async_write(self->upstream_, asio::buffer(self->up_.data(), n), [self](beast::error_code w_ec, size_t) {
        if (w_ec) return self->Finish();
        self->ReadClient();
      });
    });
  }

  // Either side has ended: the other is ended too, and the pending operations complete with errors. The client's
  // connection gets a TCP FIN after what was written, and 3 s to close its side; a TLS client no close_notify,
  // which would be a second operation on the stream beside the pending read.
  void Finish() {
    if (finished_) return;
    finished_ = true;
    beast::error_code ignored;
    upstream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    upstream_.close();
    beast::get_lowest_layer(client_).socket().shutdown(tcp::socket::shutdown_send, ignored);
    beast::get_lowest_layer(client_).expires_after(std::chrono::seconds(3));
  }

  void Unreachable(const std::string& why) {
    counters_.failed.Add();
    const std::string message = to_.label + " cannot be reached: " + why;
    IOT_LOG(kWarn) << "forward: 502 " << message;
    answer_.result(bhttp::status::bad_gateway);
    answer_.set(bhttp::field::server, "iotstream");
    answer_.set(bhttp::field::content_type, "application/json");
    answer_.body() = Response::Error(502, message).body;
    answer_.keep_alive(false);
    answer_.prepare_payload();
    beast::get_lowest_layer(client_).expires_after(std::chrono::seconds(10));
    bhttp::async_write(client_, answer_, [self = this->shared_from_this()](beast::error_code ec, size_t) {
      if (!ec) EndConnection(self->client_, self, std::chrono::seconds(3));
    });
  }

  Stream client_;
  TcpStream upstream_;
  Resolver resolver_;
  std::string head_;
  const Upstream to_;
  const bool upgrade_;
  ForwardCounters counters_;
  std::array<char, kRelayBufferBytes> down_;
  std::array<char, kRelayBufferBytes> up_;
  bhttp::response<bhttp::string_body> answer_;
  bool finished_ = false;
};

}  // namespace

std::string ForwardedRequest(const bhttp::request<RequestBody>& msg, const std::string& body,
                             const std::string& client_address, const std::string& via) {
  const bool upgrade = beast::websocket::is_upgrade(msg);
  std::string out;
  out.reserve(512 + body.size());
  out.append(msg.method_string()).append(" ").append(msg.target()).append(" HTTP/1.1\r\n");
  std::string forwarded_for;
  for (const auto& field : msg) {
    switch (field.name()) {
      case bhttp::field::connection:
      case bhttp::field::keep_alive:
      case bhttp::field::proxy_connection:
      case bhttp::field::content_length:
      case bhttp::field::transfer_encoding:
      case bhttp::field::te:
      case bhttp::field::trailer:
        continue;
      default:
        break;
    }
    if (beast::iequals(field.name_string(), "X-Forwarded-For")) {
      forwarded_for = std::string(field.value());
      continue;
    }
    if (beast::iequals(field.name_string(), kForwardedByHeader)) continue;
    out.append(field.name_string()).append(": ").append(field.value()).append("\r\n");
  }
  if (!client_address.empty()) forwarded_for += (forwarded_for.empty() ? "" : ", ") + client_address;
  if (!forwarded_for.empty()) out.append("X-Forwarded-For: ").append(forwarded_for).append("\r\n");
  out.append(kForwardedByHeader).append(": ").append(via).append("\r\n");
  out.append(upgrade ? "Connection: Upgrade\r\n" : "Connection: close\r\n");
  if (!body.empty() || msg.method() == bhttp::verb::post || msg.method() == bhttp::verb::put ||
      msg.method() == bhttp::verb::patch) {
    out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  }
  out.append("\r\n").append(body);
  return out;
}

template <class Stream>
void StartForward(Stream client, beast::flat_buffer leftover, std::string head, Upstream to, bool upgrade,
                  ForwardCounters counters) {
  std::make_shared<Relay<Stream>>(std::move(client), std::move(leftover), std::move(head), std::move(to), upgrade,
                                  counters)
      ->Run();
}

template void StartForward<TcpStream>(TcpStream, beast::flat_buffer, std::string, Upstream, bool, ForwardCounters);
template void StartForward<TlsStream>(TlsStream, beast::flat_buffer, std::string, Upstream, bool, ForwardCounters);

}  // namespace iotstream::http
