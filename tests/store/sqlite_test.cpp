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
// The recorded migrations of `component`, as "version:name".
std::vector<std::string> Recorded(Db& db, const std::string& component) {
  Stmt q(db.get(), "SELECT version, name FROM schema_migrations WHERE component = ? ORDER BY version");
  q.Bind(1, component);
  auto rows = CollectRows<std::string>(q, [](const Stmt& r) { return std::to_string(r.Int(0)) + ":" + r.Text(1); });
  return rows.ok() ? rows.value() : std::vector<std::string>{"error: " + rows.status().ToString()};
}

TEST_F(SqliteTest, MigrationsAreAppliedOnceInOrderAndRecordedPerComponent) {
  const SqliteMigration steps[] = {
      {1, "items", "CREATE TABLE items (id INTEGER PRIMARY KEY)"},
      {2, "item_name", "", [](Db& db) { return AddColumnIfMissing(db, "items", "name", "TEXT NOT NULL DEFAULT ''"); }},
      {3, "first_item", "INSERT INTO items (id, name) VALUES (1, 'one')"},
  };
  ASSERT_TRUE(ApplyMigrations(db_, "things", steps).ok());
  EXPECT_EQ(Recorded(db_, "things"), (std::vector<std::string>{"1:items", "2:item_name", "3:first_item"}));
  ASSERT_TRUE(ApplyMigrations(db_, "things", steps).ok());  // nothing again: one row, no "table exists" error
  Stmt count(db_.get(), "SELECT count(*) FROM items");
  ASSERT_TRUE(count.Step().value());
  EXPECT_EQ(count.Int(0), 1);
  // Another component's versions are its own.
  const SqliteMigration other[] = {{1, "more", "CREATE TABLE more (x INTEGER)"}};
  ASSERT_TRUE(ApplyMigrations(db_, "others", other).ok());
  EXPECT_EQ(Recorded(db_, "others"), (std::vector<std::string>{"1:more"}));
  const SqliteMigration backwards[] = {{2, "b", "SELECT 1"}, {1, "a", "SELECT 1"}};
  EXPECT_TRUE(ApplyMigrations(db_, "x", backwards).IsInvalidArgument());
  EXPECT_TRUE(Recorded(db_, "x").empty());
}

TEST_F(SqliteTest, AFailingMigrationIsRolledBackAndNamedAndThoseBeforeItStay) {
  const SqliteMigration steps[] = {
      {1, "items", "CREATE TABLE items (id INTEGER PRIMARY KEY)"},
      {2, "half_done", "CREATE TABLE half (x INTEGER); INSERT INTO no_such_table VALUES (1)"},
      {3, "never", "CREATE TABLE never (x INTEGER)"},
  };
  const Status st = ApplyMigrations(db_, "things", steps);
  ASSERT_TRUE(st.IsIOError()) << st.ToString();
  EXPECT_NE(st.message().find("things migration 2 (half_done)"), std::string::npos) << st.ToString();
  EXPECT_EQ(Recorded(db_, "things"), (std::vector<std::string>{"1:items"}));
  Stmt half(db_.get(), "SELECT count(*) FROM sqlite_master WHERE name IN ('half', 'never')");
  ASSERT_TRUE(half.Step().value());
  EXPECT_EQ(half.Int(0), 0) << "the failed step left nothing, the later one did not run";
}

TEST_F(SqliteTest, AFileMadeBeforeVersioningTakesTheStepsItHasAsNoOps) {
  // The fixture's table t, as an older version left it: without the column a later version added.
  const SqliteMigration steps[] = {
      {1, "t", "CREATE TABLE IF NOT EXISTS t (x INTEGER)"},
      {2, "t_y", "", [](Db& db) { return AddColumnIfMissing(db, "t", "y", "INTEGER NOT NULL DEFAULT 7"); }},
  };
  ASSERT_TRUE(ApplyMigrations(db_, "old", steps).ok());
  Stmt q(db_.get(), "SELECT count(*), sum(y) FROM t");
  ASSERT_TRUE(q.Step().value());
  EXPECT_EQ(q.Int(0), 3) << "the rows stay";
  EXPECT_EQ(q.Int(1), 21);
}

TEST(ResultDeathTest, FromAnOkStatusFailsInDebugBuilds) {
  EXPECT_DEBUG_DEATH({ Result<int> r(Status::Ok()); (void)r.ok(); }, "Assertion");
}

}  // namespace
}  // namespace iotstream::store
