#include "cluster/pg_outbox.h"

#include <algorithm>
#include <unordered_set>
#include <utility>
#include <vector>

#include "cluster/database.h"
#include "core/clock.h"
#include "core/log.h"

namespace iotstream::cluster {
namespace {

// A statement of the outbox waits at most this long (the cursor lock included: another node's Enqueue holds it for
// one short transaction).
constexpr int64_t kStatementDeadlineMs = 5'000;
// Done rows are pruned at most this often (and at every Enqueue when keep_done_ms is shorter).
constexpr int64_t kPruneEveryMs = 60'000;

// A PostgreSQL array literal of integers: {1,2,3}.
template <typename Int>
std::string ArrayOf(const std::vector<Int>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(values[i]);
  }
  return out + "}";
}

int64_t Int(const pg::Rows& rows, int row, int column) { return std::stoll(rows.Text(row, column)); }

std::string Text(int64_t v) { return std::to_string(v); }

// The claim of a webhook is this node's when it names this node: lapsed or not, no other node has taken it (taking
// it rewrites claimed_by, under the row's lock, which this statement waits for).
constexpr const char* kRenewClaimSql =
    "UPDATE webhooks SET claimed_until = now() + make_interval(secs => $3::double precision / 1000)"
    " WHERE id = $1 AND claimed_by = $2 RETURNING id";

class PgOutbox final : public store::Outbox {
 public:
  explicit PgOutbox(PgOutboxOptions options)
      : options_(std::move(options)),
        db_(options_.database_url, kStatementDeadlineMs, [this](pg::Connection& c) { return MakeCursor(c); }) {}

  ~PgOutbox() override {
    if (Status st = db_.RunIfConnected(
            "UPDATE webhooks SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = $1", {options_.node_id});
        !st.ok()) {
      IOT_LOG(kWarn) << "webhooks: releasing the claims of node " << options_.node_id << ": " << st.ToString();
    }
  }

  Status Init() { return db_.Connect(); }

  bool shared() const override { return true; }

  Result<store::WebhookRecord> AddWebhook(const store::WebhookRecord& webhook) override {
    if (webhook.url.empty()) return Status::InvalidArgument("a webhook needs a url");
    for (const auto* list : {&webhook.types, &webhook.cameras, &webhook.persons, &webhook.not_persons}) {
      for (const auto& s : *list) {
        if (s.find('\n') != std::string::npos) return Status::InvalidArgument("a filter entry holds a newline");
      }
    }
    Result<store::WebhookRecord> added = Status::Internal("not run");
    const Status st = db_.InTransaction([&](pg::Connection& c) -> Status {
      added = Insert(c, webhook);
      return added.status();
    });
    if (!st.ok()) return st;
    return added;
  }

  Result<std::vector<store::WebhookRecord>> ListWebhooks() override {
    auto rows = db_.Query(
        "SELECT id, url, secret, types, cameras, persons, not_persons, configured, created_ms, last_success_ms,"
        " last_error, last_error_ms, failures, given_up,"
        " (SELECT count(*) FROM webhook_outbox o WHERE o.webhook_id = w.id AND o.done_ms IS NULL)"
        " FROM webhooks w ORDER BY id");
    if (!rows.ok()) return rows.status();
    const pg::Rows& r = rows.value();
    std::vector<store::WebhookRecord> out;
    for (int i = 0; i < r.size(); ++i) {
      store::WebhookRecord w;
      w.id = Int(r, i, 0);
      w.url = r.Text(i, 1);
      w.secret = r.Text(i, 2);
      w.types = store::SplitFilterList(r.Text(i, 3));
      w.cameras = store::SplitFilterList(r.Text(i, 4));
      w.persons = store::SplitFilterList(r.Text(i, 5));
      w.not_persons = store::SplitFilterList(r.Text(i, 6));
      w.configured = r.Text(i, 7) == "t";
      w.created_ms = Int(r, i, 8);
      if (auto v = r.Get(i, 9)) w.last_success_ms = std::stoll(*v);
      w.last_error = r.Text(i, 10);
      if (auto v = r.Get(i, 11)) w.last_error_ms = std::stoll(*v);
      w.failures = Int(r, i, 12);
      w.given_up = Int(r, i, 13);
      w.backlog = Int(r, i, 14);
      out.push_back(std::move(w));
    }
    return out;
  }

  Result<int64_t> DeleteWebhook(int64_t id) override {
    int64_t dropped = 0;
    bool existed = false;
    Status st = db_.InTransaction([&](pg::Connection& c) -> Status {
      if (Status s = LockCursor(c).status(); !s.ok()) return s;
      return Remove(c, id, &existed, &dropped);
    });
    if (!st.ok()) return st;
    if (!existed) return Status::NotFound("no webhook " + std::to_string(id));
    return dropped;
  }

  Result<int64_t> SyncConfigured(const std::vector<std::string>& urls) override {
    int64_t dropped = 0;
    Status st = db_.InTransaction([&](pg::Connection& c) -> Status {
      // Under the cursor lock: nodes that start together see each other's configured webhooks, and none adds one
      // twice.
      if (Status s = LockCursor(c).status(); !s.ok()) return s;
      auto have = c.Exec("SELECT id, url FROM webhooks WHERE configured ORDER BY id");
      if (!have.ok()) return have.status();
      std::unordered_set<std::string> wanted(urls.begin(), urls.end());
      for (int i = 0; i < have.value().size(); ++i) {
        if (wanted.erase(have.value().Text(i, 1)) != 0) continue;  // kept
        bool existed = false;
        if (Status s = Remove(c, Int(have.value(), i, 0), &existed, &dropped); !s.ok()) return s;
      }
      for (const auto& url : urls) {
        if (wanted.erase(url) == 0) continue;  // kept above, or listed twice
        store::WebhookRecord w;
        w.url = url;
        w.configured = true;
        if (auto added = Insert(c, w); !added.ok()) return added.status();
      }
      return Status::Ok();
    });
    if (!st.ok()) return st;
    return dropped;
  }

  Result<int64_t> Cursor() override {
    auto rows = db_.Query("SELECT last_event_id FROM webhook_cursor WHERE id = 1");
    if (!rows.ok()) return rows.status();
    if (rows.value().size() == 0) return Status::Internal("the webhook cursor row is missing");
    return Int(rows.value(), 0, 0);
  }

  Result<int64_t> Enqueue(const std::vector<store::OutboxEntry>& entries, int64_t cursor) override {
    std::vector<int64_t> webhook_ids, event_ids, next_attempts, created;
    std::vector<int> attempts;
    for (const auto& e : entries) {
      webhook_ids.push_back(e.webhook_id);
      event_ids.push_back(e.event_id);
      attempts.push_back(e.attempts);
      next_attempts.push_back(e.next_attempt_ms);
      created.push_back(e.created_ms);
    }
    int64_t added = 0;
    Status st = db_.InTransaction([&](pg::Connection& c) -> Status {
      // The fan-outs of all nodes take turns on the cursor row.
      if (Status s = LockCursor(c).status(); !s.ok()) return s;
      if (Status s = PruneWhenDue(c); !s.ok()) return s;
      if (!entries.empty()) {
        // A row there already, owed or done, is kept as it is; one of a deleted webhook or at or below the floor is
        // not added.
        auto rows = c.Exec(
            "WITH added AS ("
            " INSERT INTO webhook_outbox (webhook_id, event_id, attempts, next_attempt_ms, created_ms)"
            " SELECT e.webhook_id, e.event_id, e.attempts, e.next_attempt_ms, e.created_ms"
            " FROM unnest($1::bigint[], $2::bigint[], $3::integer[], $4::bigint[], $5::bigint[])"
            "   AS e(webhook_id, event_id, attempts, next_attempt_ms, created_ms)"
            " JOIN webhooks w ON w.id = e.webhook_id"
            " WHERE e.event_id > (SELECT floor_event_id FROM webhook_cursor WHERE id = 1)"
            " ON CONFLICT (webhook_id, event_id) DO NOTHING RETURNING 1)"
            " SELECT count(*) FROM added",
            {ArrayOf(webhook_ids), ArrayOf(event_ids), ArrayOf(attempts), ArrayOf(next_attempts), ArrayOf(created)});
        if (!rows.ok()) return rows.status();
        added = Int(rows.value(), 0, 0);
      }
      return c.Run("UPDATE webhook_cursor SET last_event_id = GREATEST(last_event_id, $1) WHERE id = 1",
                   {Text(cursor)});
    });
    if (!st.ok()) return st;
    return added;
  }

  Result<std::vector<store::OutboxEntry>> Heads(size_t per_webhook) override {
    std::vector<store::OutboxEntry> out;
    Status st = db_.InTransaction([&](pg::Connection& c) -> Status {
      // The claim first: a webhook locked by another node's Heads is skipped, and the claim is re-checked on the
      // newest row version, so a webhook another node claimed meanwhile is not taken.
      auto claimed = c.Exec(
          "UPDATE webhooks SET claimed_by = $1,"
          " claimed_until = now() + make_interval(secs => $2::double precision / 1000)"
          " WHERE id IN (SELECT w.id FROM webhooks w"
          "  WHERE (w.claimed_by IS NULL OR w.claimed_by = $1 OR w.claimed_until < now())"
          "  AND (SELECT o.next_attempt_ms FROM webhook_outbox o WHERE o.webhook_id = w.id AND o.done_ms IS NULL"
          "       ORDER BY o.event_id LIMIT 1) <= $3"
          "  ORDER BY w.id FOR NO KEY UPDATE SKIP LOCKED)"
          " RETURNING id",
          {options_.node_id, Text(options_.lease_ms), Text(NowMs())});
      if (!claimed.ok()) return claimed.status();
      if (claimed.value().size() == 0) return Status::Ok();
      std::vector<int64_t> ids;
      for (int i = 0; i < claimed.value().size(); ++i) ids.push_back(Int(claimed.value(), i, 0));
      // A statement of its own, so that its snapshot holds what the former claimer committed before letting go.
      auto rows = c.Exec(
          "SELECT o.webhook_id, o.event_id, o.attempts, o.next_attempt_ms, o.created_ms"
          " FROM unnest($1::bigint[]) AS c(id) CROSS JOIN LATERAL"
          " (SELECT * FROM webhook_outbox o WHERE o.webhook_id = c.id AND o.done_ms IS NULL"
          "  ORDER BY o.event_id LIMIT $2) o"
          " ORDER BY o.webhook_id, o.event_id",
          {ArrayOf(ids), Text(static_cast<int64_t>(std::max<size_t>(1, per_webhook)))});
      if (!rows.ok()) return rows.status();
      const pg::Rows& r = rows.value();
      for (int i = 0; i < r.size(); ++i) {
        out.push_back(store::OutboxEntry{Int(r, i, 0), Int(r, i, 1), static_cast<int>(Int(r, i, 2)), Int(r, i, 3),
                                         Int(r, i, 4)});
      }
      return Status::Ok();
    });
    if (!st.ok()) return st;
    return out;
  }

  Status Delivered(int64_t webhook_id, const std::vector<int64_t>& event_ids, int64_t now_ms) override {
    if (event_ids.empty()) return Status::Ok();
    return db_.InTransaction([&](pg::Connection& c) -> Status {
      auto held = RenewClaim(c, webhook_id);
      if (!held.ok() || !held.value()) return held.status();
      if (Status s = c.Run("UPDATE webhooks SET last_success_ms = $2 WHERE id = $1", {Text(webhook_id), Text(now_ms)});
          !s.ok()) {
        return s;
      }
      return c.Run(
          "UPDATE webhook_outbox SET done_ms = $3 WHERE webhook_id = $1 AND event_id = ANY($2::bigint[])"
          " AND done_ms IS NULL",
          {Text(webhook_id), ArrayOf(event_ids), Text(now_ms)});
    });
  }

  Status Failed(int64_t webhook_id, int64_t event_id, const std::string& error, int64_t now_ms,
                int64_t next_attempt_ms) override {
    return db_.InTransaction([&](pg::Connection& c) -> Status {
      auto held = RenewClaim(c, webhook_id);
      if (!held.ok() || !held.value()) return held.status();
      if (Status s = c.Run(
              "UPDATE webhook_outbox SET attempts = attempts + 1, next_attempt_ms = $3, last_error = $4"
              " WHERE webhook_id = $1 AND event_id = $2 AND done_ms IS NULL",
              {Text(webhook_id), Text(event_id), Text(next_attempt_ms), error});
          !s.ok()) {
        return s;
      }
      return NoteError(c, webhook_id, error, now_ms, /*gave_up=*/false);
    });
  }

  Status GiveUp(int64_t webhook_id, int64_t event_id, const std::string& error, int64_t now_ms) override {
    return db_.InTransaction([&](pg::Connection& c) -> Status {
      auto held = RenewClaim(c, webhook_id);
      if (!held.ok() || !held.value()) return held.status();
      if (Status s = c.Run(
              "UPDATE webhook_outbox SET done_ms = $3, last_error = $4"
              " WHERE webhook_id = $1 AND event_id = $2 AND done_ms IS NULL",
              {Text(webhook_id), Text(event_id), Text(now_ms), error});
          !s.ok()) {
        return s;
      }
      return NoteError(c, webhook_id, error, now_ms, /*gave_up=*/true);
    });
  }

  Result<int64_t> Backlog() override {
    auto rows = db_.Query("SELECT count(*) FROM webhook_outbox WHERE done_ms IS NULL");
    if (!rows.ok()) return rows.status();
    return Int(rows.value(), 0, 0);
  }

 private:
  // With the first connection: the cursor, unless the database has one. A negative first cursor is the newest event in
  // the shared log then (no history).
  Status MakeCursor(pg::Connection& c) const {
    return c.Run(
        "INSERT INTO webhook_cursor (id, last_event_id, floor_event_id)"
        " SELECT 1, c, c FROM (SELECT CASE WHEN $1::bigint >= 0 THEN $1::bigint"
        " ELSE (SELECT coalesce(max(id), 0) FROM events) END AS c) AS first ON CONFLICT DO NOTHING",
        {Text(options_.first_cursor)});
  }

  // Holds the cursor row until the transaction ends: every change of webhooks or of what the outbox owes takes it
  // first, so that they never deadlock on each other's rows.
  static Result<pg::Rows> LockCursor(pg::Connection& c) {
    return c.Exec("SELECT last_event_id FROM webhook_cursor WHERE id = 1 FOR UPDATE");
  }

  // Inside a transaction holding the cursor lock: every kPruneEveryMs (or keep_done_ms, if shorter), raises the
  // floor to the newest event id among rows added before keep_done_ms, and removes the done rows at or below it.
  Status PruneWhenDue(pg::Connection& c) {
    const int64_t now_us = MonotonicUs();
    if (pruned_us_ != 0 && now_us - pruned_us_ < std::min(kPruneEveryMs, options_.keep_done_ms) * 1000) {
      return Status::Ok();
    }
    Status st = c.Run(
        "UPDATE webhook_cursor SET floor_event_id = GREATEST(floor_event_id, coalesce((SELECT max(event_id)"
        " FROM webhook_outbox WHERE added_at < now() - make_interval(secs => $1::double precision / 1000)),"
        " floor_event_id)) WHERE id = 1",
        {Text(options_.keep_done_ms)});
    if (st.ok()) {
      st = c.Run(
          "DELETE FROM webhook_outbox WHERE done_ms IS NOT NULL"
          " AND event_id <= (SELECT floor_event_id FROM webhook_cursor WHERE id = 1)");
    }
    if (st.ok()) pruned_us_ = now_us;
    return st;
  }

  Result<store::WebhookRecord> Insert(pg::Connection& c, const store::WebhookRecord& webhook) {
    store::WebhookRecord w = webhook;
    w.created_ms = NowMs();
    w.last_success_ms.reset();
    w.last_error.clear();
    w.last_error_ms.reset();
    w.failures = w.given_up = w.backlog = 0;
    auto rows = c.Exec(
        "INSERT INTO webhooks (url, secret, types, cameras, persons, not_persons, configured, created_ms)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        {w.url, w.secret, store::JoinFilterList(w.types), store::JoinFilterList(w.cameras), store::JoinFilterList(w.persons), store::JoinFilterList(w.not_persons),
         w.configured ? "true" : "false", Text(w.created_ms)});
    if (!rows.ok()) return rows.status();
    w.id = Int(rows.value(), 0, 0);
    return w;
  }

  // Inside a transaction: removes webhook `id` and its rows; adds the rows it was still owed to *dropped.
  static Status Remove(pg::Connection& c, int64_t id, bool* existed, int64_t* dropped) {
    auto locked = c.Exec("SELECT id FROM webhooks WHERE id = $1 FOR UPDATE", {Text(id)});
    if (!locked.ok()) return locked.status();
    *existed = locked.value().size() > 0;
    if (!*existed) return Status::Ok();
    auto owed = c.Exec(
        "WITH gone AS (DELETE FROM webhook_outbox WHERE webhook_id = $1 RETURNING done_ms)"
        " SELECT count(*) FILTER (WHERE done_ms IS NULL) FROM gone",
        {Text(id)});
    if (!owed.ok()) return owed.status();
    *dropped += Int(owed.value(), 0, 0);
    return c.Run("DELETE FROM webhooks WHERE id = $1", {Text(id)});
  }

  // Inside a transaction: renews this node's claim on the webhook (true), or finds the webhook gone (false: its
  // rows went with it, nothing is left to note). Conflict when this node holds no claim on it (another node took
  // it after it lapsed, or it was never claimed here).
  Result<bool> RenewClaim(pg::Connection& c, int64_t webhook_id) {
    auto renewed = c.Exec(kRenewClaimSql, {Text(webhook_id), options_.node_id, Text(options_.lease_ms)});
    if (!renewed.ok()) return renewed.status();
    if (renewed.value().size() > 0) return true;
    auto holder = c.Exec("SELECT claimed_by FROM webhooks WHERE id = $1", {Text(webhook_id)});
    if (!holder.ok()) return holder.status();
    if (holder.value().size() == 0) return false;
    const auto by = holder.value().Get(0, 0);
    return Status::Conflict("webhook " + std::to_string(webhook_id) + " is " +
                            (by ? "claimed by node " + *by : std::string("not claimed")) + ", not by node " +
                            options_.node_id + ": its rows are left to the claimer");
  }

  static Status NoteError(pg::Connection& c, int64_t webhook_id, const std::string& error, int64_t now_ms,
                          bool gave_up) {
    return c.Run(
        "UPDATE webhooks SET failures = failures + 1, given_up = given_up + $2, last_error = $3, last_error_ms = $4"
        " WHERE id = $1",
        {Text(webhook_id), gave_up ? "1" : "0", error, Text(now_ms)});
  }

  const PgOutboxOptions options_;
  Database db_;
  int64_t pruned_us_ = 0;  // inside db_'s transactions only: when done rows were last pruned (monotonic); 0: never
};

}  // namespace

Result<std::unique_ptr<store::Outbox>> OpenPgOutbox(const PgOutboxOptions& options) {
  auto outbox = std::make_unique<PgOutbox>(options);
  // A database that cannot be reached yet is connected to (and migrated) by the first call that finds it.
  if (Status st = outbox->Init(); !st.ok() && !st.IsUnavailable() && !st.IsTimeout()) return st;
  return std::unique_ptr<store::Outbox>(std::move(outbox));
}

}  // namespace iotstream::cluster
