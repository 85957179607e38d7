// The room's thin layer over libpq: one connection, statements with text parameters, results freed by RAII, and
// libpq's errors turned into Status. Private to src/cluster.
//
// Thread-safety: a Connection is used by one thread at a time (libpq's own rule for a PGconn).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

struct pg_conn;
struct pg_result;

namespace iotstream::cluster::pg {

// A statement's rows, as text (NULL reads as nullopt).
class Rows {
 public:
  explicit Rows(pg_result* result);
  int size() const;
  std::optional<std::string> Get(int row, int column) const;
  // The text of a non-NULL cell; "" for NULL.
  std::string Text(int row, int column) const;

 private:
  struct Free {
    void operator()(pg_result* r) const;
  };
  std::unique_ptr<pg_result, Free> result_;
};

class Connection {
 public:
  // Connects to a libpq URI with a 2 s connection timeout and TCP timeouts that end a statement on a dead server
  // within a few seconds. Unavailable (with libpq's message) when it cannot connect.
  static Result<std::unique_ptr<Connection>> Open(const std::string& url);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs `sql` (one statement, or several when `params` is empty) with `params` as text parameters $1, $2, ...
  // Unavailable when the connection is lost (the Connection is then of no further use), Internal with PostgreSQL's
  // error message for a statement that fails.
  Result<Rows> Exec(const std::string& sql, const std::vector<std::string>& params = {});
  // Exec for statements whose rows are not wanted.
  Status Run(const std::string& sql, const std::vector<std::string>& params = {});
  // False once the server closed the connection or a statement found it broken.
  bool healthy() const;

 private:
  explicit Connection(pg_conn* conn) : conn_(conn) {}
  pg_conn* conn_;
};

}  // namespace iotstream::cluster::pg
