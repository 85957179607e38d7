// WorkPool: a fixed set of threads for blocking work (disk reads, SQLite queries) that must stay off the
// HTTP I/O threads. Its queue is bounded: Submit() refuses rather than letting a backlog grow.
//
// Thread-safe. The destructor runs every accepted task, then joins.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/metrics.h"

namespace iotstream {

class WorkPool {
 public:
  // `name` prefixes the pool's metrics (<name>_rejected_total, <name>_queue_depth).
  WorkPool(const std::string& name, int threads, size_t max_queue, Metrics& metrics);
  ~WorkPool();
  WorkPool(const WorkPool&) = delete;
  WorkPool& operator=(const WorkPool&) = delete;

  // Queues `task`; false (and counted) when the queue holds max_queue tasks or the pool is stopping.
  [[nodiscard]] bool Submit(std::function<void()> task);
  // Tasks waiting for a thread.
  size_t queue_depth() const;

 private:
  void Loop();
  const size_t max_queue_;
  Counter& rejected_;
  Gauge& depth_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace iotstream
