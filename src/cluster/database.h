// The connection a node's shared state (records, accounts) uses: opened on first use and again after it broke,
// bringing the schema up to ClusterMigrations with its first connection, one statement or transaction at a time.
// Private to src/cluster.
//
// Thread-safety: thread-safe; one mutex serialises the connection (held for a whole transaction).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cluster/pg.h"
#include "core/status.h"

namespace iotstream::cluster {

class Database {
 public:
  // Connects nowhere yet. Each statement may take `deadline_ms` (see pg::Connection). `first_connect`, when set, runs
  // on the first connection after the migrations (e.g. a row the user's tables need); until it succeeds, it runs
  // again on the next.
  using FirstConnect = std::function<Status(pg::Connection&)>;
  Database(std::string url, int64_t deadline_ms, FirstConnect first_connect = {})
      : url_(std::move(url)), deadline_ms_(deadline_ms), first_connect_(std::move(first_connect)) {}

  // Connects (and migrates) now unless connected; the errors of Query.
  Status Connect();
  // Runs `sql` on the open connection; OK without doing anything when there is none (nothing to reconnect for, e.g.
  // a goodbye on the way out).
  Status RunIfConnected(const std::string& sql, const std::vector<std::string>& params = {});

  // One statement. Unavailable or Timeout when the database cannot be reached or stops answering; Internal when the
  // statement (or the first migration) fails.
  Result<pg::Rows> Query(const std::string& sql, const std::vector<std::string>& params = {});

  // Runs `body(connection)` in a transaction: committed when it returns OK, rolled back otherwise (its status is the
  // answer). The errors of Query besides.
  template <typename Body>
  Status InTransaction(Body body) {
    std::lock_guard lock(mu_);
    auto conn = Connection();
    if (!conn.ok()) return conn.status();
    pg::Connection& c = *conn.value();
    if (Status st = c.Run("BEGIN"); !st.ok()) return st;
    Status st = body(c);
    if (st.ok()) return c.Run("COMMIT");
    if (c.healthy()) (void)c.Run("ROLLBACK");
    return st;
  }

 private:
  // REQUIRES: mu_ held. The open connection, connecting (and migrating, the first time) when there is none.
  Result<pg::Connection*> Connection();

  const std::string url_;
  const int64_t deadline_ms_;
  const FirstConnect first_connect_;
  std::mutex mu_;
  std::unique_ptr<pg::Connection> conn_;  // guarded by mu_; null until the first call, and after a failure
  bool migrated_ = false;                 // guarded by mu_: the migrations and first_connect_ succeeded
};

}  // namespace iotstream::cluster
