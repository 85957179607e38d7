#include "core/work_pool.h"

namespace iotstream {

WorkPool::WorkPool(const std::string& name, int threads, size_t max_queue, Metrics& metrics)
    : max_queue_(max_queue),
      rejected_(metrics.counter(name + "_rejected_total", "tasks refused because the queue was full")),
      depth_(metrics.gauge(name + "_queue_depth", "tasks waiting for a thread")) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Loop(); });
}

WorkPool::~WorkPool() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

bool WorkPool::Submit(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_ && queue_.size() < max_queue_) {
      queue_.push_back(std::move(task));
      depth_.Set(static_cast<int64_t>(queue_.size()));
      cv_.notify_one();
      return true;
    }
  }
  rejected_.Add();
  return false;
}

size_t WorkPool::queue_depth() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void WorkPool::Loop() {
  while (true) {
    std::function<void()> task;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      task = std::move(queue_.front());
      queue_.pop_front();
      depth_.Set(static_cast<int64_t>(queue_.size()));
    }
    task();
  }
}

}  // namespace iotstream
