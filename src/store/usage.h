// Usage: the frame index's totals kept in memory (JPEG bytes per device and in all, indexed frames), private to
// store/. The storage thread changes them as it writes, evicts and deletes; stats() and the retention budgets read
// them without a query.
//
// Thread-safety: every method may be called from any thread (one mutex). Decrements saturate at zero, so a total
// that drifted from the index (it is reloaded by Reset after a failed batch) never wraps.
#pragma once

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace iotstream::store {

class Usage {
 public:
  void Reset(std::unordered_map<std::string, uint64_t> device_bytes, uint64_t total_bytes, uint64_t frames) {
    std::lock_guard lock(mu_);
    device_bytes_ = std::move(device_bytes);
    total_bytes_ = total_bytes;
    frames_ = frames;
  }

  void AddFrame(const std::string& device, uint64_t bytes) {
    std::lock_guard lock(mu_);
    device_bytes_[device] += bytes;
    total_bytes_ += bytes;
    ++frames_;
  }

  void RemoveFrame(const std::string& device, uint64_t bytes) {
    std::lock_guard lock(mu_);
    auto& b = device_bytes_[device];
    b -= std::min(b, bytes);
    total_bytes_ -= std::min(total_bytes_, bytes);
    frames_ -= std::min<uint64_t>(frames_, 1);
  }

  void RemoveDevice(const std::string& device, uint64_t frames, uint64_t bytes) {
    std::lock_guard lock(mu_);
    device_bytes_.erase(device);
    total_bytes_ -= std::min(total_bytes_, bytes);
    frames_ -= std::min(frames_, frames);
  }

  uint64_t device_bytes(const std::string& device) const {
    std::lock_guard lock(mu_);
    const auto it = device_bytes_.find(device);
    return it == device_bytes_.end() ? 0 : it->second;
  }
  uint64_t total_bytes() const {
    std::lock_guard lock(mu_);
    return total_bytes_;
  }
  uint64_t frames() const {
    std::lock_guard lock(mu_);
    return frames_;
  }
  // The devices holding more than `max_bytes`.
  std::vector<std::string> DevicesOver(uint64_t max_bytes) const {
    std::lock_guard lock(mu_);
    std::vector<std::string> over;
    for (const auto& [device, bytes] : device_bytes_) {
      if (bytes > max_bytes) over.push_back(device);
    }
    return over;
  }

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, uint64_t> device_bytes_;  // guarded by mu_
  uint64_t total_bytes_ = 0;                                // guarded by mu_
  uint64_t frames_ = 0;                                     // guarded by mu_
};

}  // namespace iotstream::store
