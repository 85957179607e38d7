#include "cluster/migrations.h"

#include <string>

#include "core/log.h"

namespace iotstream::cluster {
namespace {

// The advisory lock every schema change of iotstream takes: one constant key (the bytes of "iotstrea"), so that
// runners on every node serialise on it and on nothing else.
constexpr const char* kLockSql = "SELECT pg_advisory_xact_lock(7597419135621031265)";

constexpr Migration kClusterMigrations[] = {
    {1, "nodes",
     "CREATE TABLE nodes ("
     "  node_id text PRIMARY KEY,"
     "  advertise_url text NOT NULL,"
     "  started_at timestamptz NOT NULL,"
     "  last_heartbeat timestamptz NOT NULL,"
     "  version text NOT NULL)"},
    {2, "node_load",
     "ALTER TABLE nodes"
     "  ADD COLUMN frames_per_s double precision NOT NULL DEFAULT 0,"
     "  ADD COLUMN cpu_percent double precision NOT NULL DEFAULT 0,"
     "  ADD COLUMN camera_count integer NOT NULL DEFAULT 0,"
     "  ADD COLUMN cameras jsonb NOT NULL DEFAULT '[]'"},
    // The gallery and the event log (store::Records); thumbnails live in the rows, so that every node serves them.
    {3, "records",
     "CREATE TABLE people ("
     "  id bigserial PRIMARY KEY, name text NOT NULL UNIQUE, created_ms bigint NOT NULL);"
     "CREATE TABLE faces ("
     "  id bigserial PRIMARY KEY, person_id bigint NOT NULL REFERENCES people(id) ON DELETE CASCADE,"
     "  negative boolean NOT NULL, descriptor bytea NOT NULL, thumbnail bytea, created_ms bigint NOT NULL);"
     "CREATE INDEX faces_by_person ON faces(person_id);"
     "CREATE TABLE events ("
     "  id bigserial PRIMARY KEY, type text NOT NULL, ts_ms bigint NOT NULL, device_id text NOT NULL,"
     "  frame_id bigint NOT NULL, person_id bigint, name text NOT NULL, distance double precision NOT NULL,"
     "  box_x integer NOT NULL, box_y integer NOT NULL, box_w integer NOT NULL, box_h integer NOT NULL,"
     "  thumbnail bytea, feedback boolean, descriptor bytea NOT NULL, message text NOT NULL,"
     "  node_id text NOT NULL);"
     "CREATE INDEX events_by_time ON events(ts_ms)"},
    // The webhooks and their outbox, shared by the nodes (pg_outbox.h). A row delivered or given up is kept as done
    // (done_ms) for a while, to recognise its (webhook, event) when a slower node fans it out again; a webhook is
    // delivered by the node that holds its claim. No foreign key to events: the event log is another table's.
    {4, "webhook_outbox",
     "CREATE TABLE webhooks ("
     "  id bigserial PRIMARY KEY,"
     "  url text NOT NULL,"
     "  secret text NOT NULL,"
     "  types text NOT NULL,"
     "  cameras text NOT NULL,"
     "  persons text NOT NULL,"
     "  not_persons text NOT NULL,"
     "  configured boolean NOT NULL,"
     "  created_ms bigint NOT NULL,"
     "  last_success_ms bigint,"
     "  last_error text NOT NULL DEFAULT '',"
     "  last_error_ms bigint,"
     "  failures bigint NOT NULL DEFAULT 0,"
     "  given_up bigint NOT NULL DEFAULT 0,"
     "  claimed_by text,"
     "  claimed_until timestamptz);"
     "CREATE TABLE webhook_outbox ("
     "  webhook_id bigint NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,"
     "  event_id bigint NOT NULL,"
     "  attempts integer NOT NULL DEFAULT 0,"
     "  next_attempt_ms bigint NOT NULL,"
     "  last_error text NOT NULL DEFAULT '',"
     "  created_ms bigint NOT NULL,"
     "  added_at timestamptz NOT NULL DEFAULT now(),"
     "  done_ms bigint,"
     "  PRIMARY KEY (webhook_id, event_id));"
     "CREATE INDEX webhook_outbox_owed ON webhook_outbox (webhook_id, event_id) WHERE done_ms IS NULL;"
     "CREATE TABLE webhook_cursor ("
     "  id integer PRIMARY KEY CHECK (id = 1),"
     "  last_event_id bigint NOT NULL,"
     "  floor_event_id bigint NOT NULL)"},
    // Accounts, tokens, sessions and the audit log (auth::AuthStore). auth_state.version moves with every change in
    // the change's own transaction: a node rereads the credentials when it sees it moved.
    {5, "accounts",
     "CREATE TABLE users ("
     "  name text PRIMARY KEY, role text NOT NULL, password_hash text NOT NULL, created_ms bigint NOT NULL);"
     "CREATE TABLE tokens ("
     "  id bigserial PRIMARY KEY, name text NOT NULL, role text NOT NULL, device text NOT NULL,"
     "  hash text NOT NULL UNIQUE, prefix text NOT NULL, created_ms bigint NOT NULL, created_by text NOT NULL,"
     "  revoked_ms bigint);"
     "CREATE UNIQUE INDEX tokens_live_name ON tokens(name) WHERE revoked_ms IS NULL;"
     "CREATE TABLE sessions ("
     "  hash text PRIMARY KEY, user_name text NOT NULL, created_ms bigint NOT NULL, expires_ms bigint NOT NULL);"
     "CREATE TABLE audit ("
     "  id bigserial PRIMARY KEY, ts_ms bigint NOT NULL, actor text NOT NULL, address text NOT NULL,"
     "  action text NOT NULL, detail text NOT NULL);"
     "CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS"
     "  $$BEGIN RAISE EXCEPTION 'the audit log is append-only'; END$$;"
     "CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit"
     "  FOR EACH ROW EXECUTE FUNCTION audit_append_only();"
     "CREATE TABLE auth_state (one boolean PRIMARY KEY DEFAULT true CHECK (one), version bigint NOT NULL,"
     "  bootstrapped boolean NOT NULL);"
     "INSERT INTO auth_state VALUES (true, 0, false)"},
    // Which node held which camera when, with the camera as that node described it: the device list of every node,
    // and where a camera's footage lies.
    {6, "camera_nodes",
     "CREATE TABLE camera_nodes ("
     "  device_id text NOT NULL, node_id text NOT NULL, first_ms bigint NOT NULL, last_ms bigint NOT NULL,"
     "  device jsonb NOT NULL, PRIMARY KEY (device_id, node_id))"},
    // Each camera's record (name, location, schedule, counters), one row per camera, written by the node holding it.
    {7, "devices",
     "CREATE TABLE devices ("
     "  device_id text PRIMARY KEY, node_id text NOT NULL, record jsonb NOT NULL, updated_ms bigint NOT NULL)"},
};

// Rolls back after a failure inside a transaction; the caller reports the failure itself, not this.
void Rollback(pg::Connection& conn) {
  if (conn.healthy()) (void)conn.Run("ROLLBACK");
}

// The newest recorded version, within the caller's transaction.
Result<int> Newest(pg::Connection& conn) {
  auto rows = conn.Exec("SELECT coalesce(max(version), 0) FROM schema_migrations");
  if (!rows.ok()) return rows.status();
  return std::stoi(rows.value().Text(0, 0));
}

}  // namespace

std::span<const Migration> ClusterMigrations() { return kClusterMigrations; }

Result<MigrationOutcome> Migrate(pg::Connection& conn, std::span<const Migration> migrations) {
  for (size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version <= 0 || (i > 0 && migrations[i].version <= migrations[i - 1].version)) {
      return Status::InvalidArgument("migration versions must be positive and increasing: " +
                                     std::to_string(migrations[i].version) + " at position " + std::to_string(i));
    }
  }
  // The table is made under the lock too: two CREATE TABLE IF NOT EXISTS at once can both miss it and then clash.
  for (const char* sql : {"BEGIN", kLockSql,
                          "CREATE TABLE IF NOT EXISTS schema_migrations ("
                          "  version integer PRIMARY KEY,"
                          "  name text NOT NULL,"
                          "  applied_at timestamptz NOT NULL DEFAULT now())",
                          "COMMIT"}) {
    if (Status st = conn.Run(sql); !st.ok()) {
      Rollback(conn);
      return st;
    }
  }
  MigrationOutcome out;
  for (const Migration& m : migrations) {
    const std::string what = "migration " + std::to_string(m.version) + " (" + std::string(m.name) + ")";
    // Each in its own transaction, which holds the lock until it ends: a node that waited on it finds the version
    // recorded and skips it.
    if (Status st = conn.Run("BEGIN"); !st.ok()) return st;
    if (Status st = conn.Run(kLockSql); !st.ok()) {
      Rollback(conn);
      return st;
    }
    auto seen = conn.Exec("SELECT 1 FROM schema_migrations WHERE version = $1", {std::to_string(m.version)});
    if (!seen.ok()) {
      Rollback(conn);
      return seen.status();
    }
    if (seen.value().size() > 0) {
      if (Status st = conn.Run("COMMIT"); !st.ok()) return st;
      continue;
    }
    Status st = conn.Run(std::string(m.sql));
    if (st.ok()) {
      st = conn.Run("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                    {std::to_string(m.version), std::string(m.name)});
    }
    if (st.ok()) st = conn.Run("COMMIT");
    if (!st.ok()) {
      Rollback(conn);
      if (st.IsUnavailable() || st.IsTimeout()) return st;
      return Status::Internal(what + " failed, rolled back: " + st.message());
    }
    IOT_LOG(kInfo) << "cluster: applied " << what;
    out.applied.push_back(m.version);
  }
  auto newest = Newest(conn);
  if (!newest.ok()) return newest.status();
  out.newest = newest.value();
  return out;
}

Result<MigrationOutcome> ApplyMigrations(const std::string& database_url, std::span<const Migration> migrations) {
  auto conn = pg::Connection::Open(database_url);
  if (!conn.ok()) return conn.status();
  conn.value()->set_deadline_ms(kMigrationDeadlineMs);
  return Migrate(*conn.value(), migrations);
}

}  // namespace iotstream::cluster
