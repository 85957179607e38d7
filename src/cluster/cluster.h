// Cluster: iotstream nodes that share one PostgreSQL database (--database). Each node registers itself in the
// `nodes` table and heartbeats there once a second with its load and the cameras it receives; every node reads
// the whole table back, so any node can say which nodes are up and which camera is where (GET /api/v1/cluster).
// Cameras reach a node through HAProxy, whose configuration RenderHaproxyConfig writes for the registered nodes.
//
// The schema is iotstream's own: an ordered list of migrations (ClusterMigrations), each applied once, in its
// own transaction, under a PostgreSQL advisory lock so that nodes starting together never race.
//
// Nothing here talks HTTP or knows frames: the node's figures come through MembershipCallbacks, which app wires
// to ingest. libpq stays inside this room; no header of it is needed to use this one.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/cpu_priority.h"
#include "core/device.h"
#include "core/metrics.h"
#include "core/status.h"

namespace iotstream::cluster {

// OK for a libpq connection URI: postgresql://[user[:password]@][host][:port][/dbname][?param=value...]
// (postgres:// too). InvalidArgument, saying what is wrong, for anything else. Checks the form only.
Status CheckDatabaseUrl(std::string_view url);
// OK for 1-64 characters of [A-Za-z0-9._-] (it names the node in HAProxy's configuration and in logs).
Status CheckNodeId(std::string_view node_id);
// OK for http://host[:port] or https://host[:port] with an optional trailing "/", and nothing else.
Status CheckAdvertiseUrl(std::string_view url);

// An advertise URL taken apart (HAProxy's server lines, a node forwarding a request to another).
struct Endpoint {
  bool tls = false;
  std::string host;  // a name, an IPv4 address or a bracketed IPv6 address
  int port = 0;      // the URL's, else 80 (http) or 443 (https)
};
// The parts of an http(s)://host[:port][/] URL; InvalidArgument (naming the URL and what is wrong) otherwise.
Result<Endpoint> ParseAdvertiseUrl(std::string_view url);

// One step of a schema. `version`s are positive and strictly increasing along a list; a version once released
// never changes its SQL (a later change adds a migration instead).
struct Migration {
  int version = 0;
  std::string_view name;  // recorded in schema_migrations, for people
  std::string_view sql;   // one or more statements, run in one transaction
};

// The migrations of the cluster's own tables (`nodes`; `webhooks` and their outbox, pg_outbox.h), oldest first.
std::span<const Migration> ClusterMigrations();

struct MigrationOutcome {
  std::vector<int> applied;  // the versions this call applied, in order (empty when all were there)
  int newest = 0;            // the newest version recorded in the database afterwards
};

// Connects to `database_url` and brings its schema up to `migrations`: creates schema_migrations(version, name,
// applied_at) when missing, then applies, in order, each migration whose version is not recorded there, each in
// its own transaction together with its schema_migrations row, holding pg_advisory_xact_lock so that concurrent
// callers (other nodes) wait instead of racing; a version recorded already is skipped.
// Blocks for the database's round trips (connection timeout 2 s, each statement at most 60 s: it may wait on the
// lock). Returns what it applied; on failure: InvalidArgument for a list not in strictly increasing positive
// versions (nothing is applied), Unavailable (or Timeout) when the database cannot be reached or stops answering,
// Internal when a migration fails (its transaction is rolled back, the migrations
// before it stay applied, those after it are not tried; the message names the version, its name and PostgreSQL's
// error).
Result<MigrationOutcome> ApplyMigrations(const std::string& database_url, std::span<const Migration> migrations);

// What a node reports about itself with each heartbeat.
struct NodeLoad {
  double frames_per_s = 0;  // frames accepted per second since the previous heartbeat
  double cpu_percent = 0;   // the process's CPU time over the same time, in % of one core
  int cameras = 0;          // cameras that sent a frame within MembershipOptions::camera_window_ms
};

// One node as the `nodes` table (or, in single mode, the node itself) describes it.
struct NodeInfo {
  std::string node_id;
  std::string advertise_url;
  std::string version;
  bool up = false;                    // its last heartbeat is at most MembershipOptions::down_after_ms old
  int64_t started_ms = 0;             // wall clock, ms since the epoch
  int64_t last_heartbeat_ms = 0;      // wall clock (the database's), ms since the epoch
  std::vector<std::string> cameras;   // the cameras it received frames from lately, sorted
  NodeLoad load;
};

// A camera that a node received frames from: its footage lies there. One per camera and node, ever.
struct CameraPlacement {
  std::string device_id;
  std::string node_id;
  int64_t first_ms = 0;     // the first heartbeat (wall clock, the database's) that found it on that node
  int64_t last_ms = 0;      // the last one
  std::string device_json;  // the camera as that node's device list showed it then (a JSON object; "{}" if unknown)
};

// A camera's record as the cluster keeps it (the `devices` table): one row per camera, last written by `node_id`.
struct DeviceRow {
  std::string node_id;
  DeviceRecord record;
  int64_t updated_ms = 0;  // wall clock (the database's)
};

// A copy of what a node knows about the cluster. A plain value.
struct ClusterView {
  bool clustered = false;        // started with a database; false: a single node
  bool database_reachable = false;  // the last heartbeat reached the database (false in single mode)
  int64_t database_checked_ms = 0;  // when `nodes` was last read from the database; 0: never
  std::string self;              // this node's id
  std::vector<NodeInfo> nodes;   // by node id; in single mode only this node
  std::vector<CameraPlacement> placements;  // by device id, then newest first; empty in single mode
  std::vector<DeviceRow> devices;           // by device id; empty in single mode
};

struct MembershipOptions {
  std::string database_url;  // empty: single node, no thread, no database
  std::string node_id;       // REQUIRES: CheckNodeId is OK
  std::string version;       // this build's version, written with each heartbeat
  int64_t heartbeat_ms = 1'000;      // how often the node writes its row and reads the table back
  int64_t down_after_ms = 3'000;     // a node whose heartbeat is older than this is down
  int64_t camera_window_ms = 10'000;  // a camera that sent a frame within this belongs to the node's list
  int heartbeat_nice = cpu_priority::kClusterHeartbeat;  // the heartbeat thread's nice value
};

// What the node knows about itself, asked once per heartbeat on the heartbeat thread (and per Snapshot call in
// single mode). Both must be thread-safe and quick: they read in-memory state only.
struct MembershipCallbacks {
  // The ids of the cameras that sent a frame at or after `since_ms` (wall clock).
  std::function<std::vector<std::string>(int64_t since_ms)> recent_cameras;
  // Frames accepted since the process started (a counter: only its growth matters).
  std::function<uint64_t()> frames_accepted;
  // Optional: the JSON object of each of these cameras as the node's device list shows it, by id (for the other
  // nodes' device lists); unset: placements carry "{}".
  std::function<std::vector<std::string>(const std::vector<std::string>& ids)> describe_cameras;
};

// This node's membership. With a database, a thread of its own connects (retrying every heartbeat while the
// database cannot be reached, meanwhile the node works alone), applies ClusterMigrations, and then once per
// heartbeat upserts the node's row, its cameras' placements (camera_nodes) and the camera records given to
// SaveDevices (devices), and reads every row of the three back into the snapshot. No I/O thread ever waits for
// PostgreSQL: Snapshot() copies what the heartbeat thread last stored.
//
// Counted in metrics: cluster_heartbeats_total, cluster_heartbeat_failures_total (a heartbeat that could not
// reach the database or whose statements failed), cluster_database_up (1/0), cluster_nodes_up.
//
// Thread-safety: thread-safe. Lifetime: `metrics` and whatever the callbacks use must outlive the Membership;
// its destructor stops the thread once its current heartbeat ends (a statement waits at most 2 s for the
// database, 60 s while migrating).
class Membership {
 public:
  Membership(MembershipOptions options, MembershipCallbacks callbacks, Metrics& metrics);
  ~Membership();
  Membership(const Membership&) = delete;
  Membership& operator=(const Membership&) = delete;

  // Starts heartbeating as reachable at `advertise_url` (REQUIRES: CheckAdvertiseUrl is OK; called once). Without
  // a database it only records the URL. Returns at once: the first connection is made on the heartbeat thread.
  void Start(std::string advertise_url);

  // Camera records to write to the `devices` table as this node's: new, renamed, or their counters grown (what the
  // node's own store saves). A new or changed name, location or schedule goes with the next heartbeat; a record
  // whose only change is its counters waits until 10 s after this node last wrote it. A later record of a camera
  // replaces one not yet written, so what waits is bounded by the number of cameras; what a failed heartbeat could
  // not write is written by the next. Ignored without a database.
  void SaveDevices(const std::vector<DeviceRecord>& records);
  // A camera deleted on this node: its row and its placements leave the cluster's tables with the next heartbeat
  // (its footage on other nodes stays there until their retention removes it). Ignored without a database.
  void ForgetDevice(const std::string& device_id);

  // Where requests about camera `device_id` go when this node does not have it online: the up node whose recent
  // cameras include it, else the node that wrote its record last (the devices table), if that one is up. nullopt
  // when that is this node, when none is, and in single mode. Reads what the last heartbeat stored, without the
  // copy Snapshot makes.
  std::optional<NodeInfo> HolderOf(std::string_view device_id) const;
  // Node `node_id` as the last heartbeat read it; nullopt when unknown, and in single mode.
  std::optional<NodeInfo> NodeById(std::string_view node_id) const;
  // Camera `device_id`'s row of the devices table as the last heartbeat read it (which node wrote it, and the
  // record); nullopt when it has none, and in single mode.
  std::optional<DeviceRow> DeviceRowOf(std::string_view device_id) const;

  // What the node knows now. In single mode, this node with figures taken at the call (load since the previous
  // call). With a database, the table as last read, this node's own entry refreshed by the last heartbeat's
  // figures; while the database is unreachable, the last table read, with database_reachable false.
  ClusterView Snapshot() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Every node registered in `database_url`'s nodes table, by node id (their `up` judged by `down_after_ms` against
// the database's clock). Blocks for one connection and one query. Unavailable when the database cannot be reached,
// Internal when the query fails (e.g. no nodes table: no node ever started with that database).
Result<std::vector<NodeInfo>> ListNodes(const std::string& database_url, int64_t down_after_ms = 3'000);

struct HaproxyOptions {
  std::string bind_address;     // the frontend's address; empty: all addresses
  int port = 9003;              // the frontend's port, where cameras and browsers connect
  int check_interval_ms = 1'000;  // GET /health on every node this often; down after 2 failures, up after 1 pass
};

// A complete HAProxy (2.6) configuration that spreads cameras over `nodes`: one HTTP frontend, one backend with
// consistent hashing on the device id (X-Device-ID, else ?device_id=, else the device segment of /api/v1/devices/
// ID/..., /api/v1/footage/ID/... and /ws/devices/ID), health checks on /health, timeouts that let WebSocket and
// MJPEG viewers stay connected, and an X-Iotstream-Node header naming the node on every answer. Each node is a
// server named by its node id at its advertise URL's host and port.
// InvalidArgument when `nodes` is empty or a node's advertise URL or id is not valid (the message names it).
Result<std::string> RenderHaproxyConfig(const std::vector<NodeInfo>& nodes, const HaproxyOptions& options);

}  // namespace iotstream::cluster
