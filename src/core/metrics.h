// Metrics: the process-wide registry of counters, gauges and latency histograms that every subsystem reports
// its work and every drop to, and that the API reads for /api/v1/system/performance and /metrics.
//
// Thread-safety: registration takes a lock and returns a reference that stays valid for the registry's
// lifetime; updating a metric through that reference is lock-free and may happen on any thread.
// Register once at construction of a subsystem, never on a hot path.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace iotstream {

class Counter {
 public:
  void Add(uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

class Gauge {
 public:
  void Set(int64_t v) { v_.store(v, std::memory_order_relaxed); }
  void Add(int64_t d) { v_.fetch_add(d, std::memory_order_relaxed); }
  int64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> v_{0};
};

// Latency histogram over microseconds with log-linear buckets (8 per power of two, ~9% relative error),
// from 1 us to ~68 s; larger values land in the last bucket. Quantiles are bucket upper bounds.
class Histogram {
 public:
  static constexpr int kSubBuckets = 8;
  static constexpr int kBuckets = 27 * kSubBuckets;

  void Record(int64_t us);
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  uint64_t sum_us() const { return sum_.load(std::memory_order_relaxed); }
  // q in [0,1]; 0 when empty.
  double QuantileUs(double q) const;
  // Upper bound (us) of bucket i, for Prometheus export.
  static int64_t BucketUpperUs(int i);
  uint64_t bucket(int i) const { return buckets_[i].load(std::memory_order_relaxed); }

 private:
  static int BucketOf(int64_t us);
  std::array<std::atomic<uint64_t>, kBuckets> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_{0};
};

// A series' labels, e.g. {{"output", "ws"}}: one metric name, several series (Prometheus' data model). Values
// are escaped on export; names must follow Prometheus rules.
using Labels = std::vector<std::pair<std::string, std::string>>;

class Metrics {
 public:
  Metrics() = default;
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Registers the series `name` with `labels` (or returns it when already registered, e.g. by a second instance
  // of a subsystem). Names follow Prometheus rules (snake_case, unit suffix); `help` is kept from the first
  // registration of the name. Throws std::invalid_argument on an empty name or help: registration is start-up
  // work, and a call without help would be a lookup in disguise.
  Counter& counter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& gauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& histogram(const std::string& name, const std::string& help, const Labels& labels = {});

  // Lookups by name and labels, for tests and tools; subsystems read their own metrics through the references
  // registration returned. NotFound when nobody registered that series: a misspelt name is an error, not a 0.
  Result<uint64_t> CounterValue(const std::string& name, const Labels& labels = {}) const;
  Result<int64_t> GaugeValue(const std::string& name, const Labels& labels = {}) const;
  // A histogram series, for tests and tools (the reference stays valid for the registry's lifetime).
  Result<const Histogram*> HistogramOf(const std::string& name, const Labels& labels = {}) const;

  // Prometheus text exposition format (version 0.0.4) of every metric.
  std::string ExportPrometheus() const;

 private:
  template <typename T>
  struct Named {
    std::string name, help;
    std::string labels;  // rendered: `a="x",b="y"`, empty when none
    T metric;
  };
  static std::string Render(const Labels& labels);
  template <typename T>
  static const T* Find(const std::deque<Named<T>>& list, const std::string& name, const Labels& labels);
  template <typename T>
  static T& FindOrAdd(std::deque<Named<T>>& list, const std::string& name, const std::string& help,
                      const Labels& labels);
  template <typename T, typename Write>
  static void Export(std::ostringstream& out, const std::deque<Named<T>>& list, const char* type, Write write);

  mutable std::mutex mu_;
  // deques: references stay valid as metrics are added.
  std::deque<Named<Counter>> counters_;    // guarded by mu_ (the container, not the values)
  std::deque<Named<Gauge>> gauges_;        // guarded by mu_
  std::deque<Named<Histogram>> histograms_;  // guarded by mu_
};

}  // namespace iotstream
