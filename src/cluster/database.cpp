#include "cluster/database.h"

#include "cluster/cluster.h"
#include "cluster/migrations.h"

namespace iotstream::cluster {

Result<pg::Rows> Database::Query(const std::string& sql, const std::vector<std::string>& params) {
  std::lock_guard lock(mu_);
  auto conn = Connection();
  if (!conn.ok()) return conn.status();
  return conn.value()->Exec(sql, params);
}

Status Database::Connect() {
  std::lock_guard lock(mu_);
  auto conn = Connection();
  return conn.ok() ? Status::Ok() : conn.status();
}

Status Database::RunIfConnected(const std::string& sql, const std::vector<std::string>& params) {
  std::lock_guard lock(mu_);
  if (conn_ == nullptr || !conn_->healthy()) return Status::Ok();
  return conn_->Run(sql, params);
}

Result<pg::Connection*> Database::Connection() {
  if (conn_ != nullptr && conn_->healthy()) return conn_.get();
  conn_.reset();
  auto opened = pg::Connection::Open(url_);
  if (!opened.ok()) return opened.status();
  std::unique_ptr<pg::Connection> conn = std::move(opened).value();
  if (!migrated_) {
    conn->set_deadline_ms(kMigrationDeadlineMs);
    auto migrated = Migrate(*conn, ClusterMigrations());
    if (!migrated.ok()) return migrated.status();
    conn->set_deadline_ms(deadline_ms_);
    if (first_connect_) {
      if (Status st = first_connect_(*conn); !st.ok()) return st;
    }
    migrated_ = true;
  }
  conn->set_deadline_ms(deadline_ms_);
  conn_ = std::move(conn);
  return conn_.get();
}

}  // namespace iotstream::cluster
