#include "store/sqlite.h"

#include <chrono>
#include <thread>

#include "core/clock.h"

namespace iotstream::store {

Stmt::Stmt(sqlite3* db, std::string_view sql) : db_(db) {
  if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr) != SQLITE_OK) {
    error_ = std::string(sqlite3_errmsg(db)) + " in: " + std::string(sql.substr(0, 60));
  } else if (stmt_ == nullptr) {
    error_ = "no statement in: " + std::string(sql.substr(0, 60));
  } else {
    error_.clear();
  }
}

Stmt& Stmt::operator=(Stmt&& o) noexcept {
  if (this != &o) {
    sqlite3_finalize(stmt_);
    stmt_ = o.stmt_;
    db_ = o.db_;
    error_ = std::move(o.error_);
    o.stmt_ = nullptr;
  }
  return *this;
}

Stmt& Stmt::Bind(int i, int64_t v) {
  sqlite3_bind_int64(stmt_, i, v);
  return *this;
}

Stmt& Stmt::Bind(int i, std::string_view v) {
  sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}

Stmt& Stmt::BindBlob(int i, const void* data, size_t size) {
  sqlite3_bind_blob(stmt_, i, data, static_cast<int>(size), SQLITE_TRANSIENT);
  return *this;
}

Stmt& Stmt::BindReal(int i, double v) {
  sqlite3_bind_double(stmt_, i, v);
  return *this;
}

Stmt& Stmt::BindNull(int i) {
  sqlite3_bind_null(stmt_, i);
  return *this;
}

std::string Stmt::Blob(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  return p ? std::string(static_cast<const char*>(p), sqlite3_column_bytes(stmt_, col)) : std::string();
}

Result<bool> Stmt::Step() {
  if (stmt_ == nullptr) return Status::IOError("sqlite: cannot prepare: " + error_);
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return Status::IOError(std::string("sqlite: ") + sqlite3_errmsg(db_));
}

Status Stmt::Run() {
  Status st = ForEachRow(*this, [](const Stmt&) {});
  Reset();
  return st;
}

void Stmt::Reset() {
  if (stmt_ == nullptr) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::string Stmt::Text(int col) const {
  const auto* p = sqlite3_column_text(stmt_, col);
  return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(stmt_, col)) : std::string();
}

namespace {

// SQLite's own busy handler sleeps 1, 2, 5, ... up to 100 ms between tries, so a writer that waited for the frame
// store's batch may sleep on for up to 100 ms after the lock is free (the tail of event latency); polling every
// millisecond ends the wait within about a millisecond of the lock's release, for a few wake-ups per wait.
constexpr int kBusyTimeoutMs = 5000;

int PollEveryMillisecond(void*, int tries) {
  if (tries >= kBusyTimeoutMs) return 0;
  std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return 1;
}

}  // namespace

Status Db::Open(const std::string& path) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    return Status::IOError("cannot open " + path + ": " + (db_ ? sqlite3_errmsg(db_) : "out of memory"));
  }
  sqlite3_busy_handler(db_, &PollEveryMillisecond, nullptr);
  return Status::Ok();
}

Status Db::Exec(std::string_view sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, std::string(sql).c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    Status st = Status::IOError(std::string("sqlite: ") + (err ? err : "unknown error") + " in: " +
                                std::string(sql.substr(0, 60)));
    sqlite3_free(err);
    return st;
  }
  return Status::Ok();
}

Status AddColumnIfMissing(Db& db, const std::string& table, const std::string& column, const std::string& declaration) {
  Stmt has(db.get(), "SELECT count(*) FROM pragma_table_info(?) WHERE name = ?");
  has.Bind(1, table).Bind(2, column);
  Result<bool> row = has.Step();
  if (!row.ok()) return row.status();
  if (row.value() && has.Int(0) > 0) return Status::Ok();
  return db.Exec("ALTER TABLE " + table + " ADD COLUMN " + column + " " + declaration);
}

Status ApplyMigrations(Db& db, std::string_view component, std::span<const SqliteMigration> migrations) {
  for (size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version <= 0 || (i > 0 && migrations[i].version <= migrations[i - 1].version)) {
      return Status::InvalidArgument("migration versions must be positive and increasing: " +
                                     std::to_string(migrations[i].version) + " at position " + std::to_string(i));
    }
  }
  if (Status st = db.Exec("CREATE TABLE IF NOT EXISTS schema_migrations (component TEXT NOT NULL, "
                          "version INTEGER NOT NULL, name TEXT NOT NULL, applied_ms INTEGER NOT NULL, "
                          "PRIMARY KEY (component, version))");
      !st.ok()) {
    return st;
  }
  for (const SqliteMigration& m : migrations) {
    const Status st = InTransaction(db, [&]() -> Status {
      // Inside the transaction: another connection may have applied it while this one waited for the lock.
      Stmt done(db.get(), "SELECT count(*) FROM schema_migrations WHERE component = ? AND version = ?");
      done.Bind(1, component).Bind(2, int64_t{m.version});
      Result<bool> row = done.Step();
      if (!row.ok()) return row.status();
      if (done.Int(0) > 0) return Status::Ok();
      if (Status applied = m.sql.empty() ? m.apply(db) : db.Exec(m.sql); !applied.ok()) return applied;
      Stmt note(db.get(), "INSERT INTO schema_migrations (component, version, name, applied_ms) VALUES (?, ?, ?, ?)");
      return note.Bind(1, component).Bind(2, int64_t{m.version}).Bind(3, m.name).Bind(4, NowMs()).Run();
    });
    if (!st.ok()) {
      return Status::IOError(std::string(component) + " migration " + std::to_string(m.version) + " (" +
                             std::string(m.name) + "): " + st.message());
    }
  }
  return Status::Ok();
}

}  // namespace iotstream::store
