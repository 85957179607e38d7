// The room's thin layer over libpq: one connection, statements with text parameters and a deadline, results freed
// by RAII, and libpq's errors turned into Status. Private to src/cluster.
//
// Thread-safety: a Connection is used by one thread at a time (libpq's own rule for a PGconn).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

struct pg_conn;
struct pg_result;

namespace iotstream::cluster::pg {

// A statement's rows, as text (NULL reads as nullopt).
// The integer a bigint (or int) cell's text holds; 0 for text that is not one.
int64_t Int(std::string_view text);

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

// A NOTIFY this connection LISTENs to.
struct Notification {
  std::string channel;
  std::string payload;
};

class Connection {
 public:
  // Connects to a libpq URI within 2 s (unless the URI sets its own connect_timeout). Unavailable (with libpq's
  // message) when it cannot connect.
  static Result<std::unique_ptr<Connection>> Open(const std::string& url);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs `sql` (one statement, or several when `params` is empty) with `params` as text parameters $1, $2, ...;
  // the rows of the last statement. Unavailable when the connection is lost, Timeout when no answer came within
  // the deadline (a frozen server, a lost network: a socket alone would wait for minutes), after either of which
  // the Connection is of no further use; Internal with PostgreSQL's message for a statement that fails.
  Result<Rows> Exec(const std::string& sql, const std::vector<std::string>& params = {});
  // Exec for statements whose rows are not wanted.
  Status Run(const std::string& sql, const std::vector<std::string>& params = {});
  // The notifications on the channels this connection LISTENs to: those already received, else those that arrive
  // within `timeout_ms` (none when nothing came). Unavailable when the connection is lost (then of no further use).
  Result<std::vector<Notification>> AwaitNotifications(int64_t timeout_ms);
  // The deadline of each later statement (default 5 s).
  void set_deadline_ms(int64_t ms) { deadline_ms_ = ms; }
  // False once the server closed the connection or a statement found it broken or ran past its deadline.
  bool healthy() const;

 private:
  explicit Connection(pg_conn* conn) : conn_(conn) {}
  // Waits until libpq has a whole result, or the deadline; false (with *why set) when it did not come.
  bool AwaitResult(int64_t deadline_us, Status* why);
  void Abandon();  // the connection's state is unknown after a lost answer: it is closed

  pg_conn* conn_;  // nullptr once abandoned
  int64_t deadline_ms_ = 5'000;
};

}  // namespace iotstream::cluster::pg
