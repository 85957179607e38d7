// The migration runner against a real PostgreSQL: each migration applied once, in order, in its own transaction; a
// failing one rolled back and reported; runners started together (nodes starting at once) never apply one twice.
#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <thread>

#include "cluster/cluster.h"
#include "cluster/postgres.h"

namespace iotstream {
namespace {

using testing::PostgresServer;
using testing::Query;

class ClusterMigrations : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(pg_.url().empty());
    ASSERT_TRUE(pg_.CreateDatabase("m"));
    url_ = pg_.url("m");
  }
  // schema_migrations as "version:name" in version order.
  std::vector<std::string> Recorded() {
    std::vector<std::string> out;
    for (const auto& r : Query(url_, "SELECT version, name FROM schema_migrations ORDER BY version")) {
      out.push_back(r[0] + ":" + r[1]);
    }
    return out;
  }

  PostgresServer pg_;
  std::string url_;
};

// Each migration needs the one before it, so that only the right order can succeed.
const cluster::Migration kSteps[] = {
    {1, "items", "CREATE TABLE items (id integer PRIMARY KEY)"},
    {2, "items_name", "ALTER TABLE items ADD COLUMN name text NOT NULL DEFAULT ''"},
    {3, "first_item", "INSERT INTO items (id, name) VALUES (1, 'one')"},
};

TEST_F(ClusterMigrations, EachIsAppliedOnceInOrder) {
  auto first = cluster::ApplyMigrations(url_, kSteps);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first.value().applied, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(first.value().newest, 3);
  EXPECT_EQ(Recorded(), (std::vector<std::string>{"1:items", "2:items_name", "3:first_item"}));

  // Again: nothing to do (the insert would fail on its primary key if it ran twice).
  auto again = cluster::ApplyMigrations(url_, kSteps);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again.value().applied.empty());
  EXPECT_EQ(again.value().newest, 3);
  EXPECT_EQ(Query(url_, "SELECT count(*) FROM items")[0][0], "1");

  // A later change adds a migration; only it runs.
  const cluster::Migration more[] = {kSteps[0], kSteps[1], kSteps[2], {4, "second_item", "INSERT INTO items VALUES (2, 'two')"}};
  auto later = cluster::ApplyMigrations(url_, more);
  ASSERT_TRUE(later.ok()) << later.status().ToString();
  EXPECT_EQ(later.value().applied, (std::vector<int>{4}));
  EXPECT_EQ(Query(url_, "SELECT string_agg(name, ',' ORDER BY id) FROM items")[0][0], "one,two");
}

TEST_F(ClusterMigrations, AFailingMigrationIsRolledBackAndReported) {
  const cluster::Migration broken[] = {
      kSteps[0],
      // Its first statement works, its second does not: neither may remain.
      {2, "half_done", "CREATE TABLE half (x integer); INSERT INTO no_such_table VALUES (1)"},
      {3, "never_tried", "CREATE TABLE after_the_failure (x integer)"},
  };
  auto failed = cluster::ApplyMigrations(url_, broken);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), Status::Code::kInternal) << failed.status().ToString();
  const std::string why = failed.status().message();
  EXPECT_NE(why.find("migration 2 (half_done)"), std::string::npos) << why;
  EXPECT_NE(why.find("rolled back"), std::string::npos) << why;
  EXPECT_NE(why.find("no_such_table"), std::string::npos) << why;
  EXPECT_EQ(Recorded(), (std::vector<std::string>{"1:items"}));
  const std::string tables =
      "SELECT count(*) FROM pg_tables WHERE tablename IN ('half', 'after_the_failure')";
  EXPECT_EQ(Query(url_, tables)[0][0], "0");

  // Fixed, the run goes on from where it stopped.
  const cluster::Migration fixed[] = {kSteps[0], {2, "half_done", "CREATE TABLE half (x integer)"}, broken[2]};
  auto resumed = cluster::ApplyMigrations(url_, fixed);
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
  EXPECT_EQ(resumed.value().applied, (std::vector<int>{2, 3}));
  EXPECT_EQ(Query(url_, tables)[0][0], "2");
}

TEST_F(ClusterMigrations, RunnersStartedTogetherApplyEachOnce) {
  // The cluster's own schema, from eight runners at once, as nodes that start together do.
  std::mutex mu;
  std::vector<int> applied;
  std::vector<std::string> errors;
  std::vector<std::thread> runners;
  for (int i = 0; i < 8; ++i) {
    runners.emplace_back([&] {
      auto r = cluster::ApplyMigrations(url_, cluster::ClusterMigrations());
      std::lock_guard lock(mu);
      if (!r.ok()) return errors.push_back(r.status().ToString());
      applied.insert(applied.end(), r.value().applied.begin(), r.value().applied.end());
    });
  }
  for (auto& t : runners) t.join();
  EXPECT_TRUE(errors.empty()) << errors.front();
  std::sort(applied.begin(), applied.end());
  std::vector<int> all;
  for (const auto& m : cluster::ClusterMigrations()) all.push_back(m.version);
  EXPECT_EQ(applied, all);
  EXPECT_EQ(Recorded().size(), all.size());
  EXPECT_EQ(Query(url_, "SELECT count(*) FROM nodes")[0][0], "0");
}

TEST_F(ClusterMigrations, VersionsOutOfOrderAreRefusedBeforeAnythingRuns) {
  const cluster::Migration unordered[] = {kSteps[1], kSteps[0]};
  auto r = cluster::ApplyMigrations(url_, unordered);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsInvalidArgument()) << r.status().ToString();
  EXPECT_EQ(Query(url_, "SELECT count(*) FROM pg_tables WHERE tablename = 'items'")[0][0], "0");
}

TEST_F(ClusterMigrations, AnUnreachableDatabaseIsUnavailable) {
  pg_.Stop();
  auto r = cluster::ApplyMigrations(url_, kSteps);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsUnavailable()) << r.status().ToString();
}

}  // namespace
}  // namespace iotstream
