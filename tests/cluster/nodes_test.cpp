// A real cluster on this machine: PostgreSQL in a temporary folder, three iotstream nodes on 127.0.0.1-3, and
// HAProxy with the configuration `iotstream cluster haproxy-config` printed for them. Cameras' frames through
// HAProxy land on one node each; a node killed with SIGKILL hands only its cameras to the others; the nodes outlive
// the database and heartbeat again once it is back. Every wait polls for its condition with a deadline.
#include <signal.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <array>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "cluster/cluster.h"
#include "cluster/postgres.h"
#include "notify/receiver.h"
#include "support/jpeg_encode.h"
#include "support/raw_tcp.h"
#include "support/server_test.h"

namespace iotstream {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::ChildProcess;
using testing::HttpClient;
using testing::HttpResult;
using testing::ServerProcess;

constexpr int kNodes = 3;
constexpr int kCameras = 60;
constexpr int kCheckIntervalMs = 500;

std::string CameraId(int i) { return "cam-" + std::to_string(100 + i); }

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The node that answered through HAProxy (its X-Iotstream-Node header); empty when none did.
std::string NodeOf(const HttpResult& r) {
  const auto it = r.headers.find("x-iotstream-node");
  return it == r.headers.end() ? std::string() : it->second;
}

json GetJson(const ServerProcess& node, const std::string& target) {
  const HttpResult r = HttpClient(node.host(), node.port()).Get(target);
  return r.status == 200 ? json::parse(r.body, nullptr, false) : json();
}

// GET /api/v1/cluster of `node`, its nodes by id.
std::map<std::string, json> ClusterNodesOf(const ServerProcess& node, json* whole = nullptr) {
  std::map<std::string, json> out;
  const json j = GetJson(node, "/api/v1/cluster");
  if (whole != nullptr) *whole = j;
  if (!j.is_object() || !j.contains("nodes")) return out;
  for (const auto& n : j["nodes"]) out[n["node_id"].get<std::string>()] = n;
  return out;
}

// The devices `node` received frames from, with their counts (its list names the other nodes' cameras too, each
// with "node_up" beside the node that holds it).
std::map<std::string, uint64_t> DevicesOf(const ServerProcess& node) {
  std::map<std::string, uint64_t> out;
  const json j = GetJson(node, "/api/v1/devices");
  if (!j.is_object() || !j.contains("devices")) return out;
  for (const auto& d : j["devices"]) {
    if (!d.contains("node_up")) out[d["id"].get<std::string>()] = d["frames_received"].get<uint64_t>();
  }
  return out;
}

// Enrols "Barack Obama" from obama.jpg on `node`'s recognition port; its answer.
HttpResult EnrolObama(const ServerProcess& node) {
  return HttpClient(node.host(), node.recognition_port())
      .Request("POST", "/api/v1/recognition/add-permitted-face",
               testing::MultipartBody(
                   "enrol", {{"name", "Barack Obama", "", ""},
                             {"image", testing::FaceJpeg("ageitgey_face_recognition/examples/obama.jpg"), "p.jpg",
                              "image/jpeg"}}),
               {{"Content-Type", "multipart/form-data; boundary=enrol"}});
}

class ClusterNodes : public testing::ServerTest {
 protected:
  std::string NodeId(int i) const { return "n" + std::to_string(i + 1); }

  std::unique_ptr<ServerProcess> StartNode(int i) const {
    return StartNode(i, {"--recognition=false", "--recognition-api=false"});
  }
  // Node i with `args` besides its address, id and database.
  std::unique_ptr<ServerProcess> StartNode(int i, std::vector<std::string> args) const {
    args.insert(args.end(), {"--bind", "127.0.0." + std::to_string(i + 1), "--node-id", NodeId(i), "--database",
                             pg_.url("iotstream"), "--trusted-proxy", "127.0.0.1"});
    return std::make_unique<ServerProcess>(dir_.path() / NodeId(i), std::move(args));
  }

  // PostgreSQL, three nodes (the first two started at the same moment), HAProxy in front of them.
  void StartCluster() {
    ASSERT_FALSE(pg_.url().empty());
    ASSERT_TRUE(pg_.CreateDatabase("iotstream"));
    {
      std::thread second([this] { nodes_[1] = StartNode(1); });
      nodes_[0] = StartNode(0);
      second.join();
    }
    nodes_[2] = StartNode(2);
    for (const auto& n : nodes_) ASSERT_NE(n->port(), 0);

    // Every node sees all three up.
    for (const auto& n : nodes_) {
      EXPECT_TRUE(testing::WaitFor(
          [&] {
            const auto view = ClusterNodesOf(*n);
            return view.size() == kNodes &&
                   std::all_of(view.begin(), view.end(), [](const auto& v) { return v.second["state"] == "up"; });
          },
          std::chrono::seconds(15)))
          << n->host() << ": " << GetJson(*n, "/api/v1/cluster").dump(1) << "\n" << n->Log();
    }
    ASSERT_FALSE(HasFailure());

    const unsigned short haproxy_port = testing::FreePort();
    proxy_port_ = haproxy_port;
    const fs::path config = dir_.path() / "haproxy.cfg";
    const int printed = testing::RunToCompletion(
        {std::getenv("IOTSTREAM_BIN"), "cluster", "haproxy-config", "--database", pg_.url("iotstream"), "--bind",
         "127.0.0.1", "--port", std::to_string(haproxy_port), "--check-interval-ms", std::to_string(kCheckIntervalMs)},
        config);
    ASSERT_EQ(printed, 0) << testing::ReadFile(config);
    const std::string haproxy = testing::HaproxyBin();
    ASSERT_FALSE(haproxy.empty()) << "haproxy is not installed (scripts/setup.sh with WITH_TEST_TOOLS=1)";
    ASSERT_EQ(testing::RunToCompletion({haproxy, "-c", "-f", config.string()}, dir_.path() / "haproxy-check.log"), 0)
        << testing::ReadFile(dir_.path() / "haproxy-check.log") << testing::ReadFile(config);
    haproxy_ = std::make_unique<ChildProcess>(std::vector<std::string>{haproxy, "-f", config.string(), "-db"},
                                              dir_.path() / "haproxy.log", SIGTERM);
    ASSERT_TRUE(testing::WaitFor([&] { return HttpClient(proxy_port_).Get("/health").status == 200; }))
        << testing::ReadFile(dir_.path() / "haproxy.log");
  }

  // One frame of camera `i` through HAProxy: every third camera names itself in the query, the others in the
  // X-Device-ID header (the two ways HAProxy finds the device id of an upload).
  HttpResult SendFrame(HttpClient& proxy, int i) const {
    if (i % 3 == 0) {
      return proxy.Request("POST", "/api/v1/stream/fast?device_id=" + CameraId(i), obama_,
                           {{"Content-Type", "image/jpeg"}});
    }
    return proxy.PostJpeg("/api/v1/stream/fast", obama_, CameraId(i));
  }

  // Which node holds each camera (by the nodes' own device lists); a camera on two nodes fails the test.
  std::map<std::string, int> Owners(const std::set<int>& alive) {
    std::map<std::string, int> owner;
    for (int n : alive) {
      for (const auto& [id, frames] : DevicesOf(*nodes_[n])) {
        const auto [it, fresh] = owner.emplace(id, n);
        EXPECT_TRUE(fresh) << id << " is on " << NodeId(it->second) << " and on " << NodeId(n);
      }
    }
    return owner;
  }

  testing::PostgresServer pg_;
  std::array<std::unique_ptr<ServerProcess>, kNodes> nodes_;
  std::unique_ptr<ChildProcess> haproxy_;
  unsigned short proxy_port_ = 0;
};

TEST_F(ClusterNodes, WithoutADatabaseTheNodeIsAlone) {
  auto node = Start({"--recognition=false", "--recognition-api=false", "--node-id", "solo"});
  ASSERT_NE(node.port(), 0);
  HttpClient c(node.port());
  ASSERT_EQ(c.PostJpeg("/api/v1/stream/fast", obama_, "porch").status, 200);
  const json j = json::parse(c.Get("/api/v1/cluster").body);
  EXPECT_EQ(j["mode"], "single");
  EXPECT_EQ(j["self"], "solo");
  EXPECT_FALSE(j.contains("database"));
  ASSERT_EQ(j["nodes"].size(), 1u) << j.dump();
  const json& self = j["nodes"][0];
  EXPECT_EQ(self["node_id"], "solo");
  EXPECT_EQ(self["state"], "up");
  EXPECT_EQ(self["advertise_url"], "http://127.0.0.1:" + std::to_string(node.port()));
  EXPECT_EQ(self["cameras"], json::array({"porch"}));
  EXPECT_EQ(self["load"]["cameras"], 1);
  EXPECT_EQ(node.Log().find("cluster:"), std::string::npos) << "nothing of the cluster runs without --database";
}

TEST_F(ClusterNodes, ANodeStartsWithoutItsDatabaseAndJoinsWhenItComes) {
  ASSERT_FALSE(pg_.url().empty());
  ASSERT_TRUE(pg_.CreateDatabase("iotstream"));
  pg_.Stop();
  const auto node = StartNode(0);
  ASSERT_NE(node->port(), 0);
  HttpClient c(node->host(), node->port());
  EXPECT_EQ(c.PostJpeg("/api/v1/stream/fast", obama_, "porch").status, 200);
  json j = GetJson(*node, "/api/v1/cluster");
  EXPECT_EQ(j["mode"], "cluster");
  EXPECT_TRUE(testing::WaitFor([&] { return GetJson(*node, "/api/v1/cluster")["database"] == "unreachable"; }))
      << GetJson(*node, "/api/v1/cluster").dump(1);
  EXPECT_NE(node->Log().find("cluster: the database is unreachable"), std::string::npos) << node->Log();

  ASSERT_TRUE(pg_.Start());
  EXPECT_TRUE(testing::WaitFor([&] {
    j = GetJson(*node, "/api/v1/cluster");
    return j["database"] == "ok" && j["nodes"].size() == 1 && j["nodes"][0]["cameras"] == json::array({"porch"});
  })) << j.dump(1);
  const auto rows = testing::Query(pg_.url("iotstream"), "SELECT node_id, cameras::text FROM nodes");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0], "n1");
  EXPECT_EQ(rows[0][1], "[\"porch\"]");
}

TEST_F(ClusterNodes, HaproxyConfigSaysWhyItCannotBeWritten) {
  ASSERT_FALSE(pg_.url().empty());
  ASSERT_TRUE(pg_.CreateDatabase("empty"));
  const std::string bin = std::getenv("IOTSTREAM_BIN");
  const fs::path out = dir_.path() / "out.txt";
  // Exit status and what it said, for `cluster haproxy-config` with `args`.
  auto run = [&](std::vector<std::string> args) {
    fs::remove(out);
    args.insert(args.begin(), {bin, "cluster", "haproxy-config"});
    const int rc = testing::RunToCompletion(args, out);
    return std::pair{rc, testing::ReadFile(out)};
  };
  auto [rc, said] = run({});
  EXPECT_EQ(rc, 2);
  EXPECT_NE(said.find("needs --database"), std::string::npos) << said;
  std::tie(rc, said) = run({"--database", "mysql://db/x"});
  EXPECT_EQ(rc, 2);
  EXPECT_NE(said.find("--database"), std::string::npos) << said;
  std::tie(rc, said) = run({"--database", pg_.url("empty"), "--port", "0"});
  EXPECT_EQ(rc, 2);
  EXPECT_NE(said.find("--port"), std::string::npos) << said;
  std::tie(rc, said) = run({"--database", pg_.url("empty"), "--check-interval-ms", "10"});
  EXPECT_EQ(rc, 2);
  EXPECT_NE(said.find("--check-interval-ms"), std::string::npos) << said;
  // No node ever used this database: nothing to balance.
  std::tie(rc, said) = run({"--database", pg_.url("empty")});
  EXPECT_EQ(rc, 1);
  EXPECT_NE(said.find("cannot read the nodes"), std::string::npos) << said;
  ASSERT_TRUE(cluster::ApplyMigrations(pg_.url("empty"), cluster::ClusterMigrations()).ok());
  std::tie(rc, said) = run({"--database", pg_.url("empty")});
  EXPECT_EQ(rc, 1);
  EXPECT_NE(said.find("no nodes are registered"), std::string::npos) << said;
  pg_.Stop();
  std::tie(rc, said) = run({"--database", pg_.url("empty")});
  EXPECT_EQ(rc, 1);
  EXPECT_NE(said.find("cannot read the nodes"), std::string::npos) << said;
}

TEST_F(ClusterNodes, CamerasSpreadOverTheNodesAndMoveOnlyWhenTheirNodeDies) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());

  // The schema was made once, although two nodes started together.
  int applied = 0;
  for (const auto& n : nodes_) {
    const std::string log = n->Log();
    for (size_t at = log.find("cluster: applied migration"); at != std::string::npos;
         at = log.find("cluster: applied migration", at + 1)) {
      ++applied;
    }
  }
  const auto recorded = testing::Query(pg_.url("iotstream"), "SELECT count(*) FROM schema_migrations");
  ASSERT_EQ(recorded.size(), 1u);
  EXPECT_EQ(std::to_string(applied), recorded[0][0]);
  EXPECT_GE(applied, 2);

  // Each node's advertise URL defaults to its bind address and port.
  const auto view = ClusterNodesOf(*nodes_[0]);
  for (int i = 0; i < kNodes; ++i) {
    EXPECT_EQ(view.at(NodeId(i))["advertise_url"],
              "http://127.0.0." + std::to_string(i + 1) + ":" + std::to_string(nodes_[i]->port()));
  }

  // 60 cameras, two frames each, through HAProxy: each accepted, each camera on exactly one node, every node used.
  HttpClient proxy(proxy_port_);
  std::map<std::string, std::string> answered_by;
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < kCameras; ++i) {
      const HttpResult r = SendFrame(proxy, i);
      ASSERT_EQ(r.status, 200) << CameraId(i) << ": " << r.body;
      const std::string node = NodeOf(r);
      if (round == 1) {
        EXPECT_EQ(node, answered_by[CameraId(i)]) << CameraId(i) << " moved without a failure";
      }
      answered_by[CameraId(i)] = node;
    }
  }
  const auto before = Owners({0, 1, 2});
  ASSERT_EQ(before.size(), static_cast<size_t>(kCameras));
  std::array<std::set<std::string>, kNodes> held;
  for (const auto& [id, n] : before) {
    held[n].insert(id);
    EXPECT_EQ(answered_by[id], NodeId(n)) << id;
  }
  for (int n = 0; n < kNodes; ++n) EXPECT_FALSE(held[n].empty()) << NodeId(n) << " got no camera";
  const std::array<std::map<std::string, uint64_t>, kNodes> counts{DevicesOf(*nodes_[0]), DevicesOf(*nodes_[1]),
                                                                    DevicesOf(*nodes_[2])};
  // The nodes' heartbeats carry their cameras into every node's view.
  EXPECT_TRUE(testing::WaitFor([&] {
    const auto v = ClusterNodesOf(*nodes_[2]);
    for (int n = 0; n < kNodes; ++n) {
      if (v.at(NodeId(n))["cameras"].size() != held[n].size()) return false;
    }
    return true;
  })) << GetJson(*nodes_[2], "/api/v1/cluster").dump(1);

  // Every node's device list shows all 60 cameras once, each with the node that holds it.
  EXPECT_TRUE(testing::WaitFor([&] {
    const json j = GetJson(*nodes_[0], "/api/v1/devices");
    if (!j.contains("devices") || j["devices"].size() != static_cast<size_t>(kCameras)) return false;
    return std::all_of(j["devices"].begin(), j["devices"].end(), [&](const json& d) {
      return d["node"] == NodeId(before.at(d["id"].get<std::string>()));
    });
  })) << GetJson(*nodes_[0], "/api/v1/devices").dump();

  // A camera of n2 is given a name and a place there, which its heartbeat carries to the others.
  const int dead = 1;
  const std::string named = *held[dead].begin();
  ASSERT_EQ(HttpClient(nodes_[dead]->host(), nodes_[dead]->port())
                .Request("PATCH", "/api/v1/devices/" + named, R"({"name":"Porch","location":"front"})")
                .status,
            200);
  EXPECT_TRUE(testing::WaitFor([&] {
    const json j = GetJson(*nodes_[0], "/api/v1/devices");
    return j.contains("devices") && std::any_of(j["devices"].begin(), j["devices"].end(), [&](const json& d) {
             return d["id"] == named && d["name"] == "Porch";
           });
  }));

  // n2 dies. Its cameras' next frames are accepted by the others once HAProxy has seen it fail.
  nodes_[dead]->Stop(SIGKILL);
  for (const auto& id : held[dead]) {
    const int i = std::stoi(id.substr(4)) - 100;
    EXPECT_TRUE(testing::WaitFor([&] { return SendFrame(proxy, i).status == 200; }, std::chrono::seconds(10))) << id;
  }
  // Every camera once more: the living nodes' cameras stay where they were, the dead node's land on one node each.
  for (int i = 0; i < kCameras; ++i) {
    const HttpResult r = SendFrame(proxy, i);
    ASSERT_EQ(r.status, 200) << CameraId(i) << ": " << r.body;
    EXPECT_NE(NodeOf(r), NodeId(dead));
  }
  const auto after = Owners({0, 2});
  EXPECT_EQ(after.size(), static_cast<size_t>(kCameras));
  for (int n : {0, 2}) {
    const auto now = DevicesOf(*nodes_[n]);
    for (const auto& id : held[n]) {
      ASSERT_EQ(after.count(id), 1u) << id;
      EXPECT_EQ(after.at(id), n) << id << " left " << NodeId(n) << ", which did not fail";
      EXPECT_GT(now.at(id), counts[n].at(id)) << id << " got no new frame on " << NodeId(n);
    }
  }
  for (const auto& id : held[dead]) EXPECT_EQ(after.count(id), 1u) << id << " found no new node";
  // A moved camera's new node lists its new frames and says the older ones lie on n2, unavailable while it is down.
  const std::string moved = *held[dead].begin();
  const ServerProcess& heir = *nodes_[after.at(moved)];
  json frames;
  EXPECT_TRUE(testing::WaitFor([&] {
    frames = GetJson(heir, "/api/v1/devices/" + moved + "/frames");
    return frames.contains("elsewhere") && frames["elsewhere"].size() == 1 &&
           frames["elsewhere"][0]["available"] == false;
  })) << frames.dump();
  EXPECT_EQ(frames["elsewhere"][0]["node"], NodeId(dead));
  EXPECT_GE(frames["count"].get<int>(), 1);
  // The named camera kept its name and place on the node it moved to.
  const json kept = GetJson(*nodes_[after.at(named)], "/api/v1/devices/" + named);
  EXPECT_EQ(kept["name"], "Porch") << kept.dump();
  EXPECT_EQ(kept["location"], "front") << kept.dump();

  // The survivors see it down.
  for (int n : {0, 2}) {
    EXPECT_TRUE(testing::WaitFor([&] {
      const auto v = ClusterNodesOf(*nodes_[n]);
      return v.size() == kNodes && v.at(NodeId(dead))["state"] == "down" && v.at(NodeId(0))["state"] == "up" &&
             v.at(NodeId(2))["state"] == "up";
    })) << GetJson(*nodes_[n], "/api/v1/cluster").dump(1);
  }
}

TEST_F(ClusterNodes, NodesOutliveTheDatabaseAndHeartbeatOnceItIsBack) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  HttpClient proxy(proxy_port_);
  for (int i = 0; i < kCameras; ++i) ASSERT_EQ(SendFrame(proxy, i).status, 200) << CameraId(i);

  pg_.Stop();
  for (const auto& n : nodes_) {
    EXPECT_TRUE(testing::WaitFor([&] { return GetJson(*n, "/api/v1/cluster")["database"] == "unreachable"; }))
        << n->host() << ": " << GetJson(*n, "/api/v1/cluster").dump(1);
  }
  // Without the database: frames accepted, live view served, and the last known cluster still listed. Cameras new
  // to the nodes come online meanwhile: their events wait on their nodes.
  for (int i = 0; i < kCameras; ++i) ASSERT_EQ(SendFrame(proxy, i).status, 200) << CameraId(i);
  for (int i = kCameras; i < kCameras + 6; ++i) ASSERT_EQ(SendFrame(proxy, i).status, 200) << CameraId(i);
  const HttpResult snapshot = HttpClient(proxy_port_).Get("/api/v1/devices/" + CameraId(7) + "/snapshot.jpg");
  EXPECT_EQ(snapshot.status, 200);
  EXPECT_EQ(snapshot.headers.count("content-type") ? snapshot.headers.at("content-type") : "", "image/jpeg");
  json whole;
  const auto known = ClusterNodesOf(*nodes_[0], &whole);
  EXPECT_EQ(known.size(), static_cast<size_t>(kNodes)) << whole.dump(1);
  EXPECT_EQ(whole["mode"], "cluster");
  const int64_t lost_at_ms = WallMs();
  const HttpResult metrics = HttpClient(nodes_[0]->host(), nodes_[0]->port()).Get("/metrics");
  EXPECT_NE(metrics.body.find("\ncluster_database_up 0"), std::string::npos);
  // The outage lasts at least ten heartbeats (10 s) on every node, the cameras sending all along.
  const auto failed_beats = [](const ServerProcess& n) {
    return testing::MetricValue(HttpClient(n.host(), n.port()).Get("/metrics").body, "cluster_heartbeat_failures_total");
  };
  std::array<uint64_t, kNodes> failed_before{};
  for (int n = 0; n < kNodes; ++n) failed_before[n] = failed_beats(*nodes_[n]);
  for (int n = 0; n < kNodes; ++n) {
    ASSERT_TRUE(testing::WaitFor(
        [&] {
          for (int i = 0; i < kCameras; i += 7) (void)SendFrame(proxy, i);
          return failed_beats(*nodes_[n]) >= failed_before[n] + 10;
        },
        std::chrono::seconds(60)));
  }

  // Back: every node writes its heartbeat again and sees all three up.
  ASSERT_TRUE(pg_.Start());
  for (const auto& n : nodes_) {
    EXPECT_TRUE(testing::WaitFor(
        [&] {
          json j;
          const auto v = ClusterNodesOf(*n, &j);
          if (j["database"] != "ok" || v.size() != kNodes) return false;
          return std::all_of(v.begin(), v.end(), [&](const auto& e) {
            return e.second["state"] == "up" && e.second["last_heartbeat_ms"].template get<int64_t>() > lost_at_ms;
          });
        },
        std::chrono::seconds(15)))
        << n->host() << ": " << GetJson(*n, "/api/v1/cluster").dump(1) << "\n" << n->Log();
  }
  const std::string log = nodes_[0]->Log();
  EXPECT_NE(log.find("cluster: the database is unreachable"), std::string::npos) << log;
  // No event was lost: the new cameras' device_online are in the shared log, once each, whichever node held them.
  std::map<std::string, int> online;
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        online.clear();
        const json j = GetJson(*nodes_[0], "/api/v1/events?type=device_online&limit=1000");
        if (!j.contains("events")) return false;
        for (const auto& e : j["events"]) ++online[e["device_id"].get<std::string>()];
        return online.size() == static_cast<size_t>(kCameras + 6);
      },
      std::chrono::seconds(20)))
      << GetJson(*nodes_[0], "/api/v1/events?type=device_online&limit=1000").dump();
  for (int i = kCameras; i < kCameras + 6; ++i) EXPECT_EQ(online[CameraId(i)], 1) << CameraId(i);
}

// The camera simulator (60 cameras, /stream: answered after the frame is stored) through HAProxy while n2 is killed:
// its cameras move, the simulator's upload p99 over the move is reported, and once n2 is back on its data every frame
// the simulator had an answer 200 for is stored on exactly the node that answered.
TEST_F(ClusterNodes, UnderTheSimulatorAKilledNodesCamerasMoveAndNoAcknowledgedFrameIsLost) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  const fs::path frames = dir_.path() / "frames";
  fs::create_directories(frames);
  for (const char* photo : {"obama-240p.jpg", "obama-480p.jpg", "biden.jpg"}) {
    fs::copy_file(testing::FacesDir() / "ageitgey_face_recognition/examples" / photo, frames / photo);
  }
  const fs::path out = dir_.path() / "sim.txt";
  int sim_rc = -1;
  std::thread sim([&] {
    sim_rc = testing::RunToCompletion({IOTSTREAM_SIM_BIN, "--url", "http://127.0.0.1:" + std::to_string(proxy_port_),
                                       "--cameras", std::to_string(kCameras), "--fps", "2", "--duration", "8",
                                       "--frames", frames.string(), "--path", "/api/v1/stream/stream",
                                       "--device-prefix", "sim-", "--json"},
                                      out);
  });
  // Once n2 holds cameras of the simulator, it dies.
  const int dead = 1;
  const bool sending = testing::WaitFor([&] { return !DevicesOf(*nodes_[dead]).empty(); });
  nodes_[dead]->Stop(SIGKILL);
  sim.join();
  ASSERT_TRUE(sending) << "the simulator's cameras never reached " << NodeId(dead);
  ASSERT_EQ(sim_rc, 0) << testing::ReadFile(out);
  const std::string text = testing::ReadFile(out);
  const json result = json::parse(text.substr(std::min(text.find("{\n"), text.size())), nullptr, false);
  ASSERT_TRUE(result.is_object()) << text;
  const json& total = result["total"];
  std::printf("[ info ] n2 killed under %d cameras: %llu of %llu uploads answered 200, upload p50 %.1f ms, p99 %.1f ms, "
              "max %.1f ms\n",
              kCameras, static_cast<unsigned long long>(total["ok"].get<uint64_t>()),
              static_cast<unsigned long long>(total["sent"].get<uint64_t>()),
              total["latency_ms"]["p50"].get<double>(), total["latency_ms"]["p99"].get<double>(),
              total["latency_ms"]["max"].get<double>());
  EXPECT_GT(total["ok"].get<uint64_t>(), 0u);

  // n2 back on its data (a new port: nothing is routed to it, it is only read).
  nodes_[dead] = StartNode(dead);
  ASSERT_NE(nodes_[dead]->port(), 0) << nodes_[dead]->Log();
  for (const auto& camera : result["per_camera"]) {
    const std::string id = camera["device_id"];
    uint64_t stored = 0;
    for (const auto& n : nodes_) {
      const json listed = GetJson(*n, "/api/v1/devices/" + id + "/frames?limit=1000");
      if (listed.contains("count")) stored += listed["count"].get<uint64_t>();
    }
    // A frame stored but whose answer was lost with its node is stored and not acknowledged: at least, not equal.
    EXPECT_GE(stored, camera["ok"].get<uint64_t>()) << id;
    EXPECT_LE(stored, camera["sent"].get<uint64_t>()) << id;
  }
}

// The shared gallery and event log: a person enrolled on n1 is named by a camera of n3 (n1's gallery change reaches
// n3 by NOTIFY), and every event, whichever node logged it, reaches the viewers of all three nodes with one id.
TEST_F(ClusterNodes, AnEnrolmentOnOneNodeNamesThePersonOnAnotherAndEveryNodesViewersSeeIt) {
  ASSERT_TRUE(fs::exists(testing::ModelsDir() / "face_recognition_model.bin"))
      << "no descriptor weights in " << testing::ModelsDir() << ": run scripts/fetch-models.sh (test.sh does)";
  ASSERT_FALSE(pg_.url().empty());
  ASSERT_TRUE(pg_.CreateDatabase("iotstream"));
  // One webhook, configured on every node (as a site would): each event reaches it once, from whichever node.
  testing::Receiver receiver;
  const std::vector<std::string> recognition = {"--models-dir", testing::ModelsDir().string(), "--max-workers", "1",
                                                "--event-dedup-s", "60", "--webhook", receiver.Url()};
  nodes_[0] = StartNode(0, recognition);
  nodes_[1] = StartNode(1, {"--recognition=false", "--recognition-api=false", "--webhook", receiver.Url()});
  nodes_[2] = StartNode(2, recognition);
  for (const auto& n : nodes_) ASSERT_NE(n->port(), 0) << n->Log();
  std::array<std::unique_ptr<testing::WsClient>, kNodes> viewers;
  for (int n = 0; n < kNodes; ++n) {
    viewers[n] = std::make_unique<testing::WsClient>(nodes_[n]->host(), nodes_[n]->port(), "/ws");
    ASSERT_TRUE(viewers[n]->connected()) << NodeId(n);
    ASSERT_FALSE(testing::NextEvent(*viewers[n], "hello").is_null()) << NodeId(n);
  }
  // Each node listens to the others before anything is enrolled (NOTIFYs are not kept for late listeners).
  for (const auto& n : nodes_) {
    ASSERT_TRUE(testing::WaitFor([&] {
      return testing::MetricValue(HttpClient(n->host(), n->port()).Get("/metrics").body,
                                  "cluster_listener_reconnects_total") >= 1;
    })) << n->Log();
  }

  const int64_t enrolled_at = WallMs();
  const HttpResult enrolled = EnrolObama(*nodes_[0]);
  ASSERT_EQ(enrolled.status, 200) << enrolled.body << nodes_[0]->Log();
  // n3's gallery holds the face (its recognition port's health counts it).
  HttpClient n3_recognition(nodes_[2]->host(), nodes_[2]->recognition_port());
  ASSERT_TRUE(testing::WaitFor([&] {
    const json health = json::parse(n3_recognition.Get("/health").body, nullptr, false);
    return health.is_object() && health["gallery"]["faces"] == 1;
  })) << nodes_[2]->Log();
  std::printf("[ info ] the enrolment on n1 reached n3's gallery %lld ms after it was sent\n",
              static_cast<long long>(WallMs() - enrolled_at));
  // person_added, logged by n1, on every node's /ws with the same id.
  std::set<int64_t> added_ids;
  for (int n = 0; n < kNodes; ++n) {
    const json added = testing::NextEvent(*viewers[n], "person_added", std::chrono::seconds(10));
    ASSERT_FALSE(added.is_null()) << NodeId(n);
    EXPECT_EQ(added["name"], "Barack Obama");
    added_ids.insert(added["id"].get<int64_t>());
  }
  EXPECT_EQ(added_ids.size(), 1u);

  // A camera of n3: the empty room, then him.
  HttpClient cam(nodes_[2]->host(), nodes_[2]->port());
  const std::string empty = testing::EncodeJpeg(std::vector<uint8_t>(320 * 240, 128), 320, 240, 1, 85);
  ASSERT_EQ(cam.PostJpeg("/api/v1/stream/fast", empty, "hall").status, 200);
  ASSERT_TRUE(testing::WaitFor(
      [&] { return testing::MetricValue(cam.Get("/metrics").body, "recognition_motion_checks_total") >= 1; },
      std::chrono::seconds(60)));
  std::atomic<bool> stop{false};
  std::thread walking([&] {
    HttpClient c(nodes_[2]->host(), nodes_[2]->port());
    while (!stop) {
      (void)c.PostJpeg("/api/v1/stream/fast", obama_, "hall");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  std::set<int64_t> seen_ids;
  for (int n : {2, 0, 1}) {
    const json seen = testing::NextEvent(*viewers[n], "person_recognised", std::chrono::seconds(30));
    if (n == 2) {
      stop = true;
      walking.join();
    }
    ASSERT_FALSE(seen.is_null()) << NodeId(n) << "\n" << nodes_[n]->Log();
    EXPECT_EQ(seen["name"], "Barack Obama") << NodeId(n);
    EXPECT_EQ(seen["device_id"], "hall") << NodeId(n);
    seen_ids.insert(seen["id"].get<int64_t>());
  }
  EXPECT_EQ(seen_ids.size(), 1u) << "one event, logged once, seen on every node";
  // The log is one: n2 lists it with its thumbnail.
  const int64_t id = *seen_ids.begin();
  const json listed = GetJson(*nodes_[1], "/api/v1/events?type=person_recognised");
  ASSERT_EQ(listed["events"].size(), 1u) << listed.dump();
  EXPECT_EQ(listed["events"][0]["id"], id);
  const HttpResult thumbnail =
      HttpClient(nodes_[1]->host(), nodes_[1]->port()).Get("/api/v1/events/" + std::to_string(id) + "/thumbnail.jpg");
  EXPECT_EQ(thumbnail.status, 200);
  // Its frame_url names n3, which holds the frame, and n2 serves it from there.
  const std::string frame_url = listed["events"][0]["frame_url"].get<std::string>();
  EXPECT_NE(frame_url.find("?node=" + NodeId(2)), std::string::npos) << frame_url;
  HttpResult frame;  // the event may be out before its frame is on n3's disk
  EXPECT_TRUE(testing::WaitFor([&] {
    frame = HttpClient(nodes_[1]->host(), nodes_[1]->port()).Get(frame_url);
    return frame.status == 200;
  })) << frame.status << " " << frame.body;
  EXPECT_TRUE(frame.body == obama_) << "not the frame sent";

  // The webhook got every event logged up to the recognition (person_added, device_online, person_recognised, from
  // n1 and n3), each once.
  std::set<int64_t> logged;
  const json log = GetJson(*nodes_[1], "/api/v1/events?limit=1000");
  for (const auto& e : log["events"]) {
    if (e["id"].get<int64_t>() <= id) logged.insert(e["id"].get<int64_t>());
  }
  EXPECT_EQ(logged.count(*added_ids.begin()), 1u) << log.dump();
  std::map<int64_t, int> delivered;
  const auto all_there = [&] {
    delivered.clear();
    for (const auto& r : receiver.Accepted()) {
      const json body = json::parse(r.body, nullptr, false);
      if (body.is_object() && body.contains("id")) ++delivered[body["id"].get<int64_t>()];
    }
    return std::all_of(logged.begin(), logged.end(), [&](int64_t e) { return delivered.count(e) == 1; });
  };
  EXPECT_TRUE(testing::WaitFor(all_there, std::chrono::seconds(15))) << receiver.Accepted().size() << " deliveries";
  for (const auto& [event, times] : delivered) EXPECT_EQ(times, 1) << "event " << event << " delivered again";
}

// Accounts are the cluster's: a token made with the CLI against the database works on every node, a user added on
// n1 logs in on n2, that session is honoured by n1, n2's audit log has what n1 did, and a revocation on one node
// reaches the others.
TEST_F(ClusterNodes, AccountsTokensAndSessionsAreOneForEveryNode) {
  ASSERT_FALSE(pg_.url().empty());
  ASSERT_TRUE(pg_.CreateDatabase("iotstream"));
  const std::string bin = std::getenv("IOTSTREAM_BIN");
  const fs::path out = dir_.path() / "token.txt";
  ASSERT_EQ(testing::RunToCompletion({bin, "token", "create", "--name", "ops", "--role", "admin", "--database",
                                      pg_.url("iotstream")},
                                     out),
            0)
      << testing::ReadFile(out);
  std::string token = testing::ReadFile(out);
  token = token.substr(token.find("iot_"), token.find_first_of("\r\n", token.find("iot_")) - token.find("iot_"));
  // The polls below present credentials a node has not read yet: no failure limit for them.
  const std::vector<std::string> args = {"--recognition=false", "--recognition-api=false", "--auth", "on",
                                         "--auth-max-failures", "1000"};
  {
    std::thread second([&] { nodes_[1] = StartNode(1, args); });
    nodes_[0] = StartNode(0, args);
    second.join();
  }
  for (int n = 0; n < 2; ++n) ASSERT_NE(nodes_[n]->port(), 0) << nodes_[n]->Log();
  // The first admin is made once for the cluster, although both nodes started at once.
  int admins = 0;
  for (int n = 0; n < 2; ++n) admins += nodes_[n]->Log().find("first start: created user 'admin'") != std::string::npos;
  EXPECT_EQ(admins, 1);
  const std::vector<std::pair<std::string, std::string>> bearer = {{"Authorization", "Bearer " + token}};
  HttpClient n1(nodes_[0]->host(), nodes_[0]->port());
  HttpClient n2(nodes_[1]->host(), nodes_[1]->port());
  EXPECT_EQ(n1.Request("GET", "/api/v1/devices", "", bearer).status, 200);
  EXPECT_EQ(n2.Request("GET", "/api/v1/devices", "", bearer).status, 200);
  EXPECT_EQ(n2.Get("/api/v1/devices").status, 401);

  const HttpResult added = n1.Request("POST", "/api/v1/auth/users",
                                      R"({"name":"alice","password":"correct horse","role":"viewer"})", bearer);
  ASSERT_EQ(added.status, 201) << added.body;
  const HttpResult login =
      n2.Request("POST", "/api/v1/auth/login", json{{"username", "alice"}, {"password", "correct horse"}}.dump());
  ASSERT_EQ(login.status, 200) << login.body;
  const std::string cookie = login.headers.at("set-cookie").substr(0, login.headers.at("set-cookie").find(';'));
  const std::vector<std::pair<std::string, std::string>> session = {{"Cookie", cookie}};
  EXPECT_EQ(n2.Request("GET", "/api/v1/auth/me", "", session).status, 200);
  // n1 rereads the credentials once a second.
  EXPECT_TRUE(testing::WaitFor([&] { return n1.Request("GET", "/api/v1/auth/me", "", session).status == 200; }));
  EXPECT_TRUE(testing::WaitFor([&] {
    const HttpResult audit = n2.Request("GET", "/api/v1/audit", "", bearer);
    return audit.status == 200 && audit.body.find("alice") != std::string::npos;
  })) << n2.Request("GET", "/api/v1/audit", "", bearer).body;

  const HttpResult tokens = n2.Request("GET", "/api/v1/auth/tokens", "", bearer);
  ASSERT_EQ(tokens.status, 200) << tokens.body;
  const json listed = json::parse(tokens.body);
  ASSERT_EQ(listed["tokens"].size(), 1u) << tokens.body;
  const std::string id = std::to_string(listed["tokens"][0]["id"].get<int64_t>());
  EXPECT_EQ(n2.Request("DELETE", "/api/v1/auth/tokens/" + id, "", bearer).status, 200);
  EXPECT_TRUE(testing::WaitFor([&] { return n1.Request("GET", "/api/v1/devices", "", bearer).status == 401; }));
}

// A camera held by n3 is watched through n1 (no HAProxy in front): n1 forwards its snapshot, frames, WebSocket and
// MJPEG to n3; frame URLs name the node that stores them; its record, changed or deleted through n1, is the
// cluster's (the devices table); a node that is down is a 502 saying so. An enrolment
// acknowledged by n1 outlives n1's kill -9 at once after it.
TEST_F(ClusterNodes, ACameraIsWatchedThroughAnyNodeAndAnAcknowledgedEnrolmentOutlivesItsNode) {
  ASSERT_TRUE(fs::exists(testing::ModelsDir() / "face_recognition_model.bin"))
      << "no descriptor weights in " << testing::ModelsDir() << ": run scripts/fetch-models.sh (test.sh does)";
  ASSERT_FALSE(pg_.url().empty());
  ASSERT_TRUE(pg_.CreateDatabase("iotstream"));
  nodes_[0] = StartNode(0, {"--models-dir", testing::ModelsDir().string(), "--max-workers", "1"});
  nodes_[1] = StartNode(1);
  nodes_[2] = StartNode(2);
  for (const auto& n : nodes_) ASSERT_NE(n->port(), 0) << n->Log();

  HttpClient cam(nodes_[2]->host(), nodes_[2]->port());
  ASSERT_EQ(cam.PostJpeg("/api/v1/stream/fast", obama_, "porch").status, 200);
  ASSERT_TRUE(testing::WaitFor([&] {
    const auto view = ClusterNodesOf(*nodes_[0]);
    return view.count(NodeId(2)) == 1 && view.at(NodeId(2))["cameras"] == json::array({"porch"});
  })) << GetJson(*nodes_[0], "/api/v1/cluster").dump(1);

  HttpClient n1(nodes_[0]->host(), nodes_[0]->port());
  const HttpResult snapshot = n1.Get("/api/v1/devices/porch/snapshot.jpg");
  ASSERT_EQ(snapshot.status, 200) << snapshot.body;
  EXPECT_TRUE(snapshot.body == obama_) << "not the frame sent";

  // n3's frames, listed through n1 by naming n3; each URL names n3, and n1 serves it from there.
  const json frames = GetJson(*nodes_[0], "/api/v1/devices/porch/frames?node=" + NodeId(2));
  ASSERT_TRUE(frames.contains("frames")) << frames.dump();
  ASSERT_GE(frames["frames"].size(), 1u) << frames.dump();
  const std::string url = frames["frames"][0]["url"].get<std::string>();
  EXPECT_NE(url.find("?node=" + NodeId(2)), std::string::npos) << url;
  const HttpResult frame = n1.Get(url);
  EXPECT_EQ(frame.status, 200) << frame.body.substr(0, 200);
  EXPECT_TRUE(frame.body == obama_) << "not the frame sent";
  // So does the footage timeline's (forwarded to n3).
  const json timeline = GetJson(*nodes_[0], "/api/v1/footage/porch/timeline");
  ASSERT_TRUE(timeline.contains("last")) << timeline.dump();
  EXPECT_EQ(timeline["last"]["url"], url) << timeline.dump();

  // Live view through n1: the WebSocket gets n3's next frame, the MJPEG stream its next part.
  testing::WsClient ws(nodes_[0]->host(), nodes_[0]->port(), "/ws/devices/porch");
  ASSERT_TRUE(ws.connected()) << ws.handshake_status() << "\n" << nodes_[0]->Log();
  const int mjpeg = testing::ConnectTcp(nodes_[0]->port(), nodes_[0]->host());
  ASSERT_GE(mjpeg, 0);
  ASSERT_TRUE(testing::SendAll(mjpeg, "GET /api/v1/devices/porch/mjpeg HTTP/1.1\r\nHost: n1\r\n\r\n"));
  std::string stream = testing::ReadUntil(mjpeg, "multipart/x-mixed-replace", std::chrono::seconds(5));
  EXPECT_NE(stream.find("200 OK"), std::string::npos) << stream;
  bool got_binary = false;
  ASSERT_TRUE(testing::WaitFor([&] {
    (void)cam.PostJpeg("/api/v1/stream/fast", obama_, "porch");
    for (auto m = ws.Read(std::chrono::milliseconds(200)); m.ok; m = ws.Read(std::chrono::milliseconds(200))) {
      if (m.binary && m.data.size() >= obama_.size()) got_binary = true;
    }
    stream += testing::ReadUntil(mjpeg, "Content-Type: image/jpeg", std::chrono::milliseconds(200));
    return got_binary && stream.find("Content-Type: image/jpeg") != std::string::npos;
  })) << "ws frame: " << got_binary << ", mjpeg: " << stream.substr(0, 400);
  ::close(mjpeg);
  EXPECT_GE(testing::MetricValue(n1.Get("/metrics").body, "main_http_forwarded_total"), 5u);

  // The camera's record, changed through n1, is changed where the camera is and is the cluster's: a row of the
  // devices table, the name in every node's list. A camera deleted through n1 leaves every list.
  ASSERT_EQ(HttpClient(nodes_[2]->host(), nodes_[2]->port()).PostJpeg("/api/v1/stream/fast", obama_, "yard").status,
            200);
  const HttpResult renamed = n1.Request("PATCH", "/api/v1/devices/porch", R"({"name":"Porch","location":"front"})");
  ASSERT_EQ(renamed.status, 200) << renamed.body;
  EXPECT_EQ(json::parse(renamed.body)["name"], "Porch");
  const auto listed_as = [&](const ServerProcess& node, const std::string& id) {
    const json j = GetJson(node, "/api/v1/devices");
    for (const auto& d : j.value("devices", json::array())) {
      if (d["id"] == id) return d;
    }
    return json();
  };
  EXPECT_TRUE(testing::WaitFor([&] {
    const json d = listed_as(*nodes_[1], "porch");
    return d.is_object() && d["name"] == "Porch" && d["location"] == "front" && d["node"] == NodeId(2);
  })) << GetJson(*nodes_[1], "/api/v1/devices").dump();
  // n1 forwards what it knows to be n3's: it waits for n3's heartbeat to reach its own view.
  for (int n : {0, 1}) EXPECT_TRUE(testing::WaitFor([&] { return listed_as(*nodes_[n], "yard").is_object(); }));
  const auto row = testing::Query(pg_.url("iotstream"),
                                  "SELECT node_id, record->>'name', record->>'location' FROM devices "
                                  "WHERE device_id = 'porch'");
  ASSERT_EQ(row.size(), 1u);
  EXPECT_EQ(row[0], (std::vector<std::string>{NodeId(2), "Porch", "front"}));
  ASSERT_EQ(n1.Request("DELETE", "/api/v1/devices/yard").status, 200);
  EXPECT_TRUE(testing::WaitFor([&] { return listed_as(*nodes_[1], "yard").is_null(); }))
      << GetJson(*nodes_[1], "/api/v1/devices").dump();
  EXPECT_TRUE(testing::Query(pg_.url("iotstream"), "SELECT 1 FROM devices WHERE device_id = 'yard'").empty());

  // A camera nobody holds is answered by n1 itself.
  EXPECT_EQ(n1.Get("/api/v1/devices/nowhere/snapshot.jpg").status, 404);

  // n3 goes down: its stored frames asked through n1 are a 502 naming it.
  nodes_[2]->Stop(SIGKILL);
  const HttpResult gone = n1.Get(url);
  EXPECT_EQ(gone.status, 502) << gone.body;
  EXPECT_NE(gone.body.find("node " + NodeId(2)), std::string::npos) << gone.body;

  // An enrolment n1 acknowledged, then n1 killed at once: the person is in the cluster's gallery and log.
  const HttpResult enrolled = EnrolObama(*nodes_[0]);
  ASSERT_EQ(enrolled.status, 200) << enrolled.body;
  nodes_[0]->Stop(SIGKILL);
  const auto faces = testing::Query(pg_.url("iotstream"),
                                    "SELECT p.name, count(f.id) FROM people p JOIN faces f ON f.person_id = p.id "
                                    "GROUP BY p.name");
  ASSERT_EQ(faces.size(), 1u);
  EXPECT_EQ(faces[0][0], "Barack Obama");
  EXPECT_EQ(faces[0][1], "1");
  const json added = GetJson(*nodes_[1], "/api/v1/events?type=person_added");
  ASSERT_EQ(added["events"].size(), 1u) << added.dump();
  EXPECT_EQ(added["events"][0]["name"], "Barack Obama");
}

}  // namespace
}  // namespace iotstream
