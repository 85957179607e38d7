#include "live/sessions.h"

#include <sys/resource.h>
#include <unistd.h>

#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <variant>

#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>

#include "core/clock.h"
#include "core/log.h"
#include "live/live.h"
#include "live/subscribe.h"

namespace iotstream::live {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
using nlohmann::json;

bool Expected(const beast::error_code& ec) {
  return ec == asio::error::operation_aborted || ec == websocket::error::closed || ec == asio::error::eof ||
         ec == bhttp::error::end_of_stream || ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::ssl::error::stream_truncated;
}

std::shared_ptr<const std::string> ErrorEvent(const std::string& message) {
  return std::make_shared<const std::string>(
      json{{"type", "error"}, {"error", message}}.dump(-1, ' ', false, json::error_handler_t::replace));
}

// Over `Stream`: http::TcpStream or http::TlsStream.
template <class Stream>
class WebSocketViewer final : public Viewer, public std::enable_shared_from_this<WebSocketViewer<Stream>> {
  using std::enable_shared_from_this<WebSocketViewer<Stream>>::shared_from_this;

 public:
  WebSocketViewer(LiveHub& hub, Stream stream, std::string device_id, std::string remote)
      : hub_(hub),
        ws_(std::move(stream)),
        executor_(ws_.get_executor()),
        device_(std::move(device_id)),
        remote_(std::move(remote)) {}

  ~WebSocketViewer() override { hub_.Leave(this); }

  http::Executor executor() const override { return executor_; }

  void Start(bhttp::request<http::RequestBody> request) {
    websocket::stream_base::timeout t = websocket::stream_base::timeout::suggested(beast::role_type::server);
    t.idle_timeout = std::chrono::seconds(30);  // with pings every 15 s: a dead or stuck viewer goes in 30 s
    t.keep_alive_pings = true;
    ws_.set_option(t);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(bhttp::field::server, "iotstream"); }));
    ws_.read_message_max(hub_.options().max_ws_message_bytes);
    // One frame, one WebSocket frame: Beast's default splits writes into 4 KiB fragments, which multiplies
    // the work per JPEG by ten (measured: at 500 viewers it decided between keeping up and skipping 15%).
    ws_.auto_fragment(false);
    ws_.async_accept(request, [self = shared_from_this()](beast::error_code ec) { self->OnAccept(ec); });
  }

  void PostFrame(const LiveFramePtr& frame) override {
    asio::post(ws_.get_executor(), [self = shared_from_this(), frame] { self->OnFrame(frame); });
  }
  void DeliverFrame(const LiveFramePtr& frame) override { OnFrame(frame); }
  bool PostEvent(const std::shared_ptr<const std::string>& event) override {
    if (!device_.empty()) return false;  // per-device sockets carry bare JPEGs only
    asio::post(ws_.get_executor(), [self = shared_from_this(), event] { self->OnEvent(event); });
    return true;
  }
  void Close() override {
    asio::post(ws_.get_executor(), [self = shared_from_this()] {
      beast::error_code ec;
      beast::get_lowest_layer(self->ws_).socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
      beast::get_lowest_layer(self->ws_).close();
    });
  }
  bool Wants(const std::string& device_id) const override {
    if (!device_.empty()) return device_id == device_;
    std::lock_guard lock(filter_mu_);
    return all_ || subscriptions_.count(device_id) != 0;
  }
  json Describe() const override {
    json filter;
    if (!device_.empty()) {
      filter = device_;
    } else {
      std::lock_guard lock(filter_mu_);
      filter = all_ ? json("*") : json(subscriptions_);
    }
    return json{{"kind", device_.empty() ? "ws" : "ws-device"}, {"remote", remote_},
                {"subscription", filter}, {"frames_sent", sent_.load()}, {"frames_skipped", skipped_.load()}};
  }

 private:
  void OnAccept(beast::error_code ec) {
    if (ec) return Fail(ec, "accept");
    hub_.Join(shared_from_this());
    if (device_.empty()) OnEvent(std::make_shared<const std::string>(hub_.Hello()));
    DoRead();
  }

  void DoRead() {
    ws_.async_read(read_buffer_, [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec) return Fail(ec, "read");  // includes message_too_big: that session only is closed
    const std::string text = beast::buffers_to_string(read_buffer_.data());
    read_buffer_.consume(read_buffer_.size());
    if (!ws_.got_text()) {
      OnEvent(ErrorEvent("binary messages are not accepted; send {\"subscribe\": [\"cam1\"]} or {\"subscribe\": \"*\"}"));
    } else {
      HandleCommand(text);
    }
    DoRead();
  }

  void HandleCommand(const std::string& text) {
    auto sub = ParseSubscribe(text);
    if (!sub.ok()) {
      IOT_LOG(kWarn) << "live: bad message from " << remote_ << ": " << text.substr(0, 120);
      return OnEvent(ErrorEvent(sub.status().message()));
    }
    if (!device_.empty()) return OnEvent(ErrorEvent("this socket carries one device; use /ws to subscribe"));
    const bool all = sub.value().all;
    const std::set<std::string>& ids = sub.value().ids;
    {
      std::lock_guard lock(filter_mu_);
      all_ = all;
      subscriptions_ = ids;
    }
    // Frames already pending for cameras no longer wanted are not sent.
    for (auto it = pending_.begin(); it != pending_.end();) {
      it = Wants(it->first) ? std::next(it) : pending_.erase(it);
    }
    OnEvent(std::make_shared<const std::string>(
        json{{"type", "subscribed"}, {"devices", all ? json("*") : json(ids)}}.dump()));
  }

  void OnFrame(const LiveFramePtr& frame) {
    if (closed_ || !Wants(frame->frame->device_id())) return;
    auto [it, inserted] = pending_.try_emplace(frame->frame->device_id(), frame);
    if (!inserted) {
      // Newest wins: the older frame of this camera was never started, so it is skipped.
      it->second = frame;
      skipped_.fetch_add(1, std::memory_order_relaxed);
      hub_.stats().frames_skipped.Add();
    }
    MaybeWrite();
  }

  void OnEvent(const std::shared_ptr<const std::string>& event) {
    if (closed_) return;
    if (events_.size() >= hub_.options().max_pending_events) {
      events_.pop_front();
      hub_.stats().events_dropped.Add();
    }
    events_.push_back(event);
    MaybeWrite();
  }

  void MaybeWrite() {
    if (writing_ || closed_) return;
    if (!events_.empty()) {
      writing_ = true;
      in_flight_event_ = std::move(events_.front());
      events_.pop_front();
      ws_.text(true);
      ws_.async_write(asio::buffer(*in_flight_event_),
                      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnWrite(ec, false); });
      return;
    }
    if (pending_.empty()) return;
    // Round-robin over cameras: the first one after the camera written last.
    auto it = pending_.upper_bound(last_device_);
    if (it == pending_.end()) it = pending_.begin();
    in_flight_frame_ = std::move(it->second);
    last_device_ = it->first;
    pending_.erase(it);
    writing_ = true;
    ws_.binary(true);
    const std::string_view jpeg = in_flight_frame_->frame->jpeg();
    auto done = [self = shared_from_this()](beast::error_code ec, size_t) { self->OnWrite(ec, true); };
    if (!device_.empty()) {
      ws_.async_write(asio::buffer(jpeg.data(), jpeg.size()), std::move(done));
    } else {
      const std::array<asio::const_buffer, 2> parts{asio::buffer(in_flight_frame_->ws_header),
                                                   asio::buffer(jpeg.data(), jpeg.size())};
      ws_.async_write(parts, std::move(done));
    }
  }

  void OnWrite(beast::error_code ec, bool was_frame) {
    writing_ = false;
    in_flight_frame_.reset();
    in_flight_event_.reset();
    if (ec) return Fail(ec, "write");
    if (was_frame) {
      sent_.fetch_add(1, std::memory_order_relaxed);
      hub_.stats().frames_sent.Add();
    }
    MaybeWrite();
  }

  void Fail(beast::error_code ec, const char* what) {
    closed_ = true;
    pending_.clear();
    events_.clear();
    if (Expected(ec)) return;
    IOT_LOG(kDebug) << "live: ws " << remote_ << ' ' << what << ": " << ec.message();
  }

  LiveHub& hub_;
  websocket::stream<Stream> ws_;
  const http::Executor executor_;
  const std::string device_;  // non-empty: /ws/devices/{id}
  const std::string remote_;
  beast::flat_buffer read_buffer_;

  mutable std::mutex filter_mu_;
  bool all_ = true;                          // guarded by filter_mu_
  std::set<std::string> subscriptions_;      // guarded by filter_mu_

  // Executor only.
  std::map<std::string, LiveFramePtr> pending_;  // newest frame per camera, not yet started
  std::deque<std::shared_ptr<const std::string>> events_;
  std::string last_device_;
  LiveFramePtr in_flight_frame_;
  std::shared_ptr<const std::string> in_flight_event_;
  bool writing_ = false;
  bool closed_ = false;

  std::atomic<uint64_t> sent_{0};
  std::atomic<uint64_t> skipped_{0};
};

constexpr std::string_view kBoundary = "iotstreamframe";
// A refused connection's answer is written and the connection ended within this.
constexpr std::chrono::seconds kRefuseTimeout{10};

template <class Stream>
class MjpegViewer final : public Viewer, public std::enable_shared_from_this<MjpegViewer<Stream>> {
  using std::enable_shared_from_this<MjpegViewer<Stream>>::shared_from_this;

 public:
  MjpegViewer(LiveHub& hub, Stream stream, std::string device_id, std::string remote)
      : hub_(hub),
        stream_(std::move(stream)),
        executor_(stream_.get_executor()),
        deadline_(executor_),
        device_(std::move(device_id)),
        remote_(std::move(remote)) {}
  ~MjpegViewer() override { hub_.Leave(this); }

  http::Executor executor() const override { return executor_; }

  void Start() {
    head_ = "HTTP/1.1 200 OK\r\nServer: iotstream\r\nContent-Type: multipart/x-mixed-replace; boundary=" +
            std::string(kBoundary) +
            "\r\nCache-Control: no-cache, no-store\r\nPragma: no-cache\r\nConnection: close\r\n\r\n";
    Write(std::array<asio::const_buffer, 1>{asio::buffer(head_)}, false);
    hub_.Join(shared_from_this());
    // A client never sends anything more; a read completes only when it goes away. It stays pending for the
    // session's life, so the stream has no deadline of its own (Write keeps the writes' one).
    stream_.async_read_some(asio::buffer(drain_),
                            [self = shared_from_this()](beast::error_code, size_t) { self->Shutdown(); });
  }

  void PostFrame(const LiveFramePtr& frame) override {
    asio::post(stream_.get_executor(), [self = shared_from_this(), frame] { self->OnFrame(frame); });
  }
  void DeliverFrame(const LiveFramePtr& frame) override {
    if (Wants(frame->frame->device_id())) OnFrame(frame);
  }
  bool PostEvent(const std::shared_ptr<const std::string>&) override { return false; }
  void Close() override {
    asio::post(stream_.get_executor(), [self = shared_from_this()] { self->Shutdown(); });
  }
  bool Wants(const std::string& device_id) const override { return device_id == device_; }
  json Describe() const override {
    return json{{"kind", "mjpeg"}, {"remote", remote_}, {"subscription", device_},
                {"frames_sent", sent_.load()}, {"frames_skipped", skipped_.load()}};
  }

 private:
  void OnFrame(const LiveFramePtr& frame) {
    if (closed_) return;
    if (pending_) {
      skipped_.fetch_add(1, std::memory_order_relaxed);
      hub_.stats().frames_skipped.Add();
    }
    pending_ = frame;
    MaybeWrite();
  }

  void MaybeWrite() {
    if (writing_ || closed_ || !pending_) return;
    in_flight_ = std::move(pending_);
    pending_.reset();
    const std::string_view jpeg = in_flight_->frame->jpeg();
    part_head_ = "--" + std::string(kBoundary) + "\r\nContent-Type: image/jpeg\r\nContent-Length: " +
                 std::to_string(jpeg.size()) + "\r\nX-Frame-ID: " + std::to_string(in_flight_->frame->id()) +
                 "\r\n\r\n";
    Write(std::array<asio::const_buffer, 3>{asio::buffer(part_head_), asio::buffer(jpeg.data(), jpeg.size()),
                                            asio::buffer("\r\n", 2)},
          true);
  }

  // One write, closed when the viewer takes no bytes for write_timeout: a deadline of this session's own, as
  // the stream's (basic_stream's) would apply to the pending drain read too.
  template <size_t N>
  void Write(const std::array<asio::const_buffer, N>& parts, bool frame) {
    writing_ = true;
    deadline_.expires_after(hub_.options().write_timeout);
    deadline_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec && self->writing_ && self->deadline_.expiry() <= std::chrono::steady_clock::now()) self->Shutdown();
    });
    asio::async_write(stream_, parts, [self = shared_from_this(), frame](beast::error_code ec, size_t) {
      self->deadline_.cancel();
      self->OnWrite(ec, frame);
    });
  }

  void OnWrite(beast::error_code ec, bool was_frame) {
    writing_ = false;
    in_flight_.reset();
    if (ec) {
      if (!Expected(ec)) IOT_LOG(kDebug) << "live: mjpeg " << remote_ << ": " << ec.message();
      return Shutdown();
    }
    if (was_frame) {
      sent_.fetch_add(1, std::memory_order_relaxed);
      hub_.stats().frames_sent.Add();
    }
    MaybeWrite();
  }

  void Shutdown() {
    if (closed_) return;
    closed_ = true;
    pending_.reset();
    deadline_.cancel();
    beast::error_code ec;
    beast::get_lowest_layer(stream_).socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(stream_).close();
  }

  LiveHub& hub_;
  Stream stream_;
  const http::Executor executor_;
  asio::basic_waitable_timer<std::chrono::steady_clock, asio::wait_traits<std::chrono::steady_clock>, http::Executor>
      deadline_;  // of the write in flight
  const std::string device_;
  const std::string remote_;
  std::string head_;
  std::string part_head_;
  std::array<char, 256> drain_{};
  LiveFramePtr pending_;
  LiveFramePtr in_flight_;
  bool writing_ = false;
  bool closed_ = false;
  std::atomic<uint64_t> sent_{0};
  std::atomic<uint64_t> skipped_{0};
};

}  // namespace

ViewerThread::ViewerThread(int nice)
    : work_(asio::make_work_guard(context_)), thread_([this, nice] {
        setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), nice);
        context_.run();
      }) {}

ViewerThread::~ViewerThread() {
  work_.reset();
  context_.stop();
  thread_.join();
}

http::TcpStream ViewerThread::Adopt(http::TcpStream stream) {
  beast::error_code ec;
  auto& socket = stream.socket();
  const auto protocol = socket.local_endpoint(ec).protocol();
  if (ec) return stream;
  const auto fd = socket.release(ec);
  if (ec) return stream;
  return http::TcpStream(asio::basic_stream_socket<asio::ip::tcp, http::Executor>(context_.get_executor(), protocol, fd));
}

void StartWebSocketViewer(LiveHub& hub, std::unique_ptr<http::Connection> conn, std::string device_id,
                          std::string remote) {
  std::visit(
      [&](auto& stream) {
        using Stream = std::decay_t<decltype(stream)>;
        auto viewer = std::make_shared<WebSocketViewer<Stream>>(hub, hub.viewer_thread().Adopt(std::move(stream)),
                                                                std::move(device_id), std::move(remote));
        // Started on its own thread: from here on only that thread touches the session.
        asio::post(viewer->executor(), [viewer, request = std::move(conn->request)]() mutable {
          viewer->Start(std::move(request));
        });
      },
      conn->stream);
}

void StartMjpegViewer(LiveHub& hub, std::unique_ptr<http::Connection> conn, std::string device_id,
                      std::string remote) {
  std::visit(
      [&](auto& stream) {
        using Stream = std::decay_t<decltype(stream)>;
        auto viewer = std::make_shared<MjpegViewer<Stream>>(hub, hub.viewer_thread().Adopt(std::move(stream)),
                                                            std::move(device_id), std::move(remote));
        asio::post(viewer->executor(), [viewer] { viewer->Start(); });
      },
      conn->stream);
}

void RefuseConnection(std::unique_ptr<http::Connection> conn, int status, const std::string& message) {
  IOT_LOG(kWarn) << "live: " << status << ' ' << message;
  auto res = std::make_shared<bhttp::response<bhttp::string_body>>(static_cast<bhttp::status>(status), 11);
  res->set(bhttp::field::server, "iotstream");
  res->set(bhttp::field::content_type, "application/json");
  res->body() = json{{"error", message}}.dump(-1, ' ', false, json::error_handler_t::replace);  // ids as sent
  res->keep_alive(false);
  res->prepare_payload();
  auto owned = std::shared_ptr<http::Connection>(std::move(conn));
  std::visit(
      [&](auto& stream) {
        beast::get_lowest_layer(stream).expires_after(kRefuseTimeout);
        bhttp::async_write(stream, *res, [owned, res, &stream](beast::error_code ec, size_t) {
          if (!ec) http::EndConnection(stream, owned, kRefuseTimeout);
        });
      },
      owned->stream);
}

}  // namespace iotstream::live
