#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "cluster/cluster.h"
#include "cluster/migrations.h"
#include "cluster/pg.h"
#include "core/clock.h"
#include "core/log.h"

namespace iotstream::cluster {
namespace {

double ProcessCpuSeconds() {
  rusage ru{};
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  const auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return s(ru.ru_utime) + s(ru.ru_stime);
}

// The node's load between two samples.
class LoadMeter {
 public:
  explicit LoadMeter(uint64_t frames) : at_us_(MonotonicUs()), frames_(frames), cpu_s_(ProcessCpuSeconds()) {}

  NodeLoad Sample(uint64_t frames, int cameras) {
    const int64_t now_us = MonotonicUs();
    const double cpu_s = ProcessCpuSeconds();
    NodeLoad load;
    load.cameras = cameras;
    const double elapsed_s = static_cast<double>(now_us - at_us_) / 1e6;
    if (elapsed_s > 0) {
      // Two callers may read the counter in one order and sample in the other.
      load.frames_per_s = static_cast<double>(frames > frames_ ? frames - frames_ : 0) / elapsed_s;
      load.cpu_percent = (cpu_s - cpu_s_) / elapsed_s * 100;
    }
    at_us_ = now_us;
    frames_ = std::max(frames, frames_);
    cpu_s_ = cpu_s;
    return load;
  }

 private:
  int64_t at_us_;
  uint64_t frames_;
  double cpu_s_;
};

// A heartbeat statement that takes longer is as good as lost: the others see the node down at 3 s.
constexpr int64_t kHeartbeatDeadlineMs = 2'000;

constexpr const char* kUpsertSql =
    "INSERT INTO nodes (node_id, advertise_url, started_at, last_heartbeat, version, frames_per_s, cpu_percent,"
    " camera_count, cameras)"
    " VALUES ($1, $2, to_timestamp($3::double precision / 1000), now(), $4, $5, $6, $7, $8::jsonb)"
    " ON CONFLICT (node_id) DO UPDATE SET advertise_url = EXCLUDED.advertise_url, started_at = EXCLUDED.started_at,"
    " last_heartbeat = now(), version = EXCLUDED.version, frames_per_s = EXCLUDED.frames_per_s,"
    " cpu_percent = EXCLUDED.cpu_percent, camera_count = EXCLUDED.camera_count, cameras = EXCLUDED.cameras";

// "up" is judged by the database's clock on both sides, so the nodes' clocks need not agree.
constexpr const char* kSelectSql =
    "SELECT node_id, advertise_url, version, (extract(epoch FROM started_at) * 1000)::bigint,"
    " (extract(epoch FROM last_heartbeat) * 1000)::bigint,"
    " now() - last_heartbeat <= make_interval(secs => $1::double precision / 1000),"
    " frames_per_s, cpu_percent, camera_count, cameras::text"
    " FROM nodes ORDER BY node_id";

// This node's cameras, one row each: placed now, with their descriptions ($2: a JSON array of [id, object] pairs).
constexpr const char* kPlaceSql =
    "INSERT INTO camera_nodes (device_id, node_id, first_ms, last_ms, device)"
    " SELECT c->>0, $1, (extract(epoch FROM now()) * 1000)::bigint, (extract(epoch FROM now()) * 1000)::bigint, c->1"
    " FROM jsonb_array_elements($2::jsonb) AS c"
    " ON CONFLICT (device_id, node_id) DO UPDATE SET last_ms = EXCLUDED.last_ms, device = EXCLUDED.device";

constexpr const char* kPlacementsSql =
    "SELECT device_id, node_id, first_ms, last_ms, device::text FROM camera_nodes ORDER BY device_id, last_ms DESC";

Result<std::vector<CameraPlacement>> ReadPlacements(pg::Connection& conn) {
  auto rows = conn.Exec(kPlacementsSql);
  if (!rows.ok()) return rows.status();
  const pg::Rows& r = rows.value();
  std::vector<CameraPlacement> out;
  out.reserve(static_cast<size_t>(r.size()));
  for (int i = 0; i < r.size(); ++i) {
    out.push_back({r.Text(i, 0), r.Text(i, 1), std::stoll(r.Text(i, 2)), std::stoll(r.Text(i, 3)), r.Text(i, 4)});
  }
  return out;
}

std::vector<std::string> CamerasOf(const std::string& json_text) {
  std::vector<std::string> out;
  const auto j = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) return out;
  for (const auto& c : j) {
    if (c.is_string()) out.push_back(c.get<std::string>());
  }
  return out;
}

Result<std::vector<NodeInfo>> ReadNodes(pg::Connection& conn, int64_t down_after_ms) {
  auto rows = conn.Exec(kSelectSql, {std::to_string(down_after_ms)});
  if (!rows.ok()) return rows.status();
  const pg::Rows& r = rows.value();
  std::vector<NodeInfo> nodes;
  for (int i = 0; i < r.size(); ++i) {
    NodeInfo n;
    n.node_id = r.Text(i, 0);
    n.advertise_url = r.Text(i, 1);
    n.version = r.Text(i, 2);
    n.started_ms = std::stoll(r.Text(i, 3));
    n.last_heartbeat_ms = std::stoll(r.Text(i, 4));
    n.up = r.Text(i, 5) == "t";
    n.load.frames_per_s = std::stod(r.Text(i, 6));
    n.load.cpu_percent = std::stod(r.Text(i, 7));
    n.load.cameras = std::stoi(r.Text(i, 8));
    n.cameras = CamerasOf(r.Text(i, 9));
    nodes.push_back(std::move(n));
  }
  return nodes;
}

// The devices table: rows written as [record, ...] ($2), each record a DeviceRecord's JSON (RecordJson). A node
// takes over another node's row only with a record that saw the camera at least as lately: a node back from a
// failure does not put its stale copy of a camera that has moved on over the record of the camera's new node.
constexpr const char* kSaveDevicesSql =
    "INSERT INTO devices (device_id, node_id, record, updated_ms)"
    " SELECT d->>'id', $1, d, (extract(epoch FROM now()) * 1000)::bigint FROM jsonb_array_elements($2::jsonb) AS d"
    " ON CONFLICT (device_id) DO UPDATE SET node_id = EXCLUDED.node_id, record = EXCLUDED.record,"
    " updated_ms = EXCLUDED.updated_ms"
    " WHERE devices.node_id = EXCLUDED.node_id"
    " OR (devices.record->>'last_seen_ms')::bigint <= (EXCLUDED.record->>'last_seen_ms')::bigint";

// A camera record whose settings did not change is rewritten at most this often (its counters, last frame time).
constexpr int64_t kCountersEveryMs = 10'000;

// Cameras deleted here ($1: a JSON array of ids): their record and every placement.
constexpr const char* kForgetDevicesSql =
    "WITH gone AS (SELECT jsonb_array_elements_text($1::jsonb) AS id),"
    " records AS (DELETE FROM devices WHERE device_id IN (SELECT id FROM gone))"
    " DELETE FROM camera_nodes WHERE device_id IN (SELECT id FROM gone)";

constexpr const char* kDevicesSql = "SELECT node_id, record::text, updated_ms FROM devices ORDER BY device_id";

nlohmann::json RecordJson(const DeviceRecord& r) {
  return nlohmann::json{{"id", r.id},
                        {"name", r.name},
                        {"location", r.location},
                        {"first_seen_ms", r.first_seen_ms},
                        {"last_seen_ms", r.last_seen_ms},
                        {"frames_received", r.frames_received},
                        {"bytes_received", r.bytes_received},
                        {"frames_rejected", r.frames_rejected},
                        {"last_frame_bytes", r.last_frame_bytes},
                        {"last_width", r.last_width},
                        {"last_height", r.last_height},
                        {"sparse", r.sparse},
                        {"expected_interval_ms", r.expected_interval_ms}};
}

// A row's record; fields missing or of another type keep DeviceRecord's defaults.
DeviceRecord RecordOf(const std::string& text) {
  DeviceRecord r;
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return r;
  const auto take = [&j](const char* key, auto* out) {
    const auto it = j.find(key);
    if (it == j.end()) return;
    using T = std::remove_pointer_t<decltype(out)>;
    if constexpr (std::is_same_v<T, std::string>) {
      if (it->is_string()) *out = it->template get<std::string>();
    } else if constexpr (std::is_same_v<T, bool>) {
      if (it->is_boolean()) *out = it->template get<bool>();
    } else {
      if (it->is_number_integer()) *out = it->template get<T>();
    }
  };
  take("id", &r.id);
  take("name", &r.name);
  take("location", &r.location);
  take("first_seen_ms", &r.first_seen_ms);
  take("last_seen_ms", &r.last_seen_ms);
  take("frames_received", &r.frames_received);
  take("bytes_received", &r.bytes_received);
  take("frames_rejected", &r.frames_rejected);
  take("last_frame_bytes", &r.last_frame_bytes);
  take("last_width", &r.last_width);
  take("last_height", &r.last_height);
  take("sparse", &r.sparse);
  take("expected_interval_ms", &r.expected_interval_ms);
  return r;
}

Result<std::vector<DeviceRow>> ReadDevices(pg::Connection& conn) {
  auto rows = conn.Exec(kDevicesSql);
  if (!rows.ok()) return rows.status();
  const pg::Rows& r = rows.value();
  std::vector<DeviceRow> out;
  out.reserve(static_cast<size_t>(r.size()));
  for (int i = 0; i < r.size(); ++i) out.push_back({r.Text(i, 0), RecordOf(r.Text(i, 1)), pg::Int(r.Text(i, 2))});
  return out;
}

std::string ToText(double v) {
  std::ostringstream out;
  out.precision(6);
  out << v;
  return out.str();
}

}  // namespace

class Membership::Impl {
 public:
  Impl(MembershipOptions options, MembershipCallbacks callbacks, Metrics& metrics)
      : options_(std::move(options)),
        callbacks_(std::move(callbacks)),
        started_ms_(NowMs()),
        heartbeats_(metrics.counter("cluster_heartbeats_total", "heartbeats written to the cluster database")),
        failures_(metrics.counter("cluster_heartbeat_failures_total",
                                  "heartbeats that could not reach the cluster database or whose statements failed")),
        database_up_(metrics.gauge("cluster_database_up", "1 while the last heartbeat reached the cluster database")),
        nodes_up_(metrics.gauge("cluster_nodes_up", "nodes whose heartbeat is recent, as the last heartbeat read them")),
        meter_(callbacks_.frames_accepted()) {
    self_.node_id = options_.node_id;
    self_.version = options_.version;
    self_.started_ms = started_ms_;
    self_.up = true;
  }

  ~Impl() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  void Start(std::string advertise_url) {
    {
      std::lock_guard lock(mu_);
      self_.advertise_url = std::move(advertise_url);
    }
    if (!options_.database_url.empty()) thread_ = std::thread([this] { Loop(); });
  }

  void SaveDevices(const std::vector<DeviceRecord>& records) {
    if (options_.database_url.empty() || records.empty()) return;
    std::lock_guard lock(mu_);
    for (const auto& r : records) pending_[r.id] = r;
  }

  void ForgetDevice(const std::string& device_id) {
    if (options_.database_url.empty()) return;
    std::lock_guard lock(mu_);
    pending_[device_id] = std::nullopt;
  }

  std::optional<NodeInfo> HolderOf(std::string_view device_id) const {
    if (options_.database_url.empty()) return std::nullopt;
    std::lock_guard lock(mu_);
    const auto online = std::find_if(nodes_.begin(), nodes_.end(), [&](const NodeInfo& n) {
      return n.up && std::binary_search(n.cameras.begin(), n.cameras.end(), device_id);
    });
    const NodeInfo* holder = online != nodes_.end() ? &*online : nullptr;
    if (holder == nullptr) {
      const DeviceRow* row = FindRow(device_id);
      if (row == nullptr) return std::nullopt;
      holder = FindNode(row->node_id);
    }
    if (holder == nullptr || !holder->up || holder->node_id == options_.node_id) return std::nullopt;
    return *holder;
  }

  std::optional<NodeInfo> NodeById(std::string_view node_id) const {
    if (options_.database_url.empty()) return std::nullopt;
    std::lock_guard lock(mu_);
    const NodeInfo* node = FindNode(node_id);
    if (node == nullptr) return std::nullopt;
    return *node;
  }

  std::optional<DeviceRow> DeviceRowOf(std::string_view device_id) const {
    if (options_.database_url.empty()) return std::nullopt;
    std::lock_guard lock(mu_);
    const DeviceRow* row = FindRow(device_id);
    if (row == nullptr) return std::nullopt;
    return *row;
  }

  ClusterView Snapshot() const {
    ClusterView v;
    v.self = options_.node_id;
    v.clustered = !options_.database_url.empty();
    // No thread measures a single node: its figures are taken now, over the time since the previous call.
    if (!v.clustered) RefreshSelf();
    std::lock_guard lock(mu_);
    if (!v.clustered) {
      self_.last_heartbeat_ms = NowMs();
      v.nodes.push_back(self_);
      return v;
    }
    v.database_reachable = reachable_;
    v.database_checked_ms = checked_ms_;
    v.nodes = nodes_;
    v.placements = placements_;
    v.devices = devices_;
    const auto own = std::find_if(v.nodes.begin(), v.nodes.end(),
                                  [this](const NodeInfo& n) { return n.node_id == options_.node_id; });
    if (own == v.nodes.end()) {
      v.nodes.push_back(self_);
      std::sort(v.nodes.begin(), v.nodes.end(),
                [](const NodeInfo& a, const NodeInfo& b) { return a.node_id < b.node_id; });
    } else {
      *own = self_;  // a node knows its own figures, whether or not the database took them
    }
    return v;
  }

 private:
  // Node `node_id` in nodes_; nullptr when none. REQUIRES: mu_ held.
  const NodeInfo* FindNode(std::string_view node_id) const {
    const auto node =
        std::find_if(nodes_.begin(), nodes_.end(), [&](const NodeInfo& n) { return n.node_id == node_id; });
    return node == nodes_.end() ? nullptr : &*node;
  }

  // Camera `device_id`'s row in devices_ (sorted by id, as read); nullptr when none. REQUIRES: mu_ held.
  const DeviceRow* FindRow(std::string_view device_id) const {
    const auto row = std::lower_bound(devices_.begin(), devices_.end(), device_id,
                                      [](const DeviceRow& d, std::string_view id) { return d.record.id < id; });
    return row == devices_.end() || row->record.id != device_id ? nullptr : &*row;
  }

  // Takes this node's cameras and load into self_. The callbacks run before the lock is taken: they take ingest's.
  void RefreshSelf() const {
    auto cameras = callbacks_.recent_cameras(NowMs() - options_.camera_window_ms);
    std::sort(cameras.begin(), cameras.end());
    const uint64_t frames = callbacks_.frames_accepted();
    std::lock_guard lock(mu_);
    self_.load = meter_.Sample(frames, static_cast<int>(cameras.size()));
    self_.cameras = std::move(cameras);
  }

  void Loop() {
    if (!cpu_priority::SetCurrentThread(options_.heartbeat_nice)) {
      IOT_LOG(kWarn) << "cluster: cannot set the heartbeat thread's nice value to " << options_.heartbeat_nice;
    }
    const auto period = std::chrono::milliseconds(options_.heartbeat_ms);
    auto next = std::chrono::steady_clock::now();
    while (true) {
      Beat();
      next += period;
      // A heartbeat that took longer than its period (a slow connect) starts the next one at once, without a burst.
      next = std::max(next, std::chrono::steady_clock::now());
      std::unique_lock lock(mu_);
      if (wake_.wait_until(lock, next, [this] { return stopping_; })) return;
    }
  }

  // One heartbeat: this node's figures into its row, the whole table back into the snapshot. On the heartbeat
  // thread only; it alone touches conn_.
  void Beat() {
    RefreshSelf();
    NodeInfo self;
    {
      std::lock_guard lock(mu_);
      self = self_;
    }
    if (conn_ == nullptr || !conn_->healthy()) {
      conn_.reset();
      auto opened = pg::Connection::Open(options_.database_url);
      if (!opened.ok()) return Fail(opened.status());
      opened.value()->set_deadline_ms(kMigrationDeadlineMs);
      auto migrated = Migrate(*opened.value(), ClusterMigrations());
      if (!migrated.ok()) return Fail(migrated.status());
      conn_ = std::move(opened).value();
      conn_->set_deadline_ms(kHeartbeatDeadlineMs);
    }
    const Status written = conn_->Run(
        kUpsertSql, {self.node_id, self.advertise_url, std::to_string(started_ms_), self.version,
                     ToText(self.load.frames_per_s), ToText(self.load.cpu_percent), std::to_string(self.load.cameras),
                     nlohmann::json(self.cameras).dump()});
    if (!written.ok()) return Fail(written);
    if (!self.cameras.empty()) {
      if (Status placed = conn_->Run(kPlaceSql, {self.node_id, Placements(self.cameras)}); !placed.ok()) {
        return Fail(placed);
      }
    }
    if (Status saved = WritePendingDevices(); !saved.ok()) return Fail(saved);
    auto nodes = ReadNodes(*conn_, options_.down_after_ms);
    if (!nodes.ok()) return Fail(nodes.status());
    auto placements = ReadPlacements(*conn_);
    if (!placements.ok()) return Fail(placements.status());
    auto devices = ReadDevices(*conn_);
    if (!devices.ok()) return Fail(devices.status());
    heartbeats_.Add();
    database_up_.Set(1);
    nodes_up_.Set(std::count_if(nodes.value().begin(), nodes.value().end(), [](const NodeInfo& n) { return n.up; }));
    bool was_failing = false;
    {
      std::lock_guard lock(mu_);
      nodes_ = std::move(nodes).value();
      placements_ = std::move(placements).value();
      devices_ = std::move(devices).value();
      for (auto& n : nodes_) {
        if (n.node_id == options_.node_id) self_.last_heartbeat_ms = n.last_heartbeat_ms;
      }
      checked_ms_ = NowMs();
      reachable_ = true;
      was_failing = failing_;
      failing_ = false;
    }
    if (was_failing || !announced_) {
      IOT_LOG(kInfo) << "cluster: heartbeating as '" << options_.node_id << "' (" << self.advertise_url
                     << ") in the database";
      announced_ = true;
    }
  }

  // The records and deletions SaveDevices and ForgetDevice left, in two statements; when either fails, what it
  // carried waits for the next heartbeat again (unless a newer change of the same camera came meanwhile). A record
  // whose name, location and schedule are as last written here waits until kCountersEveryMs have passed since: its
  // counters grow with every frame, and rewriting them each second would cost WAL for every online camera.
  Status WritePendingDevices() {
    std::map<std::string, std::optional<DeviceRecord>> pending;
    {
      std::lock_guard lock(mu_);
      pending.swap(pending_);
    }
    if (pending.empty()) return Status::Ok();
    const int64_t now = NowMs();
    std::map<std::string, std::optional<DeviceRecord>> later;
    nlohmann::json saved = nlohmann::json::array(), gone = nlohmann::json::array();
    for (auto it = pending.begin(); it != pending.end();) {
      const auto& [id, record] = *it;
      const auto last = written_.find(id);
      if (record && last != written_.end() && SameSettings(last->second.record, *record) &&
          now - last->second.at_ms < kCountersEveryMs) {
        later.insert(pending.extract(it++));
        continue;
      }
      if (record) {
        saved.push_back(RecordJson(*record));
      } else {
        gone.push_back(id);
      }
      ++it;
    }
    Status st = saved.empty() ? Status::Ok() : conn_->Run(kSaveDevicesSql, {options_.node_id, saved.dump()});
    if (st.ok() && !gone.empty()) st = conn_->Run(kForgetDevicesSql, {gone.dump()});
    if (st.ok()) {
      for (const auto& [id, record] : pending) {
        if (record) {
          written_[id] = {*record, now};
        } else {
          written_.erase(id);
        }
      }
    } else {
      later.merge(pending);
    }
    std::lock_guard lock(mu_);
    pending_.merge(later);  // keeps the newer entry where a camera changed again meanwhile
    return st;
  }

  static bool SameSettings(const DeviceRecord& a, const DeviceRecord& b) {
    return a.name == b.name && a.location == b.location && a.sparse == b.sparse &&
           a.expected_interval_ms == b.expected_interval_ms;
  }

  // [[id, description], ...] for kPlaceSql.
  std::string Placements(const std::vector<std::string>& cameras) const {
    std::vector<std::string> described;
    if (callbacks_.describe_cameras) described = callbacks_.describe_cameras(cameras);
    nlohmann::json rows = nlohmann::json::array();
    for (size_t i = 0; i < cameras.size(); ++i) {
      nlohmann::json device = i < described.size() ? nlohmann::json::parse(described[i], nullptr, false)
                                                   : nlohmann::json::object();
      if (!device.is_object()) device = nlohmann::json::object();
      rows.push_back(nlohmann::json::array({cameras[i], std::move(device)}));
    }
    return rows.dump();
  }

  // A heartbeat that did not reach the database: the node goes on alone, and the next heartbeat reconnects.
  void Fail(const Status& why) {
    failures_.Add();
    database_up_.Set(0);
    conn_.reset();
    bool was_failing = false;
    {
      std::lock_guard lock(mu_);
      reachable_ = false;
      was_failing = failing_;
      failing_ = true;
    }
    if (!was_failing) {
      IOT_LOG(kWarn) << "cluster: the database is unreachable or failed (" << why.ToString()
                     << "); this node keeps taking frames and serving on its own, and retries every "
                     << options_.heartbeat_ms << " ms";
    }
  }

  const MembershipOptions options_;
  const MembershipCallbacks callbacks_;
  const int64_t started_ms_;
  Counter& heartbeats_;
  Counter& failures_;
  Gauge& database_up_;
  Gauge& nodes_up_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;           // guarded by mu_
  mutable LoadMeter meter_;         // guarded by mu_
  mutable NodeInfo self_;           // guarded by mu_
  std::vector<NodeInfo> nodes_;     // guarded by mu_: the table as last read
  std::vector<CameraPlacement> placements_;  // guarded by mu_: camera_nodes as last read
  std::vector<DeviceRow> devices_;          // guarded by mu_: devices as last read
  std::map<std::string, std::optional<DeviceRecord>> pending_;  // guarded by mu_: to write; nullopt: to delete
  struct Written {
    DeviceRecord record;
    int64_t at_ms = 0;
  };
  std::map<std::string, Written> written_;  // the heartbeat thread's only: what this node last wrote, and when
  bool reachable_ = false;          // guarded by mu_
  bool failing_ = false;            // guarded by mu_: the last heartbeat failed (its problem was logged)
  int64_t checked_ms_ = 0;          // guarded by mu_

  std::unique_ptr<pg::Connection> conn_;  // the heartbeat thread's only
  bool announced_ = false;                // the heartbeat thread's only
  std::thread thread_;
};

Membership::Membership(MembershipOptions options, MembershipCallbacks callbacks, Metrics& metrics)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(callbacks), metrics)) {}

Membership::~Membership() = default;

void Membership::Start(std::string advertise_url) { impl_->Start(std::move(advertise_url)); }

void Membership::SaveDevices(const std::vector<DeviceRecord>& records) { impl_->SaveDevices(records); }

void Membership::ForgetDevice(const std::string& device_id) { impl_->ForgetDevice(device_id); }

std::optional<NodeInfo> Membership::HolderOf(std::string_view device_id) const { return impl_->HolderOf(device_id); }

std::optional<NodeInfo> Membership::NodeById(std::string_view node_id) const { return impl_->NodeById(node_id); }

std::optional<DeviceRow> Membership::DeviceRowOf(std::string_view device_id) const {
  return impl_->DeviceRowOf(device_id);
}

ClusterView Membership::Snapshot() const { return impl_->Snapshot(); }

Result<std::vector<NodeInfo>> ListNodes(const std::string& database_url, int64_t down_after_ms) {
  auto conn = pg::Connection::Open(database_url);
  if (!conn.ok()) return conn.status();
  return ReadNodes(*conn.value(), down_after_ms);
}

}  // namespace iotstream::cluster
