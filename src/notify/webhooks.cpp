#include "notify/webhooks.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <exception>
#include <map>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/log.h"
#include "events/schema.h"

namespace iotstream::notify {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using nlohmann::json;

constexpr size_t kMaxUrl = 2048;
constexpr size_t kMaxSecret = 256;
constexpr size_t kMaxFilterEntries = 64;
constexpr size_t kMaxFilterEntry = 128;
constexpr size_t kDeliveryRun = 32;  // rows of one webhook delivered before their outcomes are committed at once
constexpr int64_t kSharedNoteEveryUs = 1'000'000;  // a shared outbox's run notes its deliveries at least this often
constexpr uint64_t kMaxAnswerBody = 64 * 1024;  // a larger answer body fails the read, and its connection is closed

// A parsed webhook URL.
struct Url {
  bool tls = false;
  std::string host;         // without brackets
  std::string port;         // "80" / "443" when not given
  std::string host_header;  // as written in the URL: host[:port]
  std::string target;       // path and query; "/" when empty
};

Result<Url> ParseUrl(std::string_view url) {
  if (url.size() > kMaxUrl) return Status::InvalidArgument("url is longer than 2048 characters");
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
      return Status::InvalidArgument("url holds a space or control character");
    }
  }
  Url u;
  if (url.starts_with("http://")) {
    url.remove_prefix(7);
  } else if (url.starts_with("https://")) {
    url.remove_prefix(8);
    u.tls = true;
  } else {
    return Status::InvalidArgument("url must start with http:// or https://");
  }
  if (url.find('#') != std::string_view::npos) return Status::InvalidArgument("url must not have a fragment");
  const size_t slash = std::min(url.find('/'), url.find('?'));
  std::string_view authority = url.substr(0, slash);
  u.target = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
  if (u.target.front() == '?') u.target.insert(0, "/");
  if (authority.find('@') != std::string_view::npos) return Status::InvalidArgument("url must not hold user info");
  u.host_header = std::string(authority);
  std::string_view port;
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return Status::InvalidArgument("url has an unclosed [IPv6 address]");
    u.host = std::string(authority.substr(1, close - 1));
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return Status::InvalidArgument("url has text after its [IPv6 address]");
    if (!rest.empty()) port = rest.substr(1);
  } else {
    const size_t colon = authority.find(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (u.host.empty()) return Status::InvalidArgument("url has no host");
  if (port.empty()) {
    u.port = u.tls ? "443" : "80";
  } else {
    int v = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || v > 65535) return Status::InvalidArgument("url has a bad port");
      v = v * 10 + (c - '0');
    }
    if (v < 1 || v > 65535) return Status::InvalidArgument("url has a bad port");
    u.port = std::string(port);
  }
  return u;
}

Status CheckList(const char* what, const std::vector<std::string>& list) {
  if (list.size() > kMaxFilterEntries) return Status::InvalidArgument(std::string(what) + " has more than 64 entries");
  for (const auto& s : list) {
    const bool control = std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < ' '; });
    if (s.empty() || s.size() > kMaxFilterEntry || control) {
      return Status::InvalidArgument(std::string(what) + " entries must be 1-128 characters without control characters");
    }
  }
  return Status::Ok();
}

bool Has(const std::vector<std::string>& list, std::string_view v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

}  // namespace

// A webhook as the threads use it: its record and its parsed URL.
struct WebhookPublisher::Hook {
  store::WebhookRecord record;
  Url url;
};

// What the fan-out needs of an event.
struct WebhookPublisher::Item {
  int64_t id = 0;
  std::string type;
  std::string device_id;
  std::string person_id;  // empty: the event names no person (an unknown face names only its nearest, not a match)
  std::string name;

  static Item Of(const json& message, std::string type, std::string device_id) {
    Item it;
    it.id = message.value("id", int64_t{0});
    it.type = std::move(type);
    it.device_id = std::move(device_id);
    auto name = message.find("name");
    auto person = message.find("person_id");
    if (name != message.end() && name->is_string() && person != message.end() && person->is_number_integer()) {
      it.name = name->get<std::string>();
      it.person_id = std::to_string(person->get<int64_t>());
    }
    return it;
  }

  bool WantedBy(const store::WebhookRecord& w) const {
    if (!w.types.empty() && !Has(w.types, type)) return false;
    if (!w.cameras.empty() && (device_id.empty() || !Has(w.cameras, device_id))) return false;
    const bool named = !person_id.empty();
    if (!w.persons.empty() && (!named || !(Has(w.persons, name) || Has(w.persons, person_id)))) return false;
    return !(named && (Has(w.not_persons, name) || Has(w.not_persons, person_id)));
  }
};

// One kept-alive HTTP/1.1 connection per webhook (plain or TLS, the peer's certificate and name checked against
// --webhook-ca-file or the system's CAs), so that a delivery costs one request and its answer, not a resolution, a
// TCP (and TLS) handshake and a thread. The name is resolved once and again after a failed connect. A connection
// is closed after any error and when the answer says so; the next attempt opens a new one. One io_context, run by
// the delivery thread for each attempt: an attempt blocks that thread only, for request_timeout at most.
class WebhookPublisher::Poster {
 public:
  // `ca_file` empty: the system's CAs. InvalidArgument when ca_file cannot be loaded, IOError when those cannot.
  static Result<std::unique_ptr<Poster>> Make(const std::string& ca_file) {
    std::unique_ptr<Poster> p(new Poster());
    beast::error_code ec;
    if (ca_file.empty()) {
      p->tls_.set_default_verify_paths(ec);
      if (ec) return Status::IOError("the system's CAs: " + ec.message());
    } else {
      p->tls_.load_verify_file(ca_file, ec);
      if (ec) return Status::InvalidArgument("--webhook-ca-file " + ca_file + ": " + ec.message());
    }
    p->tls_.set_verify_mode(ssl::verify_peer);
    return p;
  }

  // The answer's status code, or why there was none. A request on a kept-alive connection that the receiver had
  // closed meanwhile (it fails before any answer) goes once more on a new connection, within the same deadline.
  Result<int> Post(int64_t webhook_id, const Url& url, const bhttp::request<bhttp::string_body>& req,
                   std::chrono::milliseconds timeout) {
    Connection& conn = connections_[webhook_id];
    Outcome out;
    ioc_.restart();
    asio::co_spawn(ioc_, Exchange(conn, url, req, std::chrono::steady_clock::now() + timeout, out),
                   [&out](const std::exception_ptr& e) {
                     if (e) out.error = "internal error";
                   });
    ioc_.run();
    if (!out.keep) conn.Close();
    if (!out.error.empty()) return Status::Unavailable(out.error);
    return out.status;
  }

  // Closes the connections of webhooks `keep` says no to (deleted ones).
  template <typename Keep>
  void Forget(Keep keep) {
    std::erase_if(connections_, [&keep](const auto& c) { return !keep(c.first); });
  }

 private:
  Poster() : tls_(ssl::context::tls_client) {}

  using Deadline = std::chrono::steady_clock::time_point;
  using TlsStream = beast::ssl_stream<beast::tcp_stream>;

  struct Outcome {
    int status = 0;
    std::string error;  // empty: status holds the answer
    bool stale = false;  // failed before any byte of an answer: the receiver had closed the connection
    bool keep = false;   // the whole answer was read and the receiver keeps the connection open
  };

  struct Connection {
    tcp::resolver::results_type endpoints;  // empty: resolve before the next connect
    std::unique_ptr<beast::tcp_stream> plain;
    std::unique_ptr<TlsStream> tls;
    beast::flat_buffer buffer;

    bool open() const { return plain || tls; }
    void Close() {
      plain.reset();
      tls.reset();
      buffer.clear();
    }
  };

  static bool Stale(const beast::error_code& ec) {
    return ec == bhttp::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
           ec == asio::error::broken_pipe || ec == ssl::error::stream_truncated;
  }

  template <typename Stream>
  static asio::awaitable<void> Send(Stream& stream, beast::flat_buffer& buffer,
                                    const bhttp::request<bhttp::string_body>& req, Outcome& out) {
    beast::error_code ec;
    co_await bhttp::async_write(stream, req, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      out.error = "sending: " + ec.message();
      out.stale = Stale(ec);
      co_return;
    }
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(kMaxAnswerBody);
    co_await bhttp::async_read_header(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      out.error = "reading the answer: " + ec.message();
      out.stale = Stale(ec);
      co_return;
    }
    out.status = static_cast<int>(parser.get().result_int());
    // The body is read (and dropped) so that the connection can carry the next request; the status counts even
    // when the body fails, as it did when only the head was read.
    if (!parser.is_done()) {
      co_await bhttp::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    }
    out.keep = !ec && parser.get().keep_alive();
  }

  asio::awaitable<void> Connect(Connection& conn, const Url& url, Deadline deadline, Outcome& out) {
    auto ex = co_await asio::this_coro::executor;
    beast::error_code ec;
    if (conn.endpoints.empty()) {
      conn.endpoints =
          co_await resolver_.async_resolve(url.host, url.port, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        out.error = "resolving " + url.host + ": " + ec.message();
        co_return;
      }
    }
    auto stream = std::make_unique<beast::tcp_stream>(ex);
    stream->expires_at(deadline);
    co_await stream->async_connect(conn.endpoints, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      conn.endpoints = {};  // the address may have moved
      out.error = "connecting: " + ec.message();
      co_return;
    }
    stream->socket().set_option(tcp::no_delay(true), ec);
    if (!url.tls) {
      conn.plain = std::move(stream);
      co_return;
    }
    auto tls = std::make_unique<TlsStream>(std::move(*stream), tls_);
    if (!SSL_set_tlsext_host_name(tls->native_handle(), url.host.c_str())) {
      out.error = "TLS: cannot set the server name";
      co_return;
    }
    tls->set_verify_callback(ssl::host_name_verification(url.host));
    beast::get_lowest_layer(*tls).expires_at(deadline);
    co_await tls->async_handshake(ssl::stream_base::client, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      out.error = "TLS handshake: " + ec.message();
      co_return;
    }
    conn.tls = std::move(tls);
  }

  asio::awaitable<void> SendOn(Connection& conn, const bhttp::request<bhttp::string_body>& req, Deadline deadline,
                               Outcome& out) {
    if (conn.plain) {
      conn.plain->expires_at(deadline);
      co_await Send(*conn.plain, conn.buffer, req, out);
    } else {
      beast::get_lowest_layer(*conn.tls).expires_at(deadline);
      co_await Send(*conn.tls, conn.buffer, req, out);
    }
  }

  asio::awaitable<void> Exchange(Connection& conn, const Url& url, const bhttp::request<bhttp::string_body>& req,
                                 Deadline deadline, Outcome& out) {
    const bool reused = conn.open();
    if (!reused) {
      co_await Connect(conn, url, deadline, out);
      if (!out.error.empty()) co_return;
    }
    co_await SendOn(conn, req, deadline, out);
    if (!out.error.empty() && reused && out.stale) {
      conn.Close();
      out = Outcome{};
      co_await Connect(conn, url, deadline, out);
      if (!out.error.empty()) co_return;
      co_await SendOn(conn, req, deadline, out);
    }
  }

  asio::io_context ioc_;
  tcp::resolver resolver_{ioc_};
  ssl::context tls_;
  std::map<int64_t, Connection> connections_;
};

Status CheckWebhookUrl(std::string_view url) { return ParseUrl(url).status(); }

std::string WebhookSignature(std::string_view body, std::string_view secret) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), reinterpret_cast<const unsigned char*>(body.data()),
       body.size(), md, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * len);
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

Result<int64_t> FirstOutboxCursor(store::Records& records) {
  store::EventQuery newest;
  newest.limit = 1;
  auto last = records.ListEvents(newest);
  if (!last.ok()) return last.status();
  return last.value().empty() ? 0 : last.value().front().id;
}

namespace {

Status CheckConfigured(const WebhookOptions& options) {
  for (const auto& url : options.urls) {
    if (Status st = CheckWebhookUrl(url); !st.ok()) return Status::InvalidArgument("--webhook " + url + ": " + st.message());
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<WebhookPublisher>> WebhookPublisher::Start(WebhookOptions options, const std::string& data_dir,
                                                                  store::Records& records, Metrics& metrics) {
  if (Status st = CheckConfigured(options); !st.ok()) return st;
  // The first start ever begins after the newest event: webhooks get what happens from now on.
  auto first = FirstOutboxCursor(records);
  if (!first.ok()) return first.status();
  auto opened = store::Outbox::Open(data_dir, first.value());
  if (!opened.ok()) return opened.status();
  return Start(std::move(options), std::move(opened).value(), records, metrics);
}

Result<std::unique_ptr<WebhookPublisher>> WebhookPublisher::Start(WebhookOptions options,
                                                                  std::unique_ptr<store::Outbox> outbox,
                                                                  store::Records& records, Metrics& metrics) {
  if (Status st = CheckConfigured(options); !st.ok()) return st;
  auto poster = Poster::Make(options.ca_file);
  if (!poster.ok()) return poster.status();
  std::unique_ptr<WebhookPublisher> p(new WebhookPublisher(std::move(options), std::move(outbox),
                                                           std::move(poster).value(), records, metrics));
  if (Status st = p->Prepare(); !st.ok()) {
    // A shared outbox's database may come later (a cluster node starts before it): the fan-out thread's polls
    // prepare it then. A node's own SQLite that fails is a start-up error.
    if (!p->shared_ || !(st.IsUnavailable() || st.IsTimeout())) return st;
    IOT_LOG(kWarn) << "webhooks: the shared outbox is unreachable (" << st.ToString()
                   << "); webhooks start once the database answers";
    p->prepared_ = false;
  }
  p->fan_out_ = std::thread([raw = p.get()] { raw->FanOut(); });
  p->delivery_ = std::thread([raw = p.get()] { raw->Deliver(); });
  return p;
}

WebhookPublisher::WebhookPublisher(WebhookOptions options, std::unique_ptr<store::Outbox> outbox,
                                   std::unique_ptr<Poster> poster, store::Records& records, Metrics& metrics)
    : options_(std::move(options)),
      outbox_(std::move(outbox)),
      records_(records),
      dropped_(metrics.counter("notify_webhook_dropped_total",
                               "events the webhook queue had no room for (fanned out later from the event log)")),
      delivered_(metrics.counter("notify_webhook_delivered_total", "webhook deliveries answered with 2xx")),
      failed_attempts_(metrics.counter("notify_webhook_failed_attempts_total",
                                       "webhook attempts without a 2xx answer (each is retried or given up)")),
      given_up_(metrics.counter("notify_webhook_given_up_total", "webhook deliveries given up after --webhook-retry-s")),
      store_errors_(metrics.counter("notify_webhook_store_errors_total", "outbox or event log errors of the webhooks")),
      backlog_(metrics.gauge("notify_webhook_backlog", "webhook deliveries waiting in the outbox")),
      latency_(metrics.histogram(kEventLatencyMetric, kEventLatencyHelp, {{"output", "webhook"}})),
      poster_(std::move(poster)),
      jitter_(std::random_device{}()),
      shared_(outbox_->shared()) {}

WebhookPublisher::~WebhookPublisher() {
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  {
    std::lock_guard lock(deliver_mu_);
    deliver_stopping_ = true;
  }
  deliver_cv_.notify_all();
  if (fan_out_.joinable()) fan_out_.join();
  if (delivery_.joinable()) delivery_.join();
}

void WebhookPublisher::Publish(const EventPtr& event) {
  {
    std::lock_guard lock(queue_mu_);
    if (queue_.size() >= options_.max_queued) {
      catch_up_ = true;
      dropped_.Add();
      return;
    }
    queue_.push_back(event);
  }
  queue_cv_.notify_one();
}

Result<store::WebhookRecord> WebhookPublisher::Create(store::WebhookRecord spec) {
  if (Status st = CheckWebhookUrl(spec.url); !st.ok()) return st;
  if (spec.secret.size() > kMaxSecret) return Status::InvalidArgument("secret is longer than 256 characters");
  for (const auto& t : spec.types) {
    if (!events::IsLoggedType(t)) {
      return Status::InvalidArgument("unknown event type '" + t + "' (" + events::LoggedTypeList() + ")");
    }
  }
  for (auto [what, list] : {std::pair{"cameras", &spec.cameras}, std::pair{"persons", &spec.persons},
                            std::pair{"not_persons", &spec.not_persons}}) {
    if (Status st = CheckList(what, *list); !st.ok()) return st;
  }
  if (spec.types.size() > kMaxFilterEntries) return Status::InvalidArgument("types has more than 64 entries");
  spec.configured = false;
  auto added = outbox_->AddWebhook(spec);
  if (!added.ok()) return added.status();
  if (Status st = Reload(); !st.ok()) return st;
  return added;
}

Result<std::vector<store::WebhookRecord>> WebhookPublisher::List() {
  auto list = outbox_->ListWebhooks();
  if (!list.ok()) return list.status();
  for (auto& w : list.value()) w.secret.clear();
  return list;
}

Status WebhookPublisher::Delete(int64_t id) {
  const Hooks current = hooks();
  for (const auto& h : *current) {
    if (h.record.id == id && h.record.configured) {
      return Status::InvalidArgument("webhook " + std::to_string(id) + " is set by --webhook: remove the flag");
    }
  }
  auto dropped = outbox_->DeleteWebhook(id);
  if (!dropped.ok()) return dropped.status();
  backlog_.Add(-dropped.value());
  return Reload();
}

Status WebhookPublisher::Reload(bool wake) {
  auto list = outbox_->ListWebhooks();
  if (!list.ok()) return list.status();
  auto hooks = std::make_shared<std::vector<Hook>>();
  for (auto& w : list.value()) {
    auto url = ParseUrl(w.url);
    if (!url.ok()) {
      IOT_LOG(kWarn) << "webhooks: webhook " << w.id << " skipped: " << url.status().ToString();
      continue;
    }
    hooks->push_back(Hook{std::move(w), std::move(url).value()});
  }
  {
    std::lock_guard lock(hooks_mu_);
    hooks_ = std::move(hooks);
  }
  if (wake) WakeDelivery();
  return Status::Ok();
}

WebhookPublisher::Hooks WebhookPublisher::hooks() const {
  std::lock_guard lock(hooks_mu_);
  return hooks_;
}

void WebhookPublisher::WakeDelivery() {
  {
    std::lock_guard lock(deliver_mu_);
    deliver_wake_ = true;
  }
  deliver_cv_.notify_one();
}

void WebhookPublisher::FanOut() {
  const auto poll_every = std::chrono::milliseconds(options_.shared_poll_ms);
  auto next_poll = std::chrono::steady_clock::now();
  std::unique_lock lock(queue_mu_);
  while (true) {
    const auto wanted = [this] { return stopping_ || catch_up_ || !queue_.empty(); };
    if (shared_) {
      queue_cv_.wait_until(lock, next_poll, wanted);
    } else {
      queue_cv_.wait(lock, wanted);
    }
    // What is still queued at a stop is in the event log, after the cursor: the next start fans it out.
    if (stopping_) return;
    const bool poll = shared_ && std::chrono::steady_clock::now() >= next_poll;
    if (poll) next_poll = std::chrono::steady_clock::now() + poll_every;
    const bool catch_up = std::exchange(catch_up_, false);
    std::deque<EventPtr> batch;
    batch.swap(queue_);
    lock.unlock();
    bool ok = !poll || Poll();
    if (ok && catch_up) ok = CatchUp();
    // After a catch-up the batch's events are at or below the cursor, fanned out. A shared outbox is handed them
    // anyway (it skips what it has): one committed late, below a cursor that a poll moved past it, is not in the
    // log after the cursor.
    if (ok && (!catch_up || shared_)) ok = FanOutBatch(batch);
    lock.lock();
    if (!ok) {
      // The log still has every event after the cursor: read it again once the store answers.
      catch_up_ = true;
      queue_.clear();
      queue_cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; });
    }
  }
}

bool WebhookPublisher::FanOutBatch(const std::deque<EventPtr>& batch) {
  std::vector<Item> items;
  for (const auto& e : batch) {
    const json message = json::parse(e->json, nullptr, false);
    if (!message.is_object()) continue;
    Item it = Item::Of(message, e->type, e->device_id);
    // A shared outbox skips by itself what was fanned out before.
    if (shared_ || it.id > cursor_) items.push_back(std::move(it));
    if (items.size() >= options_.batch) {
      if (!Enqueue(items, /*from_log=*/false)) return false;
      items.clear();
    }
  }
  return items.empty() || Enqueue(items, /*from_log=*/false);
}

Status WebhookPublisher::Prepare() {
  auto dropped = outbox_->SyncConfigured(options_.urls);
  if (!dropped.ok()) return dropped.status();
  if (dropped.value() > 0) {
    IOT_LOG(kWarn) << "webhooks: " << dropped.value() << " delivery(ies) dropped with webhooks no longer configured";
  }
  auto cursor = outbox_->Cursor();
  if (!cursor.ok()) return cursor.status();
  auto backlog = outbox_->Backlog();
  if (!backlog.ok()) return backlog.status();
  if (Status st = Reload(); !st.ok()) return st;
  cursor_ = cursor.value();
  backlog_.Set(backlog.value());
  return Status::Ok();
}

void WebhookPublisher::StoreError(const char* doing, const Status& why) {
  store_errors_.Add();
  // An outbox or log that stays away (a cluster's database down) is said once, not at every try.
  if (!store_failing_.exchange(true)) {
    IOT_LOG(kWarn) << "webhooks: " << doing << ": " << why.ToString() << "; trying again (said once until it answers)";
  }
}

void WebhookPublisher::StoreAnswers() {
  if (store_failing_.exchange(false)) IOT_LOG(kInfo) << "webhooks: the outbox answers again";
}

bool WebhookPublisher::Poll() {
  if (!prepared_) {
    if (Status st = Prepare(); !st.ok()) return false;  // said once at start; the database is still away
    prepared_ = true;
    IOT_LOG(kInfo) << "webhooks: the shared outbox answers; webhooks start";
  }
  if (Status st = Reload(/*wake=*/false); !st.ok()) {
    StoreError("reading the webhooks", st);
    return false;
  }
  StoreAnswers();
  auto backlog = outbox_->Backlog();
  if (backlog.ok()) backlog_.Set(backlog.value());
  auto cursor = outbox_->Cursor();
  if (!cursor.ok()) {
    StoreError("reading the outbox's cursor", cursor.status());
    return false;
  }
  cursor_ = std::max(cursor_, cursor.value());
  if (!hooks()->empty()) return CatchUp();
  // No webhook wants what was logged meanwhile: the cursor skips it unread, so that a webhook made later starts
  // from then, not from the history.
  auto newest = FirstOutboxCursor(records_);
  if (!newest.ok()) {
    StoreError("reading the event log", newest.status());
    return false;
  }
  if (newest.value() <= cursor_) return true;
  if (auto moved = outbox_->Enqueue({}, newest.value()); !moved.ok()) {
    StoreError("writing the outbox", moved.status());
    return false;
  }
  cursor_ = newest.value();
  return true;
}

bool WebhookPublisher::CatchUp() {
  while (true) {
    store::EventQuery q;
    q.since_id = cursor_;
    q.limit = options_.batch;
    auto events = records_.ListEvents(q);
    if (!events.ok()) {
      StoreError("reading the event log", events.status());
      return false;
    }
    if (events.value().empty()) return true;
    std::vector<Item> items;
    for (const auto& e : events.value()) items.push_back(Item::Of(events::EventJson(e), e.type, e.device_id));
    if (!Enqueue(items, /*from_log=*/true)) return false;
    if (events.value().size() < options_.batch) return true;
  }
}

bool WebhookPublisher::Enqueue(const std::vector<Item>& items, bool from_log) {
  const Hooks current = hooks();
  const int64_t now = NowMs();
  std::vector<store::OutboxEntry> entries;
  for (const auto& it : items) {
    for (const auto& h : *current) {
      if (it.WantedBy(h.record)) entries.push_back(store::OutboxEntry{h.record.id, it.id, 0, now, now});
    }
  }
  // Published events no webhook wants: nothing is owed, and only reading the log moves a shared cursor.
  if (shared_ && !from_log && entries.empty()) return true;
  int64_t newest = cursor_;
  if (from_log || !shared_) {
    for (const auto& it : items) newest = std::max(newest, it.id);
  }
  auto added = outbox_->Enqueue(entries, newest);
  if (!added.ok()) {
    StoreError("writing the outbox", added.status());
    return false;
  }
  cursor_ = newest;
  if (added.value() > 0) {
    backlog_.Add(added.value());
    WakeDelivery();
  }
  return true;
}

void WebhookPublisher::Deliver() {
  while (true) {
    {
      std::lock_guard lock(deliver_mu_);
      if (deliver_stopping_) return;
      deliver_wake_ = false;
    }
    // A shared outbox gets rows from the other nodes, and the webhooks of a node that died: look again soon.
    int64_t wake_ms = NowMs() + (shared_ ? options_.shared_poll_ms : 60'000);
    bool attempted = false;
    auto heads = outbox_->Heads(kDeliveryRun);
    if (!heads.ok()) {
      StoreError("reading the outbox", heads.status());
      wake_ms = NowMs() + 1'000;
    } else {
      StoreAnswers();
      Hooks current = hooks();
      const auto known = [&current](int64_t id) {
        return std::any_of(current->begin(), current->end(), [id](const Hook& h) { return h.record.id == id; });
      };
      // A shared outbox's rows may be for a webhook another node created since this one last read them.
      const bool unknown = std::any_of(heads.value().begin(), heads.value().end(),
                                       [&known](const store::OutboxEntry& e) { return !known(e.webhook_id); });
      if (shared_ && unknown) {
        if (Status st = Reload(/*wake=*/false); st.ok()) {
          current = hooks();
        } else {
          StoreError("reading the webhooks", st);
        }
      }
      poster_->Forget(known);
      const auto& all = heads.value();
      for (auto first = all.begin(); first != all.end();) {
        const int64_t webhook_id = first->webhook_id;
        const auto last = std::find_if(first, all.end(), [webhook_id](const auto& e) { return e.webhook_id != webhook_id; });
        const std::vector<store::OutboxEntry> run(first, last);
        first = last;
        auto hook = std::find_if(current->begin(), current->end(),
                                 [webhook_id](const Hook& h) { return h.record.id == webhook_id; });
        if (hook == current->end()) continue;  // deleted meanwhile
        if (!DeliverRun(*hook, run, &attempted, &wake_ms)) {
          // The outbox did not take an outcome: pause rather than send the same rows again at once.
          wake_ms = NowMs() + 1'000;
          attempted = false;
          break;
        }
      }
    }
    if (attempted) continue;  // each webhook's next row may be due now
    std::unique_lock lock(deliver_mu_);
    deliver_cv_.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(0, wake_ms - NowMs())),
                         [this] { return deliver_stopping_ || deliver_wake_; });
  }
}

bool WebhookPublisher::DeliverRun(const Hook& hook, const std::vector<store::OutboxEntry>& run, bool* attempted,
                                  int64_t* wake_ms) {
  std::vector<int64_t> delivered;
  // Notes the deliveries so far in one transaction; false when the outbox did not take them.
  const auto note = [&]() -> bool {
    if (delivered.empty()) return true;
    if (Status st = outbox_->Delivered(hook.record.id, delivered, NowMs()); !st.ok()) {
      // The rows stay, so their events go again: at least once.
      store_errors_.Add();
      IOT_LOG(kWarn) << "webhooks: noting " << delivered.size() << " deliveries to webhook " << hook.record.id << ": "
                     << st.ToString();
      return false;
    }
    delivered_.Add(delivered.size());
    backlog_.Add(-static_cast<int64_t>(delivered.size()));
    delivered.clear();
    return true;
  };
  int64_t noted_us = MonotonicUs();
  bool noted = true;
  for (const auto& entry : run) {
    if (entry.next_attempt_ms > NowMs()) {
      *wake_ms = std::min(*wake_ms, entry.next_attempt_ms);
      break;
    }
    {
      std::lock_guard lock(deliver_mu_);
      if (deliver_stopping_) break;
    }
    *attempted = true;
    const Outcome outcome = Attempt(hook, entry);
    if (outcome == Outcome::kDelivered) {
      delivered.push_back(entry.event_id);
      // A shared outbox's claim on the webhook lasts its lease from the last outcome noted: a long run notes
      // every second (which renews it), so that no other node takes the webhook over while this one delivers.
      if (shared_ && MonotonicUs() - noted_us >= kSharedNoteEveryUs) {
        if (!note()) return false;
        noted_us = MonotonicUs();
      }
      continue;
    }
    noted = outcome == Outcome::kNoted;
    break;  // the rows after a failed one wait: order per webhook
  }
  return note() && noted;
}

WebhookPublisher::Outcome WebhookPublisher::Attempt(const Hook& hook, const store::OutboxEntry& entry) {
  const int64_t webhook_id = hook.record.id;
  std::string error;
  auto event = records_.GetEvent(entry.event_id);
  if (!event.ok() && event.status().IsNotFound()) {
    error = "event " + std::to_string(entry.event_id) + " is no longer in the event log";
  } else if (!event.ok()) {
    store_errors_.Add();
    error = "reading the event log: " + event.status().message();
  } else {
    const EventPtr ev = events::ToEvent(event.value());
    bhttp::request<bhttp::string_body> req{bhttp::verb::post, hook.url.target, 11};
    req.set(bhttp::field::host, hook.url.host_header);
    req.set(bhttp::field::user_agent, "iotstream-webhook");
    req.set(bhttp::field::content_type, "application/json");
    req.set("X-Iotstream-Event", event.value().type);
    req.set("X-Iotstream-Delivery", std::to_string(webhook_id) + "-" + std::to_string(entry.event_id));
    req.body() = ev->json;
    if (!hook.record.secret.empty()) {
      req.set("X-Iotstream-Signature", "sha256=" + WebhookSignature(req.body(), hook.record.secret));
    }
    req.prepare_payload();
    auto answer = poster_->Post(webhook_id, hook.url, req, options_.request_timeout);
    if (answer.ok() && answer.value() >= 200 && answer.value() < 300) {
      if (const int64_t start = ev->frame_received_ms; start > 0) {
        latency_.Record(std::max<int64_t>(0, NowMs() - start) * 1000);
      }
      return Outcome::kDelivered;
    }
    error = answer.ok() ? "HTTP " + std::to_string(answer.value()) : answer.status().message();
  }
  failed_attempts_.Add();
  const int64_t now = NowMs();
  if ((!event.ok() && event.status().IsNotFound()) || now - entry.created_ms >= options_.retry_ms) {
    IOT_LOG(kWarn) << "webhooks: giving up delivery " << webhook_id << "-" << entry.event_id << " to " << hook.record.url
                   << " after " << entry.attempts + 1 << " attempt(s): " << error;
    if (Status st = outbox_->GiveUp(webhook_id, entry.event_id, error, now); !st.ok()) {
      store_errors_.Add();
      return Outcome::kNotNoted;
    }
    given_up_.Add();
    backlog_.Add(-1);
    return Outcome::kNoted;
  }
  IOT_LOG(kDebug) << "webhooks: delivery " << webhook_id << "-" << entry.event_id << " failed: " << error;
  if (Status st = outbox_->Failed(webhook_id, entry.event_id, error, now, NextAttemptMs(entry, now)); !st.ok()) {
    store_errors_.Add();
    return Outcome::kNotNoted;
  }
  return Outcome::kNoted;
}

int64_t WebhookPublisher::NextAttemptMs(const store::OutboxEntry& entry, int64_t now_ms) {
  int64_t delay = options_.first_backoff_ms;
  for (int i = 0; i < entry.attempts && delay < options_.max_backoff_ms; ++i) delay *= 2;
  delay = std::min(delay, options_.max_backoff_ms);
  delay += std::uniform_int_distribution<int64_t>(0, delay / 5)(jitter_);
  // The last attempt comes when the retry time ends, not after it.
  return std::min(now_ms + delay, entry.created_ms + options_.retry_ms);
}

}  // namespace iotstream::notify
