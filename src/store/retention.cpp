#include "store/retention.h"

#include "core/log.h"

namespace iotstream::store {

Retention::Retention(const StoreOptions& options, FrameIndex& index, Segments& segments, Usage& usage,
                     Counter& evicted)
    : max_bytes_(options.retention_max_bytes),
      device_max_bytes_(options.retention_device_max_bytes),
      max_age_ms_(options.retention_max_age_ms),
      index_(index),
      segments_(segments),
      usage_(usage),
      evicted_(evicted) {}

void Retention::Enforce(int64_t now_ms) {
  if (Status st = EnforceBudgets(now_ms); !st.ok()) IOT_LOG(kError) << "store: retention failed: " << st.ToString();
}

Status Retention::EnforceBudgets(int64_t now_ms) {
  if (max_age_ms_ > 0 && now_ms - last_age_check_ms_ >= 1000) {
    last_age_check_ms_ = now_ms;
    while (true) {
      Result<size_t> n = Evict(index_.OldestReceivedBefore(now_ms - max_age_ms_, kAgeBatch), UINT64_MAX);
      if (!n.ok()) return n.status();
      if (n.value() != kAgeBatch) break;
    }
  }
  // Evicts rounds of the query's oldest frames until `used()` is within `budget` or the query finds none.
  const auto trim = [this](uint64_t budget, auto used, auto candidates) -> Status {
    while (used() > budget) {
      Result<size_t> n = Evict(candidates(), used() - budget);
      if (!n.ok()) return n.status();
      if (n.value() == 0) break;
    }
    return Status::Ok();
  };
  if (device_max_bytes_ > 0) {
    for (const auto& device : usage_.DevicesOver(device_max_bytes_)) {
      Status st = trim(
          device_max_bytes_, [&] { return usage_.device_bytes(device); },
          [&] { return index_.OldestOfDevice(device, kBudgetBatch); });
      if (!st.ok()) return st;
    }
  }
  return trim(
      max_bytes_, [&] { return usage_.total_bytes(); }, [&] { return index_.OldestOverall(kBudgetBatch); });
}

Result<size_t> Retention::Evict(Result<std::vector<EvictionCandidate>> candidates, uint64_t bytes_to_free) {
  if (!candidates.ok()) return candidates.status();
  std::vector<EvictionCandidate> victims;
  std::vector<uint64_t> ids;
  uint64_t freed = 0;
  for (auto& c : candidates.value()) {
    if (freed >= bytes_to_free) break;
    freed += c.size;
    ids.push_back(c.id);
    victims.push_back(std::move(c));
  }
  if (victims.empty()) return size_t{0};
  if (Status st = index_.DeleteFrames(ids); !st.ok()) return st;
  for (const auto& v : victims) segments_.RemoveFrame(v.device, v.path);
  for (const auto& v : victims) usage_.RemoveFrame(v.device, v.size);
  evicted_.Add(victims.size());
  return victims.size();
}

}  // namespace iotstream::store
