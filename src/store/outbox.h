// Outbox: the webhooks (table `webhooks`) and the deliveries they still owe (table `webhook_outbox`: one row per
// webhook per event, oldest event first), in the same SQLite database as the event log (its own connection). The
// event's body is not copied here: a delivery reads it back from the event log by id. A cursor (the id of the last
// event fanned out to the outbox) is committed with each batch of rows, so that events logged but not yet fanned
// out when the process died are found again.
//
// Thread-safe: one mutex serialises this object's SQLite connection. Every method blocks on the disk: call it from
// a notify or disk-pool thread, never from an HTTP I/O thread. A method that returns OK has committed. Errors are
// IOError (SQLite), NotFound (no such webhook) or InvalidArgument, as stated per method.
//
// The interface has a second implementation, shared by the nodes of a cluster (cluster/pg_outbox.h): see shared().
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace iotstream::store {

struct WebhookRecord {
  int64_t id = 0;                        // assigned by AddWebhook; never reused after a delete
  std::string url;
  std::string secret;                    // HMAC key of the signature; empty: deliveries are not signed
  std::vector<std::string> types;        // event types it wants; empty: all
  std::vector<std::string> cameras;      // device ids; empty: all (events without a camera too)
  std::vector<std::string> persons;      // person names or ids; empty: all
  std::vector<std::string> not_persons;  // person names or ids it never wants
  bool configured = false;               // from --webhook (kept in step with the flags), not the API
  int64_t created_ms = 0;
  // Delivery status, kept by the outbox.
  std::optional<int64_t> last_success_ms;
  std::string last_error;                // empty: none yet
  std::optional<int64_t> last_error_ms;
  int64_t failures = 0;                  // failed attempts, ever
  int64_t given_up = 0;                  // events dropped after their retry time
  int64_t backlog = 0;                   // rows waiting (filled by ListWebhooks)
};

// A delivery owed: event `event_id` to webhook `webhook_id`.
struct OutboxEntry {
  int64_t webhook_id = 0;
  int64_t event_id = 0;
  int attempts = 0;              // failed attempts so far
  int64_t next_attempt_ms = 0;   // not before this wall-clock time
  int64_t created_ms = 0;        // when it entered the outbox; the retry time counts from here
};

// A webhook's filter list as the outboxes store it: one entry per line (AddWebhook refuses entries holding one).
std::string JoinFilterList(const std::vector<std::string>& list);
std::vector<std::string> SplitFilterList(const std::string& text);

class Outbox {
 public:
  // Opens <data_dir>/iotstream.db, creating the tables. The first open ever sets the cursor to `first_cursor`
  // (the newest event id then: webhooks get what happens from now on, not the history).
  static Result<std::unique_ptr<Outbox>> Open(const std::string& data_dir, int64_t first_cursor);
  virtual ~Outbox() = default;
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  // ---- webhooks ----
  // Stores `webhook` (id, created_ms and status fields are assigned; the rest is taken as given: the caller has
  // validated it). InvalidArgument for an empty url or a list entry holding a newline.
  virtual Result<WebhookRecord> AddWebhook(const WebhookRecord& webhook) = 0;
  // Every webhook, oldest first, with its backlog.
  virtual Result<std::vector<WebhookRecord>> ListWebhooks() = 0;
  // Removes the webhook and what it is still owed; returns how many deliveries were dropped. NotFound if absent.
  virtual Result<int64_t> DeleteWebhook(int64_t id) = 0;
  // Makes the configured webhooks (configured = true) exactly `urls`: adds the missing ones, removes (with their
  // backlog) those no longer listed. API webhooks are left alone. Returns the deliveries dropped.
  virtual Result<int64_t> SyncConfigured(const std::vector<std::string>& urls) = 0;

  // ---- deliveries ----
  // The id of the last event fanned out.
  virtual Result<int64_t> Cursor() = 0;
  // Adds `entries` (an entry already there is kept as it is) and moves the cursor to `cursor`, in one
  // transaction; entries of a webhook deleted meanwhile are skipped. Returns the rows added.
  virtual Result<int64_t> Enqueue(const std::vector<OutboxEntry>& entries, int64_t cursor) = 0;
  // The oldest `per_webhook` entries of every webhook that has any, by webhook id, each webhook's oldest first: they
  // go in that order, the first one first (order per webhook).
  virtual Result<std::vector<OutboxEntry>> Heads(size_t per_webhook = 1) = 0;
  // These entries of the webhook were delivered: removes them and notes the success, in one transaction (one commit
  // for a run of deliveries, not one each). Entries gone already are skipped.
  virtual Status Delivered(int64_t webhook_id, const std::vector<int64_t>& event_ids, int64_t now_ms) = 0;
  // An attempt failed: counts it, keeps `error`, and schedules the next attempt at `next_attempt_ms`.
  virtual Status Failed(int64_t webhook_id, int64_t event_id, const std::string& error, int64_t now_ms,
                        int64_t next_attempt_ms) = 0;
  // The last attempt failed and the retry time is over: removes the entry, counts a failure and a give-up, keeps
  // `error`.
  virtual Status GiveUp(int64_t webhook_id, int64_t event_id, const std::string& error, int64_t now_ms) = 0;
  // Rows waiting, over all webhooks.
  virtual Result<int64_t> Backlog() = 0;

  // Whether other processes (the nodes of a cluster) fan out to and deliver from this outbox too. A shared outbox
  // differs from the contract above in three ways: Enqueue skips by itself what was fanned out before (by anyone,
  // at or below the cursor too), so its caller may hand it any event; Heads returns only the webhooks this process
  // may deliver now (the others' wait for the process delivering them); and Delivered, Failed and GiveUp refuse
  // (Conflict) rows this process no longer holds. Its users learn of the others' events, webhooks and rows only by
  // reading again, so they poll. The SQLite outbox (Open) is not shared.
  virtual bool shared() const { return false; }

 protected:
  Outbox() = default;
};

}  // namespace iotstream::store
