// Retention: removes the oldest frames until the store's budgets hold, private to store/. Three budgets, each
// with its own typed query on the frame index: an age limit (frames received before now - max age), a byte budget
// per device (that device's oldest frames) and a byte budget for all devices (the oldest frames of any device).
// "Oldest" is the lowest frame id. A frame goes as its index row; its segment goes with the segment's last row.
//
// Thread-safety: none; the storage thread runs it between batches. It keeps references to the index, the segments,
// the usage totals and the eviction counter, which must outlive it.
// Errors: an index error ends the pass after it is logged once, with the budgets possibly still exceeded; the
// next pass (at the next batch or within a second) tries again.
#pragma once

#include <cstdint>
#include <vector>

#include "core/metrics.h"
#include "core/status.h"
#include "store/frame_index.h"
#include "store/segments.h"
#include "store/store.h"
#include "store/usage.h"

namespace iotstream::store {

class Retention {
 public:
  // Rows the age query takes per round, and the budget queries per round.
  static constexpr size_t kAgeBatch = 512;
  static constexpr size_t kBudgetBatch = 64;

  Retention(const StoreOptions& options, FrameIndex& index, Segments& segments, Usage& usage, Counter& evicted);
  Retention(const Retention&) = delete;
  Retention& operator=(const Retention&) = delete;

  // One pass over every budget. The age limit is checked at most once a second.
  void Enforce(int64_t now_ms);

 private:
  Status EnforceBudgets(int64_t now_ms);
  // Takes `candidates` in order until they add up to `bytes_to_free` and removes them; how many went.
  Result<size_t> Evict(Result<std::vector<EvictionCandidate>> candidates, uint64_t bytes_to_free);

  const uint64_t max_bytes_;
  const uint64_t device_max_bytes_;
  const int64_t max_age_ms_;
  FrameIndex& index_;
  Segments& segments_;
  Usage& usage_;
  Counter& evicted_;
  int64_t last_age_check_ms_ = 0;
};

}  // namespace iotstream::store
