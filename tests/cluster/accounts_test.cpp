// Accounts, tokens, sessions and the audit log of a cluster, in a real PostgreSQL: every AuthStore contract test
// (tests/auth/auth_store_contract.h), then what sharing adds: nodes that start together create one first admin,
// the audit log refuses changes, and a node keeps honouring what it last read while the database is away.
#include <gtest/gtest.h>

#include <thread>

#include "auth/auth_store_contract.h"
#include "cluster/pg.h"
#include "cluster/postgres.h"
#include "cluster/shared_state.h"

namespace iotstream {
namespace {

// One PostgreSQL per test; every Open() is another node's handle on the same database.
class PgBackend {
 public:
  PgBackend() { EXPECT_TRUE(!pg_.url().empty() && pg_.CreateDatabase("accounts")); }
  std::unique_ptr<auth::AuthStore> Open() {
    auto s = cluster::OpenPgAuthStore(pg_.url("accounts"), auth::AuthOptions{.data_dir = "", .session_ttl_ms = 1000});
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }
  testing::PostgresServer& server() { return pg_; }

 private:
  testing::PostgresServer pg_;
};

}  // namespace

namespace auth {
INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, AuthStoreContract, PgBackend);
}  // namespace auth

namespace {

TEST(ClusterAccounts, NodesStartingTogetherCreateOneFirstAdmin) {
  PgBackend backend;
  constexpr int kNodes = 4;
  std::vector<std::unique_ptr<auth::AuthStore>> nodes;
  for (int i = 0; i < kNodes; ++i) nodes.push_back(backend.Open());
  std::vector<Result<std::optional<std::string>>> got(kNodes, Status::Internal("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kNodes; ++i) threads.emplace_back([&, i] { got[i] = nodes[i]->BootstrapAdmin(); });
  for (auto& t : threads) t.join();
  int created = 0;
  std::string password;
  for (const auto& g : got) {
    ASSERT_TRUE(g.ok()) << g.status().ToString();
    if (g.value()) {
      ++created;
      password = *g.value();
    }
  }
  EXPECT_EQ(created, 1);
  // Any node checks that password.
  EXPECT_TRUE(nodes[kNodes - 1]->CheckPassword("admin", password).value());
  EXPECT_TRUE(nodes[0]->CheckPassword("admin", password).value());
}

TEST(ClusterAccounts, TheAuditLogRefusesChanges) {
  PgBackend backend;
  auto node = backend.Open();
  ASSERT_TRUE(node->Append(auth::AuditRecord{0, 0, "user:alice", "10.0.0.1", "login", "ok"}).ok());
  auto conn = cluster::pg::Connection::Open(backend.server().url("accounts"));
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  for (const char* sql : {"UPDATE audit SET detail = 'forged'", "DELETE FROM audit"}) {
    const Status refused = conn.value()->Run(sql);
    EXPECT_NE(refused.message().find("the audit log is append-only"), std::string::npos) << sql << ": "
                                                                                          << refused.ToString();
  }
  EXPECT_EQ(node->ListAudit(0, 10).value().size(), 1u);
}

TEST(ClusterAccounts, ANodeHonoursWhatItLastReadWhileTheDatabaseIsAway) {
  PgBackend backend;
  auto a = backend.Open();
  auto b = backend.Open();
  auto token = a->CreateToken("phone", auth::Role::kViewer, "", "test");
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  ASSERT_TRUE(b->Reload().ok());
  ASSERT_TRUE(b->AuthenticateToken(token.value()));

  backend.server().Stop();
  const Status down = b->Reload();
  EXPECT_TRUE(down.IsUnavailable() || down.IsTimeout()) << down.ToString();
  EXPECT_TRUE(b->AuthenticateToken(token.value())) << "the last snapshot stays";
  EXPECT_FALSE(b->CreateToken("tv", auth::Role::kViewer, "", "test").ok());

  ASSERT_TRUE(backend.server().Start());
  ASSERT_TRUE(testing::WaitFor([&] { return a->RevokeToken("phone").ok(); }));
  ASSERT_TRUE(testing::WaitFor([&] { return b->Reload().ok(); }));
  EXPECT_FALSE(b->AuthenticateToken(token.value()));
}

}  // namespace
}  // namespace iotstream
