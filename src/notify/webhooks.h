// Webhooks: every logged event, as a signed JSON POST, to each webhook whose filters want it, from a durable outbox.
//
// The way an event goes: Publish() queues it (bounded; a full queue drops and counts it, and the fan-out thread
// later reads what it missed from the event log) -> the fan-out thread adds one outbox row per webhook that wants
// it, and moves the outbox's cursor, in one transaction -> the delivery thread sends each webhook's oldest row
// (the next event of a webhook waits until the one before it was delivered or given up), the body read back from
// the event log. 2xx: delivered, the row goes. Else retried with exponential backoff (first_backoff_ms doubling to
// max_backoff_ms, plus up to 20 % jitter) until retry_ms after the row was added, then given up (counted, the error
// kept). The outbox is in SQLite, so deliveries owed survive a restart or kill -9; delivery is at least once (a
// crash between the receiver's 2xx and the commit sends that event again, with the same X-Iotstream-Delivery).
//
// Headers: Content-Type: application/json, X-Iotstream-Event: <type>, X-Iotstream-Delivery: <webhook>-<event>, and
// with a secret X-Iotstream-Signature: sha256=<hex HMAC-SHA256 of the body, keyed with the secret>.
//
// Connections: one kept-alive HTTP/1.1 connection per webhook (TLS for https://, verified against ca_file or the
// system's CAs), opened at its first delivery and again after an error or an answer with Connection: close; the
// host is resolved once and again after a failed connect. A request that finds its kept-alive connection closed by
// the receiver goes once more on a new one, in the same attempt. A deleted webhook's connection is closed.
//
// A shared outbox (store::Outbox::shared(): the cluster's, in PostgreSQL, used by the publisher of every node): the
// events other nodes log reach this node only through the event log, and their webhooks only through the outbox,
// so the fan-out reads both again every shared_poll_ms and the delivery thread asks for rows it may deliver at
// least as often. Every event this node publishes is handed to the outbox at once (which skips what was fanned out
// before), but only reading the log moves the shared cursor, in id order: an event logged and never published
// (its node died first) is found by the next poll of any node. Delivered rows are noted at least every second
// during a run, within the outbox's claim. A webhook created on another node gets the events fanned out from this
// node's next poll on. notify_webhook_backlog is then the cluster's, read again at every poll.
//
// Thread-safety: every method may be called from any thread. Publish() never blocks. Create, List and Delete block
// on the outbox (SQLite, or the cluster's PostgreSQL): call them off I/O threads. One attempt takes at most
// request_timeout (name resolution aside, which is bounded by the system resolver), and attempts run one at a time,
// so an unresponsive receiver delays the others' deliveries by at most that per attempt.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/event.h"
#include "core/metrics.h"
#include "core/status.h"
#include "store/outbox.h"
#include "store/records.h"

namespace iotstream::notify {

struct WebhookOptions {
  std::vector<std::string> urls;                        // --webhook: configured webhooks (all events, unsigned)
  int64_t retry_ms = 86'400'000;                        // a delivery is retried for this long, then given up
  int64_t first_backoff_ms = 1'000;                     // the first retry waits this long, each next one twice as
  int64_t max_backoff_ms = 300'000;                     // long, up to this
  std::chrono::milliseconds request_timeout{5'000};     // one attempt: connect, TLS, request, answer's head
  std::string ca_file;                                  // --webhook-ca-file: CAs for https:// (empty: the system's)
  size_t max_queued = 1'024;                            // events waiting for the fan-out; more are dropped (counted)
  size_t batch = 256;                                   // events fanned out per transaction at most
  int64_t shared_poll_ms = 500;                         // a shared outbox: how often the others' work is looked for
};

// A webhook URL the publisher can deliver to: http:// or https://, a host (name, IPv4 or [IPv6]), an optional port,
// a path; no user info, no fragment, no spaces, at most 2048 characters. InvalidArgument says what is wrong.
Status CheckWebhookUrl(std::string_view url);

// The cursor a new outbox starts at: the id of the newest event in `records` (0: none), so that webhooks get what
// happens from then on, not the history. The event log's error when it cannot be read.
Result<int64_t> FirstOutboxCursor(store::Records& records);

// The lower-case hex HMAC-SHA256 of `body` keyed with `secret` (what follows "sha256=" in the signature header).
std::string WebhookSignature(std::string_view body, std::string_view secret);

class WebhookPublisher final : public EventPublisher {
 public:
  // Opens the outbox in <data_dir>/iotstream.db (beside `records`' tables), makes the configured webhooks those of
  // options.urls, and starts the fan-out and delivery threads (which first resume what the outbox holds and catch
  // up with events logged but not fanned out). InvalidArgument for a bad --webhook URL or an unreadable
  // options.ca_file; IOError from SQLite.
  // `records` and `metrics` must outlive the publisher.
  static Result<std::unique_ptr<WebhookPublisher>> Start(WebhookOptions options, const std::string& data_dir,
                                                         store::Records& records, Metrics& metrics);
  // The same with `outbox` (REQUIRES: not null; e.g. a cluster's, cluster::OpenPgOutbox, opened at
  // FirstOutboxCursor) in place of the SQLite one; the outbox's own errors instead of SQLite's.
  static Result<std::unique_ptr<WebhookPublisher>> Start(WebhookOptions options, std::unique_ptr<store::Outbox> outbox,
                                                         store::Records& records, Metrics& metrics);
  // Stops both threads (an attempt in flight finishes first); what is owed stays in the outbox for the next start.
  ~WebhookPublisher() override;
  WebhookPublisher(const WebhookPublisher&) = delete;
  WebhookPublisher& operator=(const WebhookPublisher&) = delete;

  // Queues the event for the fan-out; never blocks. REQUIRES: `event` is a logged event (its JSON has its "id").
  void Publish(const EventPtr& event) override;

  // Adds a webhook from `spec` (url, secret, filters; the rest is ignored). It gets the events logged from now on.
  // InvalidArgument: a bad url, an unknown event type, a secret over 256 or a filter entry outside 1-128 characters
  // (or holding a control character), more than 64 entries in a filter.
  Result<store::WebhookRecord> Create(store::WebhookRecord spec);
  // Every webhook with its delivery status, oldest first. Secrets are left empty.
  Result<std::vector<store::WebhookRecord>> List();
  // Removes an API webhook and what it is owed. NotFound if absent; InvalidArgument for one set by --webhook.
  Status Delete(int64_t id);

 private:
  struct Hook;
  struct Item;
  class Poster;
  using Hooks = std::shared_ptr<const std::vector<Hook>>;

  WebhookPublisher(WebhookOptions options, std::unique_ptr<store::Outbox> outbox, std::unique_ptr<Poster> poster,
                   store::Records& records, Metrics& metrics);
  // Makes the configured webhooks those of the options and reads the webhooks, the cursor and the backlog. Before
  // the threads start, or on the fan-out thread.
  Status Prepare();
  // Counts a store error, logging it when the store answered before; StoreAnswers() notes that it answers again.
  void StoreError(const char* doing, const Status& why);
  void StoreAnswers();
  // Reads the webhooks again; wakes the delivery thread when `wake`.
  Status Reload(bool wake = true);
  Hooks hooks() const;
  void FanOut();
  // Fans out `batch` (published events); false after a store error.
  bool FanOutBatch(const std::deque<EventPtr>& batch);
  // A shared outbox: reads the webhooks, the backlog and the cursor again, then what the log holds after the
  // cursor (other nodes' events; with no webhook, the cursor only skips to the newest event); false after a store
  // error.
  bool Poll();
  // Adds the outbox rows of `items` (oldest first, after the cursor) and moves the cursor past them; false after a
  // store error. Published items (`from_log` false) leave a shared outbox's cursor where it is: there only reading
  // the log moves it, so that an event logged but never published (its node died) is still found there.
  bool Enqueue(const std::vector<Item>& items, bool from_log);
  // Fans out what the event log holds after the cursor; false after a store error.
  bool CatchUp();
  void Deliver();
  // Delivers `run` (a webhook's oldest rows, in order) until a row fails or is not due yet, and notes the successes
  // in the outbox in one transaction: one commit per run, so that a backlog drains at the speed of the POSTs rather
  // than of SQLite's write lock. Sets *attempted when it tried one, lowers *wake_ms to a row not due yet; false when
  // the outbox did not take an outcome.
  bool DeliverRun(const Hook& hook, const std::vector<store::OutboxEntry>& run, bool* attempted, int64_t* wake_ms);
  enum class Outcome { kDelivered, kNoted, kNotNoted };
  // One attempt at `entry`: a failure is noted in the outbox at once (kNoted, or kNotNoted when the outbox did not
  // take it); a delivery (kDelivered) is left for DeliverRun to note.
  Outcome Attempt(const Hook& hook, const store::OutboxEntry& entry);
  int64_t NextAttemptMs(const store::OutboxEntry& entry, int64_t now_ms);
  void WakeDelivery();

  const WebhookOptions options_;
  std::unique_ptr<store::Outbox> outbox_;
  store::Records& records_;
  Counter& dropped_;
  Counter& delivered_;
  Counter& failed_attempts_;
  Counter& given_up_;
  Counter& store_errors_;
  Gauge& backlog_;
  Histogram& latency_;
  std::unique_ptr<Poster> poster_;  // used by the delivery thread only
  std::mt19937_64 jitter_;          // used by the delivery thread only
  int64_t cursor_ = 0;              // used by the fan-out thread only (set before it starts)
  const bool shared_;               // outbox_->shared()
  bool prepared_ = true;            // the fan-out thread's (set before it starts): Prepare has succeeded
  std::atomic<bool> store_failing_{false};  // the last store call of either thread failed (and was logged)

  mutable std::mutex hooks_mu_;
  Hooks hooks_;  // guarded by hooks_mu_; replaced whole, read by copying the pointer

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<EventPtr> queue_;  // guarded by queue_mu_
  bool catch_up_ = true;        // guarded by queue_mu_: read the log after the cursor (at start, after a drop)
  bool stopping_ = false;       // guarded by queue_mu_

  std::mutex deliver_mu_;
  std::condition_variable deliver_cv_;
  bool deliver_wake_ = false;        // guarded by deliver_mu_: new rows or webhooks
  bool deliver_stopping_ = false;    // guarded by deliver_mu_

  std::thread fan_out_;   // last two: start once everything above is built
  std::thread delivery_;
};

}  // namespace iotstream::notify
