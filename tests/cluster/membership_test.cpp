// Membership in-process against a real PostgreSQL: the heartbeat writes the node's row and reads the table back while
// other threads take snapshots; without a database it measures on demand and starts no thread. Built with
// IOTSTREAM_TSAN=ON this is also the race check of the heartbeat thread and its snapshot.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "cluster/cluster.h"
#include "cluster/postgres.h"

namespace iotstream {
namespace {

// What ingest would report: a frame counter and the cameras seen, moved by the test.
struct FakeNode {
  std::atomic<uint64_t> frames{0};
  std::mutex mu;
  std::vector<std::string> cameras;  // guarded by mu

  cluster::MembershipCallbacks Callbacks() {
    cluster::MembershipCallbacks c;
    c.recent_cameras = [this](int64_t) {
      std::lock_guard lock(mu);
      return cameras;
    };
    c.frames_accepted = [this] { return frames.load(); };
    return c;
  }
};

cluster::MembershipOptions Options(const std::string& url, const std::string& id) {
  cluster::MembershipOptions o;
  o.database_url = url;
  o.node_id = id;
  o.version = "test";
  return o;
}

TEST(ClusterMembership, HeartbeatsIntoTheTableWhileSnapshotsAreTaken) {
  testing::PostgresServer pg;
  ASSERT_FALSE(pg.url().empty());
  ASSERT_TRUE(pg.CreateDatabase("members"));
  Metrics metrics;
  FakeNode node;
  {
    std::lock_guard lock(node.mu);
    node.cameras = {"gate", "door"};
  }
  cluster::Membership a(Options(pg.url("members"), "a"), node.Callbacks(), metrics);
  cluster::Membership b(Options(pg.url("members"), "b"), node.Callbacks(), metrics);
  a.Start("http://127.0.0.1:9101");
  b.Start("http://127.0.0.1:9102");

  // Readers and a camera feed beside the heartbeats, as HTTP threads and ingest are.
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&] {
      while (!done) (void)a.Snapshot();
    });
  }
  threads.emplace_back([&] {
    while (!done) node.frames.fetch_add(1);
  });
  cluster::ClusterView view;
  const bool both = testing::WaitFor(
      [&] {
        view = a.Snapshot();
        return view.database_reachable && view.nodes.size() == 2 && view.nodes[0].up && view.nodes[1].up;
      },
      std::chrono::seconds(10));
  done = true;
  for (auto& t : threads) t.join();
  ASSERT_TRUE(both);

  EXPECT_TRUE(view.clustered);
  EXPECT_EQ(view.self, "a");
  EXPECT_GT(view.database_checked_ms, 0);
  EXPECT_EQ(view.nodes[0].node_id, "a");
  EXPECT_EQ(view.nodes[1].node_id, "b");
  EXPECT_EQ(view.nodes[1].advertise_url, "http://127.0.0.1:9102");
  EXPECT_EQ(view.nodes[1].version, "test");
  EXPECT_EQ(view.nodes[1].cameras, (std::vector<std::string>{"door", "gate"}));
  EXPECT_EQ(view.nodes[1].load.cameras, 2);
  EXPECT_GT(view.nodes[1].last_heartbeat_ms, 0);
  EXPECT_GT(metrics.CounterValue("cluster_heartbeats_total").value(), 0u);
  EXPECT_EQ(metrics.GaugeValue("cluster_database_up").value(), 1);

  // The database goes: the snapshot says so and keeps the nodes it knew.
  pg.Stop();
  EXPECT_TRUE(testing::WaitFor([&] { return !a.Snapshot().database_reachable; }, std::chrono::seconds(10)));
  EXPECT_EQ(a.Snapshot().nodes.size(), 2u);
  EXPECT_GT(metrics.CounterValue("cluster_heartbeat_failures_total").value(), 0u);
  EXPECT_EQ(metrics.GaugeValue("cluster_database_up").value(), 0);
}

TEST(ClusterMembership, ASingleNodeMeasuresItselfOnDemand) {
  Metrics metrics;
  FakeNode node;
  {
    std::lock_guard lock(node.mu);
    node.cameras = {"porch"};
  }
  cluster::Membership single(Options("", "solo"), node.Callbacks(), metrics);
  single.Start("http://127.0.0.1:9003");
  node.frames = 50;
  const cluster::ClusterView view = single.Snapshot();
  EXPECT_FALSE(view.clustered);
  EXPECT_FALSE(view.database_reachable);
  ASSERT_EQ(view.nodes.size(), 1u);
  EXPECT_EQ(view.nodes[0].node_id, "solo");
  EXPECT_TRUE(view.nodes[0].up);
  EXPECT_EQ(view.nodes[0].cameras, std::vector<std::string>{"porch"});
  EXPECT_GT(view.nodes[0].load.frames_per_s, 0);
  EXPECT_EQ(metrics.CounterValue("cluster_heartbeats_total").value(), 0u);
}

}  // namespace
}  // namespace iotstream
