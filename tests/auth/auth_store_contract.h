// What every auth::AuthStore does, whichever database keeps its rows: type-parameterised tests, instantiated for
// auth.db (tests/auth/auth_test.cpp) and for a cluster's PostgreSQL (tests/cluster/accounts_test.cpp).
#pragma once

#include <gtest/gtest.h>

#include "auth/auth.h"
#include "core/clock.h"

namespace iotstream::auth {

// Backend: a default-constructible type whose Open() opens (another handle on) the same store each call, sessions
// lasting 1 s, failing the test (and returning null) when it cannot.
template <typename Backend>
class AuthStoreContract : public ::testing::Test {
 protected:
  std::unique_ptr<AuthStore> Open() { return backend_.Open(); }
  Backend backend_;
};
TYPED_TEST_SUITE_P(AuthStoreContract);

TYPED_TEST_P(AuthStoreContract, ATokenIsShownOnceWorksAndStopsWorkingWhenRevoked) {
  auto store = this->Open();
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

TYPED_TEST_P(AuthStoreContract, OnlyACameraTokenIsBoundToADevice) {
  auto store = this->Open();
  EXPECT_TRUE(store->CreateToken("x", Role::kViewer, "cam1", "test").status().IsInvalidArgument());
  auto token = store->CreateToken("door", Role::kCamera, "cam1", "test");
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(store->AuthenticateToken(token.value())->device, "cam1");
}

TYPED_TEST_P(AuthStoreContract, PasswordsAreCheckedAndAWrongOrUnknownOneFails) {
  auto store = this->Open();
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

TYPED_TEST_P(AuthStoreContract, SessionsExpireAndEndWithAPasswordChangeOrLogout) {
  auto store = this->Open();
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

TYPED_TEST_P(AuthStoreContract, TheFirstAdminIsCreatedOnceAndItsPasswordWorks) {
  auto store = this->Open();
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

TYPED_TEST_P(AuthStoreContract, ChangesByAnotherProcessAreSeenAfterReload) {
  auto server = this->Open();
  auto cli = this->Open();
  auto token = cli->CreateToken("ha", Role::kViewer, "", "cli");
  ASSERT_TRUE(token.ok());
  EXPECT_FALSE(server->AuthenticateToken(token.value()));
  ASSERT_TRUE(server->Reload().ok());
  EXPECT_TRUE(server->AuthenticateToken(token.value()));
  ASSERT_TRUE(cli->RevokeToken("ha").ok());
  ASSERT_TRUE(server->Reload().ok());
  EXPECT_FALSE(server->AuthenticateToken(token.value()));
}

TYPED_TEST_P(AuthStoreContract, TheAuditLogListsNewestFirstAndPages) {
  auto store = this->Open();
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

REGISTER_TYPED_TEST_SUITE_P(AuthStoreContract,
                            ATokenIsShownOnceWorksAndStopsWorkingWhenRevoked,
                            OnlyACameraTokenIsBoundToADevice,
                            PasswordsAreCheckedAndAWrongOrUnknownOneFails,
                            SessionsExpireAndEndWithAPasswordChangeOrLogout,
                            TheFirstAdminIsCreatedOnceAndItsPasswordWorks,
                            ChangesByAnotherProcessAreSeenAfterReload,
                            TheAuditLogListsNewestFirstAndPages);

}  // namespace iotstream::auth
