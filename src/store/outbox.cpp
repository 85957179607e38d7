#include "store/outbox.h"

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <unordered_set>

#include "core/clock.h"
#include "store/sqlite.h"

namespace iotstream::store {
namespace {

// AUTOINCREMENT: a deleted webhook's id is never given again, so "<webhook>-<event>" names one delivery forever.
constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS webhooks (
  id INTEGER PRIMARY KEY AUTOINCREMENT, url TEXT NOT NULL, secret TEXT NOT NULL, types TEXT NOT NULL,
  cameras TEXT NOT NULL, persons TEXT NOT NULL, not_persons TEXT NOT NULL, configured INTEGER NOT NULL,
  created_ms INTEGER NOT NULL, last_success_ms INTEGER, last_error TEXT NOT NULL DEFAULT '', last_error_ms INTEGER,
  failures INTEGER NOT NULL DEFAULT 0, given_up INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS webhook_outbox (
  webhook_id INTEGER NOT NULL, event_id INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_ms INTEGER NOT NULL, last_error TEXT NOT NULL DEFAULT '', created_ms INTEGER NOT NULL,
  PRIMARY KEY (webhook_id, event_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS webhook_cursor (
  id INTEGER PRIMARY KEY CHECK (id = 1), last_event_id INTEGER NOT NULL);
)sql";

class OutboxImpl final : public Outbox {
 public:
  Status Init(const std::string& data_dir, int64_t first_cursor) {
    std::error_code ec;
    std::filesystem::create_directories(data_dir, ec);
    if (ec) return Status::IOError("cannot create " + data_dir + ": " + ec.message());
    if (Status s = db_.Open((std::filesystem::path(data_dir) / "iotstream.db").string()); !s.ok()) return s;
    if (Status s = db_.Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"); !s.ok()) return s;
    const SqliteMigration migrations[] = {{1, "webhooks", kSchema}};
    if (Status s = ApplyMigrations(db_, "outbox", migrations); !s.ok()) return s;
    Stmt init(db_.get(), "INSERT OR IGNORE INTO webhook_cursor (id, last_event_id) VALUES (1, ?)");
    return init.Bind(1, first_cursor).Run();
  }

  Result<WebhookRecord> AddWebhook(const WebhookRecord& webhook) override {
    if (webhook.url.empty()) return Status::InvalidArgument("a webhook needs a url");
    for (const auto* list : {&webhook.types, &webhook.cameras, &webhook.persons, &webhook.not_persons}) {
      for (const auto& s : *list) {
        if (s.find('\n') != std::string::npos) return Status::InvalidArgument("a filter entry holds a newline");
      }
    }
    std::lock_guard lock(mu_);
    return Insert(webhook);
  }

  Result<std::vector<WebhookRecord>> ListWebhooks() override {
    std::lock_guard lock(mu_);
    Stmt q(db_.get(),
           "SELECT id, url, secret, types, cameras, persons, not_persons, configured, created_ms, last_success_ms, "
           "last_error, last_error_ms, failures, given_up, "
           "(SELECT COUNT(*) FROM webhook_outbox WHERE webhook_id = webhooks.id) FROM webhooks ORDER BY id");
    return CollectRows<WebhookRecord>(q, [](const Stmt& row) {
      WebhookRecord w;
      w.id = row.Int(0);
      w.url = row.Text(1);
      w.secret = row.Text(2);
      w.types = SplitFilterList(row.Text(3));
      w.cameras = SplitFilterList(row.Text(4));
      w.persons = SplitFilterList(row.Text(5));
      w.not_persons = SplitFilterList(row.Text(6));
      w.configured = row.Int(7) != 0;
      w.created_ms = row.Int(8);
      if (!row.IsNull(9)) w.last_success_ms = row.Int(9);
      w.last_error = row.Text(10);
      if (!row.IsNull(11)) w.last_error_ms = row.Int(11);
      w.failures = row.Int(12);
      w.given_up = row.Int(13);
      w.backlog = row.Int(14);
      return w;
    });
  }

  Result<int64_t> DeleteWebhook(int64_t id) override {
    std::lock_guard lock(mu_);
    int64_t dropped = 0;
    bool existed = false;
    Status st = InTransaction(db_, [&] { return Remove(id, &existed, &dropped); });
    if (!st.ok()) return st;
    if (!existed) return Status::NotFound("no webhook " + std::to_string(id));
    return dropped;
  }

  Result<int64_t> SyncConfigured(const std::vector<std::string>& urls) override {
    std::lock_guard lock(mu_);
    int64_t dropped = 0;
    Status st = InTransaction(db_, [&]() -> Status {
      std::unordered_set<std::string> wanted(urls.begin(), urls.end());
      std::vector<std::pair<int64_t, std::string>> have;
      Stmt q(db_.get(), "SELECT id, url FROM webhooks WHERE configured = 1");
      Status rows = ForEachRow(q, [&](const Stmt& row) { have.emplace_back(row.Int(0), row.Text(1)); });
      if (!rows.ok()) return rows;
      for (const auto& [id, url] : have) {
        if (wanted.erase(url) != 0) continue;  // kept
        bool existed = false;
        if (Status s = Remove(id, &existed, &dropped); !s.ok()) return s;
      }
      for (const auto& url : urls) {
        if (wanted.erase(url) == 0) continue;  // kept above, or listed twice
        WebhookRecord w;
        w.url = url;
        w.configured = true;
        if (Result<WebhookRecord> added = Insert(w); !added.ok()) return added.status();
      }
      return Status::Ok();
    });
    if (!st.ok()) return st;
    return dropped;
  }

  Result<int64_t> Cursor() override {
    std::lock_guard lock(mu_);
    Stmt q(db_.get(), "SELECT last_event_id FROM webhook_cursor WHERE id = 1");
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status();
    if (!row.value()) return Status::Internal("the webhook cursor row is missing");
    return q.Int(0);
  }

  Result<int64_t> Enqueue(const std::vector<OutboxEntry>& entries, int64_t cursor) override {
    std::lock_guard lock(mu_);
    int64_t added = 0;
    Status st = InTransaction(db_, [&]() -> Status {
      Stmt ins(db_.get(),
               "INSERT OR IGNORE INTO webhook_outbox (webhook_id, event_id, attempts, next_attempt_ms, created_ms) "
               "SELECT id, ?, ?, ?, ? FROM webhooks WHERE id = ?");
      for (const auto& e : entries) {
        ins.Bind(1, e.event_id).Bind(2, int64_t{e.attempts}).Bind(3, e.next_attempt_ms).Bind(4, e.created_ms);
        ins.Bind(5, e.webhook_id);
        if (Status s = ins.Run(); !s.ok()) return s;
        added += sqlite3_changes(db_.get());
      }
      Stmt move(db_.get(), "UPDATE webhook_cursor SET last_event_id = ? WHERE id = 1");
      return move.Bind(1, cursor).Run();
    });
    if (!st.ok()) return st;
    return added;
  }

  Result<std::vector<OutboxEntry>> Heads(size_t per_webhook) override {
    std::lock_guard lock(mu_);
    // Per webhook a range of the primary key (webhook_id, event_id) in order: index lookups, not a scan of the
    // backlog.
    Stmt q(db_.get(),
           "SELECT o.webhook_id, o.event_id, o.attempts, o.next_attempt_ms, o.created_ms FROM webhooks w "
           "JOIN webhook_outbox o ON o.webhook_id = w.id AND o.event_id IN "
           "(SELECT event_id FROM webhook_outbox WHERE webhook_id = w.id ORDER BY event_id LIMIT ?) "
           "ORDER BY w.id, o.event_id");
    q.Bind(1, static_cast<int64_t>(std::max<size_t>(1, per_webhook)));
    return CollectRows<OutboxEntry>(q, [](const Stmt& row) {
      return OutboxEntry{row.Int(0), row.Int(1), static_cast<int>(row.Int(2)), row.Int(3), row.Int(4)};
    });
  }

  Status Delivered(int64_t webhook_id, const std::vector<int64_t>& event_ids, int64_t now_ms) override {
    if (event_ids.empty()) return Status::Ok();
    std::lock_guard lock(mu_);
    return InTransaction(db_, [&]() -> Status {
      for (int64_t event_id : event_ids) {
        if (Status s = DeleteEntry(webhook_id, event_id); !s.ok()) return s;
      }
      Stmt up(db_.get(), "UPDATE webhooks SET last_success_ms = ? WHERE id = ?");
      return up.Bind(1, now_ms).Bind(2, webhook_id).Run();
    });
  }

  Status Failed(int64_t webhook_id, int64_t event_id, const std::string& error, int64_t now_ms,
                int64_t next_attempt_ms) override {
    std::lock_guard lock(mu_);
    return InTransaction(db_, [&]() -> Status {
      Stmt up(db_.get(),
              "UPDATE webhook_outbox SET attempts = attempts + 1, next_attempt_ms = ?, last_error = ? "
              "WHERE webhook_id = ? AND event_id = ?");
      if (Status s = up.Bind(1, next_attempt_ms).Bind(2, error).Bind(3, webhook_id).Bind(4, event_id).Run(); !s.ok()) {
        return s;
      }
      return NoteError(webhook_id, error, now_ms, /*gave_up=*/false);
    });
  }

  Status GiveUp(int64_t webhook_id, int64_t event_id, const std::string& error, int64_t now_ms) override {
    std::lock_guard lock(mu_);
    return InTransaction(db_, [&]() -> Status {
      if (Status s = DeleteEntry(webhook_id, event_id); !s.ok()) return s;
      return NoteError(webhook_id, error, now_ms, /*gave_up=*/true);
    });
  }

  Result<int64_t> Backlog() override {
    std::lock_guard lock(mu_);
    Stmt q(db_.get(), "SELECT COUNT(*) FROM webhook_outbox");
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status();
    return q.Int(0);
  }

 private:
  // REQUIRES: mu_ held.
  Result<WebhookRecord> Insert(const WebhookRecord& webhook) {
    WebhookRecord w = webhook;
    w.created_ms = NowMs();
    w.last_success_ms.reset();
    w.last_error.clear();
    w.last_error_ms.reset();
    w.failures = w.given_up = w.backlog = 0;
    Stmt ins(db_.get(),
             "INSERT INTO webhooks (url, secret, types, cameras, persons, not_persons, configured, created_ms) "
             "VALUES (?,?,?,?,?,?,?,?)");
    ins.Bind(1, w.url).Bind(2, w.secret).Bind(3, JoinFilterList(w.types)).Bind(4, JoinFilterList(w.cameras));
    ins.Bind(5, JoinFilterList(w.persons)).Bind(6, JoinFilterList(w.not_persons)).Bind(7, int64_t{w.configured ? 1 : 0});
    if (Status st = ins.Bind(8, w.created_ms).Run(); !st.ok()) return st;
    w.id = db_.last_insert_id();
    return w;
  }

  // REQUIRES: mu_ held, inside a transaction.
  Status Remove(int64_t id, bool* existed, int64_t* dropped) {
    Stmt del_rows(db_.get(), "DELETE FROM webhook_outbox WHERE webhook_id = ?");
    if (Status s = del_rows.Bind(1, id).Run(); !s.ok()) return s;
    *dropped += sqlite3_changes(db_.get());
    Stmt del(db_.get(), "DELETE FROM webhooks WHERE id = ?");
    if (Status s = del.Bind(1, id).Run(); !s.ok()) return s;
    *existed = sqlite3_changes(db_.get()) > 0;
    return Status::Ok();
  }

  // REQUIRES: mu_ held.
  Status DeleteEntry(int64_t webhook_id, int64_t event_id) {
    Stmt del(db_.get(), "DELETE FROM webhook_outbox WHERE webhook_id = ? AND event_id = ?");
    return del.Bind(1, webhook_id).Bind(2, event_id).Run();
  }

  // REQUIRES: mu_ held.
  Status NoteError(int64_t webhook_id, const std::string& error, int64_t now_ms, bool gave_up) {
    Stmt up(db_.get(),
            "UPDATE webhooks SET failures = failures + 1, given_up = given_up + ?, last_error = ?, last_error_ms = ? "
            "WHERE id = ?");
    return up.Bind(1, int64_t{gave_up ? 1 : 0}).Bind(2, error).Bind(3, now_ms).Bind(4, webhook_id).Run();
  }

  std::mutex mu_;
  Db db_;  // guarded by mu_
};

}  // namespace

Result<std::unique_ptr<Outbox>> Outbox::Open(const std::string& data_dir, int64_t first_cursor) {
  auto o = std::make_unique<OutboxImpl>();
  if (Status s = o->Init(data_dir, first_cursor); !s.ok()) return s;
  return std::unique_ptr<Outbox>(std::move(o));
}

std::string JoinFilterList(const std::vector<std::string>& list) {
  std::string out;
  for (const auto& s : list) {
    if (!out.empty()) out += '\n';
    out += s;
  }
  return out;
}

std::vector<std::string> SplitFilterList(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

}  // namespace iotstream::store
