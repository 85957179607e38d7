#include "store/sqlite.h"

#include <gtest/gtest.h>

#include "support/test_support.h"

namespace iotstream::store {
namespace {

using iotstream::testing::TempDir;

class SqliteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(db_.Open((dir_.path() / "test.db").string()).ok());
    ASSERT_TRUE(db_.Exec("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2), (3);").ok());
  }
  TempDir dir_;
  Db db_;
};

TEST_F(SqliteTest, StepReadsRowsThenSaysDone) {
  Stmt q(db_.get(), "SELECT x FROM t ORDER BY x");
  auto rows = CollectRows<int64_t>(q, [](const Stmt& row) { return row.Int(0); });
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_EQ(rows.value(), (std::vector<int64_t>{1, 2, 3}));
}

TEST_F(SqliteTest, StepOnADroppedTableIsAnErrorNotTheEndOfRows) {
  Stmt q(db_.get(), "SELECT x FROM t");
  ASSERT_TRUE(q.valid());
  ASSERT_TRUE(db_.Exec("DROP TABLE t").ok());
  Result<bool> row = q.Step();
  ASSERT_FALSE(row.ok());
  EXPECT_TRUE(row.status().IsIOError());
  EXPECT_NE(row.status().message().find("no such table"), std::string::npos) << row.status().ToString();
}

TEST_F(SqliteTest, AStatementThatDidNotPrepareSaysWhyOnItsFirstStepAndRun) {
  Stmt q(db_.get(), "SELECT x FROM missing");
  EXPECT_FALSE(q.valid());
  // Another statement's error must not replace the reason.
  Stmt other(db_.get(), "SELECT nonsense(");
  Result<bool> row = q.Step();
  ASSERT_FALSE(row.ok());
  EXPECT_NE(row.status().message().find("no such table: missing"), std::string::npos) << row.status().ToString();
  Status run = q.Run();
  EXPECT_TRUE(run.IsIOError());
  EXPECT_NE(run.message().find("no such table: missing"), std::string::npos) << run.ToString();
  EXPECT_TRUE(Stmt().Step().status().IsIOError());
}

TEST_F(SqliteTest, RunReportsAWriteToAReadOnlyDatabase) {
  ASSERT_TRUE(db_.Exec("PRAGMA query_only = 1").ok());
  Stmt ins(db_.get(), "INSERT INTO t VALUES (4)");
  Status st = ins.Run();
  EXPECT_TRUE(st.IsIOError());
  EXPECT_NE(st.message().find("readonly"), std::string::npos) << st.ToString();
}

// Fails on the row whose argument is 2, so that an error comes after rows were read.
void FailOnTwo(sqlite3_context* ctx, int, sqlite3_value** args) {
  if (sqlite3_value_int64(args[0]) == 2) {
    sqlite3_result_error(ctx, "row two is bad", -1);
  } else {
    sqlite3_result_int64(ctx, sqlite3_value_int64(args[0]));
  }
}

TEST_F(SqliteTest, CollectRowsReturnsAnErrorAfterSomeRowsNotThoseRows) {
  ASSERT_EQ(sqlite3_create_function(db_.get(), "fail_on_two", 1, SQLITE_UTF8, nullptr, FailOnTwo, nullptr, nullptr),
            SQLITE_OK);
  Stmt q(db_.get(), "SELECT fail_on_two(x) FROM t ORDER BY x");
  auto rows = CollectRows<int64_t>(q, [](const Stmt& row) { return row.Int(0); });
  ASSERT_FALSE(rows.ok());
  EXPECT_NE(rows.status().message().find("row two is bad"), std::string::npos) << rows.status().ToString();
}

TEST_F(SqliteTest, ScopedResetLetsAKeptStatementRunAgain) {
  Stmt q(db_.get(), "SELECT x FROM t WHERE x >= ? ORDER BY x");
  for (int64_t from : {2, 3}) {
    ScopedReset reset(q);
    q.Bind(1, from);
    Result<bool> row = q.Step();
    ASSERT_TRUE(row.ok() && row.value());
    EXPECT_EQ(q.Int(0), from);
  }
}

// A Result made from an OK status is neither a value nor an error; debug builds stop there.
TEST(ResultDeathTest, FromAnOkStatusFailsInDebugBuilds) {
  EXPECT_DEBUG_DEATH({ Result<int> r(Status::Ok()); (void)r.ok(); }, "Assertion");
}

}  // namespace
}  // namespace iotstream::store
