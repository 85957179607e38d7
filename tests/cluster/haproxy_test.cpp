// The HAProxy configuration the nodes table turns into (checked by haproxy -c itself), and the checks of the
// cluster's flags.
#include <gtest/gtest.h>

#include <fstream>

#include "cluster/cluster.h"
#include "cluster/postgres.h"

namespace iotstream {
namespace {

using testing::TempDir;

std::vector<cluster::NodeInfo> ThreeNodes() {
  std::vector<cluster::NodeInfo> nodes(3);
  nodes[0].node_id = "n1";
  nodes[0].advertise_url = "http://127.0.0.1:9101";
  nodes[1].node_id = "n2.example";
  nodes[1].advertise_url = "http://cam-host-2:9003/";
  nodes[2].node_id = "n_3";
  nodes[2].advertise_url = "http://127.0.0.3";
  return nodes;
}

TEST(ClusterHaproxy, TheConfigPassesHaproxysOwnCheck) {
  const std::string haproxy = testing::HaproxyBin();
  ASSERT_FALSE(haproxy.empty()) << "haproxy is not installed (scripts/setup.sh with WITH_TEST_TOOLS=1)";
  cluster::HaproxyOptions options;
  options.bind_address = "127.0.0.1";
  options.port = 19003;
  options.check_interval_ms = 500;
  auto config = cluster::RenderHaproxyConfig(ThreeNodes(), options);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  const std::string& text = config.value();
  for (const char* line : {"bind 127.0.0.1:19003", "hash-type consistent", "balance hash var(txn.device_id)",
                           "req.hdr(X-Device-ID)", "url_param(device_id)", "option forwardfor", "option httpchk GET /health",
                           "inter 500 fastinter 500 downinter 500 fall 2 rise 1", "timeout tunnel 1h",
                           "server n1 127.0.0.1:9101 check", "server n2.example cam-host-2:9003 check",
                           "server n_3 127.0.0.3:80 check"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << " is missing from:\n" << text;
  }
  TempDir dir;
  // cam-host-2 is not resolvable here: haproxy -c would refuse the name, which is the operator's to fix.
  auto resolvable = ThreeNodes();
  resolvable[1].advertise_url = "http://127.0.0.2:9003";
  auto checked = cluster::RenderHaproxyConfig(resolvable, options);
  ASSERT_TRUE(checked.ok());
  {
    std::ofstream(dir.path() / "checked.cfg") << checked.value();
  }
  const int rc = testing::RunToCompletion({haproxy, "-c", "-f", (dir.path() / "checked.cfg").string()},
                                          dir.path() / "check.log");
  EXPECT_EQ(rc, 0) << testing::ReadFile(dir.path() / "check.log") << "\n" << checked.value();
}

TEST(ClusterHaproxy, NoNodesOrABadNodeIsRefused) {
  EXPECT_TRUE(cluster::RenderHaproxyConfig({}, {}).status().IsInvalidArgument());
  auto nodes = ThreeNodes();
  nodes[1].advertise_url = "http://host/path";
  const auto r = cluster::RenderHaproxyConfig(nodes, {});
  ASSERT_TRUE(r.status().IsInvalidArgument());
  EXPECT_NE(r.status().message().find("n2.example"), std::string::npos) << r.status().message();
}

TEST(ClusterFlags, DatabaseUrlsNodeIdsAndAdvertiseUrls) {
  EXPECT_TRUE(cluster::CheckDatabaseUrl("postgresql://user:secret@db.example:5432/iotstream").ok());
  EXPECT_TRUE(cluster::CheckDatabaseUrl("postgres://127.0.0.1/iotstream?sslmode=require").ok());
  EXPECT_FALSE(cluster::CheckDatabaseUrl("mysql://db/iotstream").ok());
  EXPECT_FALSE(cluster::CheckDatabaseUrl("host=db dbname=iotstream").ok());
  EXPECT_FALSE(cluster::CheckDatabaseUrl("postgresql://db/iotstream?no_such_option=1").ok());

  EXPECT_TRUE(cluster::CheckNodeId("node-1.site_a").ok());
  EXPECT_FALSE(cluster::CheckNodeId("").ok());
  EXPECT_FALSE(cluster::CheckNodeId("node 1").ok());
  EXPECT_FALSE(cluster::CheckNodeId(std::string(65, 'n')).ok());

  for (const char* good : {"http://127.0.0.2:9003", "https://cams.example", "http://node1:80/", "http://[::1]:9003"}) {
    EXPECT_TRUE(cluster::CheckAdvertiseUrl(good).ok()) << good;
  }
  for (const char* bad : {"", "127.0.0.1:9003", "ftp://host", "http://", "http://host:", "http://host:0",
                          "http://host:65536", "http://host/path", "http://user@host", "http://[::1"}) {
    EXPECT_FALSE(cluster::CheckAdvertiseUrl(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace iotstream
