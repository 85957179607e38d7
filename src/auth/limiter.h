// FailureLimiter: slows down an address that keeps presenting wrong credentials (tokens, passwords, sessions).
// After `max_failures` failures within `window_ms` the address is blocked for `block_ms`, doubling with each
// further block up to `max_block_ms`; a success forgets its failures. Memory is bounded: at most `max_addresses`
// are tracked, and when full the one idle longest makes room.
//
// Thread-safe (one short lock per call; no I/O). Time is passed in, so tests move it instead of sleeping.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace iotstream::auth {

struct LimiterOptions {
  int max_failures = 10;                 // failures within the window before a block
  int64_t window_ms = 60'000;            // failures older than this are forgotten
  int64_t block_ms = 30'000;             // the first block; each next one from the same address doubles
  int64_t max_block_ms = 15 * 60'000;    // longest block
  size_t max_addresses = 10'000;         // addresses tracked at most
};

class FailureLimiter {
 public:
  explicit FailureLimiter(const LimiterOptions& options) : options_(options) {}
  FailureLimiter(const FailureLimiter&) = delete;
  FailureLimiter& operator=(const FailureLimiter&) = delete;

  // Seconds the address must still wait (>= 1) when it is blocked at `now_ms`; 0 when it may try.
  int64_t RetryAfterS(std::string_view address, int64_t now_ms) const;
  // Counts a failure; returns true when this failure started a block.
  bool RecordFailure(std::string_view address, int64_t now_ms);
  // Forgets the address's failures (not a block in force).
  void RecordSuccess(std::string_view address);

 private:
  struct Entry {
    int failures = 0;
    int64_t window_start_ms = 0;
    int64_t blocked_until_ms = 0;
    int blocks = 0;              // blocks so far, for the doubling
    int64_t last_ms = 0;
  };
  void MakeRoom(int64_t now_ms);  // REQUIRES: mu_ held

  const LimiterOptions options_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;  // guarded by mu_
};

}  // namespace iotstream::auth
