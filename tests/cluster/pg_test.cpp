// The room's libpq layer against a real PostgreSQL: rows and NULLs, a failing statement, several statements in one,
// a statement past its deadline (a database that stops answering), and a server that goes away.
#include <gtest/gtest.h>

#include <chrono>

#include "cluster/pg.h"
#include "cluster/postgres.h"

namespace iotstream {
namespace {

using cluster::pg::Connection;

class ClusterPg : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(pg_.url().empty());
    auto opened = Connection::Open(pg_.url());
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    conn_ = std::move(opened).value();
  }

  testing::PostgresServer pg_;
  std::unique_ptr<Connection> conn_;
};

TEST_F(ClusterPg, RowsNullsFailuresAndSeveralStatements) {
  auto rows = conn_->Exec("SELECT $1::integer + 1, NULL::text", {"41"});
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows.value().size(), 1);
  EXPECT_EQ(rows.value().Text(0, 0), "42");
  EXPECT_EQ(rows.value().Get(0, 1), std::nullopt);

  // A failing statement is Internal with PostgreSQL's message, and the connection goes on.
  auto missing = conn_->Exec("SELECT * FROM no_such_table");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Status::Code::kInternal);
  EXPECT_NE(missing.status().message().find("no_such_table"), std::string::npos) << missing.status().message();
  EXPECT_TRUE(conn_->healthy());

  // Several statements: the last one's rows.
  auto last = conn_->Exec("CREATE TEMP TABLE t (x integer); INSERT INTO t VALUES (7); SELECT x FROM t");
  ASSERT_TRUE(last.ok()) << last.status().ToString();
  EXPECT_EQ(last.value().Text(0, 0), "7");
}

TEST_F(ClusterPg, AStatementPastItsDeadlineEndsTheConnection) {
  conn_->set_deadline_ms(300);
  const auto start = std::chrono::steady_clock::now();
  auto slow = conn_->Exec("SELECT pg_sleep(20)");
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(slow.ok());
  EXPECT_TRUE(slow.status().IsTimeout()) << slow.status().ToString();
  EXPECT_LT(took, std::chrono::seconds(5));
  EXPECT_FALSE(conn_->healthy());
  EXPECT_TRUE(conn_->Exec("SELECT 1").status().IsUnavailable());
}

TEST_F(ClusterPg, AServerThatGoesAwayIsUnavailable) {
  ASSERT_TRUE(conn_->Exec("SELECT 1").ok());
  pg_.Stop();
  auto after = conn_->Exec("SELECT 1");
  ASSERT_FALSE(after.ok());
  EXPECT_TRUE(after.status().IsUnavailable()) << after.status().ToString();
  EXPECT_FALSE(conn_->healthy());
  EXPECT_TRUE(Connection::Open(pg_.url()).status().IsUnavailable());
}

}  // namespace
}  // namespace iotstream
