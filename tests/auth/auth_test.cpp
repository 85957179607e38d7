// auth::AuthStore on a real SQLite file in a temp folder, and the FailureLimiter with time passed in.
#include "auth/auth.h"

#include <gtest/gtest.h>

#include "auth/auth_store_contract.h"
#include "auth/limiter.h"
#include "core/clock.h"
#include "support/test_support.h"

namespace iotstream::auth {
namespace {

// auth.db in a temporary folder, every handle on the same folder.
class SqliteBackend {
 public:
  std::unique_ptr<AuthStore> Open() {
    auto s = AuthStore::Open(AuthOptions{.data_dir = (dir_.path() / "data").string(), .session_ttl_ms = 1000});
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }

 private:
  testing::TempDir dir_;
};
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, AuthStoreContract, SqliteBackend);

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
