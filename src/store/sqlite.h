// Thin RAII over the SQLite C API, private to the store. Not thread-safe: one owner per Db and Stmt.
#pragma once

#include <cstdint>
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
  Stmt(Stmt&& o) noexcept : stmt_(o.stmt_), db_(o.db_) { o.stmt_ = nullptr; }
  Stmt& operator=(Stmt&& o) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  bool valid() const { return stmt_ != nullptr; }
  Stmt& Bind(int i, int64_t v);
  Stmt& Bind(int i, std::string_view v);
  Stmt& BindBlob(int i, const void* data, size_t size);
  Stmt& BindNull(int i);
  Stmt& BindReal(int i, double v);
  // Steps once: true when a row is ready, false when done. On error sets *st (if given) and returns false.
  bool Step(Status* st = nullptr);
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
};

// Steps `q` to the end, turning each row into a T with `row_of(q)`; the first SQLite error instead.
template <typename T, typename RowOf>
Result<std::vector<T>> CollectRows(Stmt& q, RowOf row_of) {
  std::vector<T> out;
  Status st;
  while (q.Step(&st)) out.push_back(row_of(q));
  if (!st.ok()) return st;
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

}  // namespace iotstream::store
