// Thin RAII over the SQLite C API, for the store and auth (auth.db). Not thread-safe: one owner per Db and Stmt.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <sqlite3.h>

#include "core/status.h"

namespace iotstream::store {

class Stmt {
 public:
  Stmt() = default;
  Stmt(sqlite3* db, std::string_view sql);
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(Stmt&& o) noexcept : stmt_(o.stmt_), db_(o.db_), error_(std::move(o.error_)) { o.stmt_ = nullptr; }
  Stmt& operator=(Stmt&& o) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  bool valid() const { return stmt_ != nullptr; }
  // Why the statement did not prepare; empty when valid().
  const std::string& error() const { return error_; }
  Stmt& Bind(int i, int64_t v);
  Stmt& Bind(int i, std::string_view v);
  Stmt& BindBlob(int i, const void* data, size_t size);
  Stmt& BindNull(int i);
  Stmt& BindReal(int i, double v);
  // Steps once: true when a row is ready, false when done; IOError with SQLite's message on failure (for a
  // statement that did not prepare, the reason it did not), so that an error never reads as "no more rows".
  [[nodiscard]] Result<bool> Step();
  // Runs to completion; IOError with SQLite's message on failure.
  Status Run();
  void Reset();
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::string Text(int col) const;
  std::string Blob(int col) const;
  double Real(int col) const { return sqlite3_column_double(stmt_, col); }
  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  sqlite3* db_ = nullptr;
  std::string error_ = "statement not prepared";
};

// Resets a statement kept for reuse when it goes out of scope: it then takes new bindings and, stopped before its
// last row, no longer holds a read transaction open.
class ScopedReset {
 public:
  explicit ScopedReset(Stmt& stmt) : stmt_(stmt) {}
  ~ScopedReset() { stmt_.Reset(); }
  ScopedReset(const ScopedReset&) = delete;
  ScopedReset& operator=(const ScopedReset&) = delete;

 private:
  Stmt& stmt_;
};

// Steps `q` to the end, calling `on_row(q)` for each row; the first SQLite error instead.
template <typename OnRow>
Status ForEachRow(Stmt& q, OnRow on_row) {
  while (true) {
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status();
    if (!row.value()) return Status::Ok();
    on_row(static_cast<const Stmt&>(q));
  }
}

// Steps `q` to the end, turning each row into a T with `row_of(q)`; the first SQLite error instead.
template <typename T, typename RowOf>
Result<std::vector<T>> CollectRows(Stmt& q, RowOf row_of) {
  std::vector<T> out;
  if (Status st = ForEachRow(q, [&](const Stmt& row) { out.push_back(row_of(row)); }); !st.ok()) return st;
  return out;
}

class Db {
 public:
  ~Db() { sqlite3_close(db_); }
  Db() = default;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  Status Open(const std::string& path);
  Status Exec(std::string_view sql);
  sqlite3* get() const { return db_; }
  int64_t last_insert_id() const { return sqlite3_last_insert_rowid(db_); }

 private:
  sqlite3* db_ = nullptr;
};

// Runs `body` (returning a Status) inside BEGIN IMMEDIATE ... COMMIT, rolling back when it, or the commit, fails.
// REQUIRES: no transaction open on `db`.
template <typename Body>
Status InTransaction(Db& db, Body body) {
  if (Status st = db.Exec("BEGIN IMMEDIATE"); !st.ok()) return st;
  Status st = body();
  if (st.ok()) st = db.Exec("COMMIT");
  if (!st.ok()) (void)db.Exec("ROLLBACK");
  return st;
}

// Adds `column` (with its type and default in `declaration`) to `table` unless it has it: the migration for tables
// an earlier version created, which CREATE TABLE IF NOT EXISTS leaves as they were. IOError from SQLite.
Status AddColumnIfMissing(Db& db, const std::string& table, const std::string& column, const std::string& declaration);

// One step of a component's schema (the counterpart of the cluster's PostgreSQL migrations): it runs `sql` when set,
// else calls `apply`. Versions are positive and increase along a list; a released step never changes (a change is a
// new step). Steps that only make what is missing (IF NOT EXISTS, AddColumnIfMissing) let files made before the
// schema was versioned take them as no-ops.
struct SqliteMigration {
  int version = 0;
  std::string_view name;
  std::string_view sql;
  Status (*apply)(Db&) = nullptr;
};

// Brings `component`'s tables in `db` up to `migrations`: each step whose (component, version) is not recorded in
// schema_migrations(component, version, name, applied_ms) runs in a BEGIN IMMEDIATE transaction together with its
// row, so that a crash leaves it wholly applied or not, and connections that open the file at once apply it once.
// InvalidArgument for a list out of order (nothing applied); IOError naming the step and SQLite's error when a step
// fails (rolled back; the steps before it stay applied). REQUIRES: no transaction open on `db`.
Status ApplyMigrations(Db& db, std::string_view component, std::span<const SqliteMigration> migrations);

}  // namespace iotstream::store
