#include "notify/receiver.h"

#include <gtest/gtest.h>

#include <cctype>
#include <future>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace iotstream::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

// Everything below but the counters runs on the server thread only.
struct Receiver::Impl {
  explicit Impl(Options o) : options(std::move(o)), work(asio::make_work_guard(ioc)) {}

  // Runs `f` on the server thread and returns once it ran.
  template <typename F>
  void Sync(F f) {
    std::promise<void> done;
    asio::post(ioc, [&] {
      f();
      done.set_value();
    });
    done.get_future().wait();
  }

  bool Open() {
    beast::error_code ec;
    acceptor.open(tcp::v4(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(tcp::endpoint(asio::ip::address_v4::loopback(), port), ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      acceptor.close(ec);
      return false;
    }
    port = acceptor.local_endpoint().port();  // the same after the first bind
    asio::co_spawn(ioc, Accept(), asio::detached);
    return true;
  }

  void CloseAll() {
    beast::error_code ec;
    for (tcp::socket* s : open) s->close(ec);
  }

  asio::awaitable<void> Accept() {
    while (acceptor.is_open()) {
      beast::error_code ec;
      tcp::socket socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;  // closed by Refuse() or the end
      {
        std::lock_guard lock(mu);
        ++connections;
      }
      if (tls) {
        asio::co_spawn(ioc, ServeTls(std::move(socket)), asio::detached);
      } else {
        asio::co_spawn(ioc, ServePlain(std::move(socket)), asio::detached);
      }
    }
  }

  asio::awaitable<void> ServePlain(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    open.insert(&stream.socket());
    co_await Serve(stream);
    open.erase(&stream.socket());
  }

  asio::awaitable<void> ServeTls(tcp::socket socket) {
    beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), *tls);
    tcp::socket* raw = &beast::get_lowest_layer(stream).socket();
    open.insert(raw);
    beast::error_code ec;
    co_await stream.async_handshake(ssl::stream_base::server, asio::redirect_error(asio::use_awaitable, ec));
    if (!ec) co_await Serve(stream);
    open.erase(raw);
  }

  template <typename Stream>
  asio::awaitable<void> Serve(Stream& stream) {
    beast::flat_buffer buffer;
    while (true) {
      beast::error_code ec;
      bhttp::request<bhttp::string_body> in;
      co_await bhttp::async_read(stream, buffer, in, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
      Request req;
      req.method = std::string(in.method_string());
      req.target = std::string(in.target());
      req.body = in.body();
      for (const auto& field : in) {
        std::string name(field.name_string());
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        req.headers[name] = std::string(field.value());
      }
      int status = 0;
      bool held = false;
      {
        std::lock_guard lock(mu);
        status = answer;
        held = hold;
        ++seen;
        if (!held && status >= 200 && status < 300) accepted.push_back(std::move(req));
      }
      if (held) {
        // No answer: wait for the client to give up and close (or for CloseAll()).
        co_await bhttp::async_read(stream, buffer, in, asio::redirect_error(asio::use_awaitable, ec));
        break;
      }
      bhttp::response<bhttp::empty_body> out{static_cast<bhttp::status>(status), 11};
      out.keep_alive(!options.close_each && in.keep_alive());
      out.content_length(0);
      co_await bhttp::async_write(stream, out, asio::redirect_error(asio::use_awaitable, ec));
      if (ec || !out.keep_alive()) break;
    }
    beast::error_code ignored;
    beast::get_lowest_layer(stream).socket().close(ignored);
  }

  const Options options;
  asio::io_context ioc;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  std::optional<ssl::context> tls;
  tcp::acceptor acceptor{ioc};
  unsigned short port = 0;  // written before the thread starts and by Open() on it; read after Sync()
  std::set<tcp::socket*> open;  // the connections being served

  mutable std::mutex mu;
  int answer = 200;               // guarded by mu
  bool hold = false;               // guarded by mu
  std::vector<Request> accepted;   // guarded by mu
  size_t seen = 0;                 // guarded by mu
  size_t connections = 0;          // guarded by mu
  std::thread thread;
};

Receiver::Receiver() : Receiver(Options{}) {}

Receiver::Receiver(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {
  if (!impl_->options.cert_file.empty()) {
    impl_->tls.emplace(ssl::context::tls_server);
    beast::error_code ec;
    impl_->tls->use_certificate_chain_file(impl_->options.cert_file, ec);
    if (!ec) impl_->tls->use_private_key_file(impl_->options.key_file, ssl::context::pem, ec);
    if (ec) ADD_FAILURE() << "the receiver cannot load its certificate: " << ec.message();
  }
  if (!impl_->Open()) ADD_FAILURE() << "the receiver cannot listen";
  impl_->thread = std::thread([impl = impl_.get()] { impl->ioc.run(); });
}

Receiver::~Receiver() {
  impl_->Sync([impl = impl_.get()] {
    beast::error_code ec;
    impl->acceptor.close(ec);
    impl->CloseAll();
  });
  impl_->work.reset();  // run() returns once every connection's coroutine has ended
  impl_->thread.join();
}

unsigned short Receiver::port() const { return impl_->port; }

std::string Receiver::Url(const std::string& path) const {
  return std::string(impl_->tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(impl_->port) + path;
}

void Receiver::Answer(int status) {
  std::lock_guard lock(impl_->mu);
  impl_->answer = status;
}

void Receiver::Hold(bool hold) {
  std::lock_guard lock(impl_->mu);
  impl_->hold = hold;
}

void Receiver::Refuse() {
  impl_->Sync([impl = impl_.get()] {
    beast::error_code ec;
    impl->acceptor.close(ec);
    impl->CloseAll();
  });
}

void Receiver::Listen() {
  bool ok = false;
  impl_->Sync([impl = impl_.get(), &ok] { ok = impl->acceptor.is_open() || impl->Open(); });
  if (!ok) ADD_FAILURE() << "the receiver cannot listen again on port " << impl_->port;
}

void Receiver::CloseConnections() {
  impl_->Sync([impl = impl_.get()] { impl->CloseAll(); });
}

std::vector<Receiver::Request> Receiver::Accepted() const {
  std::lock_guard lock(impl_->mu);
  return impl_->accepted;
}

size_t Receiver::Seen() const {
  std::lock_guard lock(impl_->mu);
  return impl_->seen;
}

size_t Receiver::Connections() const {
  std::lock_guard lock(impl_->mu);
  return impl_->connections;
}

}  // namespace iotstream::testing
