#include "auth/limiter.h"

#include <algorithm>

namespace iotstream::auth {

int64_t FailureLimiter::RetryAfterS(std::string_view address, int64_t now_ms) const {
  std::lock_guard lock(mu_);
  const auto it = entries_.find(std::string(address));
  if (it == entries_.end() || it->second.blocked_until_ms <= now_ms) return 0;
  return std::max<int64_t>(1, (it->second.blocked_until_ms - now_ms + 999) / 1000);
}

bool FailureLimiter::RecordFailure(std::string_view address, int64_t now_ms) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(std::string(address));
  if (it == entries_.end()) {
    if (entries_.size() >= options_.max_addresses) MakeRoom(now_ms);
    it = entries_.emplace(std::string(address), Entry{}).first;
  }
  Entry& e = it->second;
  e.last_ms = now_ms;
  if (now_ms - e.window_start_ms > options_.window_ms) {
    e.failures = 0;
    e.window_start_ms = now_ms;
  }
  if (++e.failures < options_.max_failures) return false;
  const int64_t block = std::min(options_.max_block_ms, options_.block_ms << std::min(e.blocks, 20));
  e.blocked_until_ms = now_ms + block;
  ++e.blocks;
  e.failures = 0;
  e.window_start_ms = now_ms;
  return true;
}

void FailureLimiter::RecordSuccess(std::string_view address) {
  std::lock_guard lock(mu_);
  const auto it = entries_.find(std::string(address));
  if (it != entries_.end()) it->second.failures = 0;
}

void FailureLimiter::MakeRoom(int64_t now_ms) {
  // Entries neither blocked nor within a window go first; else the one idle longest.
  std::erase_if(entries_, [&](const auto& kv) {
    const Entry& e = kv.second;
    return e.blocked_until_ms <= now_ms && now_ms - e.window_start_ms > options_.window_ms;
  });
  if (entries_.size() < options_.max_addresses) return;
  auto oldest = std::min_element(entries_.begin(), entries_.end(),
                                 [](const auto& a, const auto& b) { return a.second.last_ms < b.second.last_ms; });
  entries_.erase(oldest);
}

}  // namespace iotstream::auth
