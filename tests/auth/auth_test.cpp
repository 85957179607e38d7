// auth::AuthStore on a real SQLite file in a temp folder, and the FailureLimiter with time passed in.
#include "auth/auth.h"

#include <gtest/gtest.h>

#include "auth/limiter.h"
#include "core/clock.h"
#include "support/test_support.h"

namespace iotstream::auth {
namespace {

class AuthStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<AuthStore> Open() {
    auto s = AuthStore::Open(AuthOptions{.data_dir = (dir_.path() / "data").string(), .session_ttl_ms = 1000});
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }
  testing::TempDir dir_;
};

TEST_F(AuthStoreTest, ATokenIsShownOnceWorksAndStopsWorkingWhenRevoked) {
  auto store = Open();
  auto token = store->CreateToken("phone", Role::kViewer, "", "test");
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  EXPECT_EQ(token.value().rfind("iot_", 0), 0u);
  EXPECT_GE(token.value().size(), 4u + 43u);  // 256 bits in base64url
  auto who = store->AuthenticateToken(token.value());
  ASSERT_TRUE(who);
  EXPECT_EQ(who->name, "token:phone");
  EXPECT_EQ(who->role, Role::kViewer);
  EXPECT_FALSE(store->AuthenticateToken(token.value() + "x"));
  EXPECT_FALSE(store->AuthenticateToken(""));

  auto list = store->ListTokens();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list.value().size(), 1u);
  EXPECT_EQ(list.value()[0].prefix, token.value().substr(0, 8));
  EXPECT_TRUE(store->CreateToken("phone", Role::kViewer, "", "test").status().IsInvalidArgument());

  ASSERT_TRUE(store->RevokeToken("phone").ok());
  EXPECT_FALSE(store->AuthenticateToken(token.value()));
  EXPECT_TRUE(store->RevokeToken("phone").IsNotFound());
}

TEST_F(AuthStoreTest, OnlyACameraTokenIsBoundToADevice) {
  auto store = Open();
  EXPECT_TRUE(store->CreateToken("x", Role::kViewer, "cam1", "test").status().IsInvalidArgument());
  auto token = store->CreateToken("door", Role::kCamera, "cam1", "test");
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(store->AuthenticateToken(token.value())->device, "cam1");
}

TEST_F(AuthStoreTest, PasswordsAreCheckedAndAWrongOrUnknownOneFails) {
  auto store = Open();
  EXPECT_TRUE(store->AddUser("alice", "short", Role::kViewer).IsInvalidArgument());
  EXPECT_TRUE(store->AddUser("bad name", "long enough", Role::kViewer).IsInvalidArgument());
  EXPECT_TRUE(store->AddUser("cam", "long enough", Role::kCamera).IsInvalidArgument());
  ASSERT_TRUE(store->AddUser("alice", "correct horse", Role::kViewer).ok());
  EXPECT_TRUE(store->AddUser("alice", "correct horse", Role::kViewer).IsInvalidArgument());

  auto ok = store->CheckPassword("alice", "correct horse");
  ASSERT_TRUE(ok.ok());
  ASSERT_TRUE(ok.value());
  EXPECT_EQ(ok.value()->name, "user:alice");
  EXPECT_FALSE(store->CheckPassword("alice", "wrong horse").value());
  EXPECT_FALSE(store->CheckPassword("bob", "correct horse").value());
}

TEST_F(AuthStoreTest, SessionsExpireAndEndWithAPasswordChangeOrLogout) {
  auto store = Open();
  ASSERT_TRUE(store->AddUser("alice", "correct horse", Role::kAdmin).ok());
  const Principal alice{"user:alice", Role::kAdmin, ""};
  const int64_t now = NowMs();
  auto s = store->CreateSession(alice, now);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(store->AuthenticateSession(s.value().id, now + 500)->role, Role::kAdmin);
  EXPECT_FALSE(store->AuthenticateSession(s.value().id, now + 1000));  // ttl 1 s in this fixture

  auto live = store->CreateSession(alice, NowMs());
  ASSERT_TRUE(live.ok());
  EXPECT_TRUE(store->AuthenticateSession(live.value().id, NowMs()));
  ASSERT_TRUE(store->SetPassword("alice", "battery staple").ok());
  EXPECT_FALSE(store->AuthenticateSession(live.value().id, NowMs()));

  auto again = store->CreateSession(alice, NowMs());
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(store->EndSession(again.value().id).ok());
  EXPECT_FALSE(store->AuthenticateSession(again.value().id, NowMs()));
}

TEST_F(AuthStoreTest, TheFirstAdminIsCreatedOnceAndItsPasswordWorks) {
  auto store = Open();
  auto first = store->BootstrapAdmin();
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(first.value());
  EXPECT_GE(first.value()->size(), 20u);
  EXPECT_TRUE(store->CheckPassword("admin", *first.value()).value());
  ASSERT_TRUE(store->RemoveUser("admin").ok());
  auto second = store->BootstrapAdmin();  // not again, even with no user left
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second.value());
}

TEST_F(AuthStoreTest, ChangesByAnotherProcessAreSeenAfterReload) {
  auto server = Open();
  auto cli = Open();
  auto token = cli->CreateToken("ha", Role::kViewer, "", "cli");
  ASSERT_TRUE(token.ok());
  EXPECT_FALSE(server->AuthenticateToken(token.value()));
  ASSERT_TRUE(server->Reload().ok());
  EXPECT_TRUE(server->AuthenticateToken(token.value()));
  ASSERT_TRUE(cli->RevokeToken("ha").ok());
  ASSERT_TRUE(server->Reload().ok());
  EXPECT_FALSE(server->AuthenticateToken(token.value()));
}

TEST_F(AuthStoreTest, TheAuditLogListsNewestFirstAndPages) {
  auto store = Open();
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(store->Append(AuditRecord{0, 0, "user:alice", "10.0.0.1", "login", std::to_string(i)}).ok());
  }
  auto all = store->ListAudit(0, 10);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all.value().size(), 3u);
  EXPECT_EQ(all.value()[0].detail, "3");
  EXPECT_GT(all.value()[0].ts_ms, 0);
  auto older = store->ListAudit(all.value()[0].id, 1);
  ASSERT_EQ(older.value().size(), 1u);
  EXPECT_EQ(older.value()[0].detail, "2");
}

TEST(FailureLimiter, BlocksAfterMaxFailuresThenDoublesAndForgetsOldOnes) {
  FailureLimiter limiter(LimiterOptions{.max_failures = 3, .window_ms = 1000, .block_ms = 10'000,
                                        .max_block_ms = 15'000, .max_addresses = 2});
  EXPECT_FALSE(limiter.RecordFailure("a", 0));
  EXPECT_FALSE(limiter.RecordFailure("a", 2000));  // the first fell out of the window
  EXPECT_FALSE(limiter.RecordFailure("a", 2100));
  EXPECT_EQ(limiter.RetryAfterS("a", 2100), 0);
  EXPECT_TRUE(limiter.RecordFailure("a", 2200));
  EXPECT_EQ(limiter.RetryAfterS("a", 2200), 10);
  EXPECT_EQ(limiter.RetryAfterS("b", 2200), 0);
  EXPECT_EQ(limiter.RetryAfterS("a", 12'200), 0);
  for (int i = 0; i < 3; ++i) (void)limiter.RecordFailure("a", 13'000);
  EXPECT_EQ(limiter.RetryAfterS("a", 13'000), 15);  // doubled to 20 s, capped at 15 s
}

TEST(FailureLimiter, ASuccessForgetsFailuresAndMemoryIsBounded) {
  FailureLimiter limiter(LimiterOptions{.max_failures = 2, .window_ms = 60'000, .block_ms = 1000,
                                        .max_block_ms = 1000, .max_addresses = 2});
  (void)limiter.RecordFailure("a", 0);
  limiter.RecordSuccess("a");
  EXPECT_FALSE(limiter.RecordFailure("a", 1));
  (void)limiter.RecordFailure("b", 2);
  (void)limiter.RecordFailure("c", 3);  // full: "a", idle longest, makes room
  EXPECT_FALSE(limiter.RecordFailure("a", 4));  // forgotten, so this is its first failure again
}

}  // namespace
}  // namespace iotstream::auth
