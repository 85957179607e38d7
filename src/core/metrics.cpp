#include "core/metrics.h"

#include <bit>
#include <sstream>
#include <stdexcept>

namespace iotstream {

int Histogram::BucketOf(int64_t us) {
  if (us < kSubBuckets) return us < 0 ? 0 : static_cast<int>(us);
  const auto u = static_cast<uint64_t>(us);
  const int exp = std::bit_width(u) - 1;            // >= 3
  const int shift = exp - 3;                         // keep the 3 bits below the leading one
  const int sub = static_cast<int>((u >> shift) & (kSubBuckets - 1));
  const int idx = (exp - 2) * kSubBuckets + sub;
  return idx < kBuckets ? idx : kBuckets - 1;
}

int64_t Histogram::BucketUpperUs(int i) {
  if (i < kSubBuckets) return i;
  const int exp = i / kSubBuckets + 2;
  const int sub = i % kSubBuckets;
  const int shift = exp - 3;
  const int64_t lower = (int64_t{kSubBuckets} + sub) << shift;
  return lower + (int64_t{1} << shift) - 1;
}

void Histogram::Record(int64_t us) {
  buckets_[BucketOf(us)].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(us < 0 ? 0 : static_cast<uint64_t>(us), std::memory_order_relaxed);
}

double Histogram::QuantileUs(double q) const {
  uint64_t total = 0;
  std::array<uint64_t, kBuckets> snap{};
  for (int i = 0; i < kBuckets; ++i) total += snap[i] = buckets_[i].load(std::memory_order_relaxed);
  if (total == 0) return 0;
  const auto rank = static_cast<uint64_t>(q * static_cast<double>(total - 1)) + 1;
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += snap[i];
    if (seen >= rank) return static_cast<double>(BucketUpperUs(i));
  }
  return static_cast<double>(BucketUpperUs(kBuckets - 1));
}

template <typename T>
T& Metrics::FindOrAdd(std::deque<Named<T>>& list, const std::string& name, const std::string& help) {
  if (name.empty() || help.empty()) {
    throw std::invalid_argument("metric '" + name + "' registered without a name or help text");
  }
  for (auto& n : list) {
    if (n.name == name) return n.metric;
  }
  auto& added = list.emplace_back();
  added.name = name;
  added.help = help;
  return added.metric;
}

Counter& Metrics::counter(const std::string& name, const std::string& help) {
  std::lock_guard lock(mu_);
  return FindOrAdd(counters_, name, help);
}

Gauge& Metrics::gauge(const std::string& name, const std::string& help) {
  std::lock_guard lock(mu_);
  return FindOrAdd(gauges_, name, help);
}

Histogram& Metrics::histogram(const std::string& name, const std::string& help) {
  std::lock_guard lock(mu_);
  return FindOrAdd(histograms_, name, help);
}

template <typename T>
const T* Metrics::Find(const std::deque<Named<T>>& list, const std::string& name) {
  for (const auto& n : list) {
    if (n.name == name) return &n.metric;
  }
  return nullptr;
}

Result<uint64_t> Metrics::CounterValue(const std::string& name) const {
  std::lock_guard lock(mu_);
  const Counter* c = Find(counters_, name);
  if (c == nullptr) return Status::NotFound("no counter '" + name + "' is registered");
  return c->value();
}

Result<int64_t> Metrics::GaugeValue(const std::string& name) const {
  std::lock_guard lock(mu_);
  const Gauge* g = Find(gauges_, name);
  if (g == nullptr) return Status::NotFound("no gauge '" + name + "' is registered");
  return g->value();
}

std::string Metrics::ExportPrometheus() const {
  std::lock_guard lock(mu_);
  std::ostringstream out;
  for (const auto& c : counters_) {
    out << "# HELP " << c.name << ' ' << c.help << "\n# TYPE " << c.name << " counter\n"
        << c.name << ' ' << c.metric.value() << '\n';
  }
  for (const auto& g : gauges_) {
    out << "# HELP " << g.name << ' ' << g.help << "\n# TYPE " << g.name << " gauge\n"
        << g.name << ' ' << g.metric.value() << '\n';
  }
  for (const auto& h : histograms_) {
    // Exported in seconds, the Prometheus base unit; only buckets up to the last non-empty one.
    out << "# HELP " << h.name << ' ' << h.help << "\n# TYPE " << h.name << " histogram\n";
    int last = -1;
    for (int i = 0; i < Histogram::kBuckets; ++i) {
      if (h.metric.bucket(i) != 0) last = i;
    }
    uint64_t cumulative = 0;
    for (int i = 0; i <= last; ++i) {
      cumulative += h.metric.bucket(i);
      out << h.name << "_bucket{le=\"" << static_cast<double>(Histogram::BucketUpperUs(i) + 1) / 1e6
          << "\"} " << cumulative << '\n';
    }
    out << h.name << "_bucket{le=\"+Inf\"} " << h.metric.count() << '\n'
        << h.name << "_sum " << static_cast<double>(h.metric.sum_us()) / 1e6 << '\n'
        << h.name << "_count " << h.metric.count() << '\n';
  }
  return out.str();
}

}  // namespace iotstream
