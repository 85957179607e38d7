#include "core/metrics.h"

#include <bit>
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

std::string Metrics::Render(const Labels& labels) {
  std::string out;
  for (const auto& [key, value] : labels) {
    if (!out.empty()) out += ',';
    out += key + "=\"";
    for (char c : value) {
      if (c == '\\' || c == '"') out += '\\';
      out += c == '\n' ? std::string("\\n") : std::string(1, c);
    }
    out += '"';
  }
  return out;
}

template <typename T>
T& Metrics::FindOrAdd(std::deque<Named<T>>& list, const std::string& name, const std::string& help,
                      const Labels& labels) {
  if (name.empty() || help.empty()) {
    throw std::invalid_argument("metric '" + name + "' registered without a name or help text");
  }
  const std::string rendered = Render(labels);
  for (auto& n : list) {
    if (n.name == name && n.labels == rendered) return n.metric;
  }
  auto& added = list.emplace_back();
  added.name = name;
  added.help = help;
  added.labels = rendered;
  return added.metric;
}

Counter& Metrics::counter(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mu_);
  return FindOrAdd(counters_, name, help, labels);
}

Gauge& Metrics::gauge(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mu_);
  return FindOrAdd(gauges_, name, help, labels);
}

Histogram& Metrics::histogram(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mu_);
  return FindOrAdd(histograms_, name, help, labels);
}

template <typename T>
const T* Metrics::Find(const std::deque<Named<T>>& list, const std::string& name, const Labels& labels) {
  const std::string rendered = Render(labels);
  for (const auto& n : list) {
    if (n.name == name && n.labels == rendered) return &n.metric;
  }
  return nullptr;
}

Result<uint64_t> Metrics::CounterValue(const std::string& name, const Labels& labels) const {
  std::lock_guard lock(mu_);
  const Counter* c = Find(counters_, name, labels);
  if (c == nullptr) return Status::NotFound("no counter '" + name + "{" + Render(labels) + "}' is registered");
  return c->value();
}

Result<int64_t> Metrics::GaugeValue(const std::string& name, const Labels& labels) const {
  std::lock_guard lock(mu_);
  const Gauge* g = Find(gauges_, name, labels);
  if (g == nullptr) return Status::NotFound("no gauge '" + name + "{" + Render(labels) + "}' is registered");
  return g->value();
}

Result<const Histogram*> Metrics::HistogramOf(const std::string& name, const Labels& labels) const {
  std::lock_guard lock(mu_);
  const Histogram* h = Find(histograms_, name, labels);
  if (h == nullptr) return Status::NotFound("no histogram '" + name + "{" + Render(labels) + "}' is registered");
  return h;
}

// Every series of one name together under one HELP and TYPE, as the exposition format requires.
template <typename T, typename Write>
void Metrics::Export(std::ostringstream& out, const std::deque<Named<T>>& list, const char* type, Write write) {
  std::vector<bool> done(list.size(), false);
  for (size_t i = 0; i < list.size(); ++i) {
    if (done[i]) continue;
    const std::string& name = list[i].name;
    out << "# HELP " << name << ' ' << list[i].help << "\n# TYPE " << name << ' ' << type << '\n';
    for (size_t j = i; j < list.size(); ++j) {
      if (list[j].name != name) continue;
      done[j] = true;
      write(list[j]);
    }
  }
}

std::string Metrics::ExportPrometheus() const {
  std::lock_guard lock(mu_);
  std::ostringstream out;
  auto series = [](const std::string& name, const std::string& labels) {
    return labels.empty() ? name : name + "{" + labels + "}";
  };
  Export(out, counters_, "counter",
         [&](const Named<Counter>& c) { out << series(c.name, c.labels) << ' ' << c.metric.value() << '\n'; });
  Export(out, gauges_, "gauge",
         [&](const Named<Gauge>& g) { out << series(g.name, g.labels) << ' ' << g.metric.value() << '\n'; });
  Export(out, histograms_, "histogram", [&](const Named<Histogram>& h) {
    // Exported in seconds, the Prometheus base unit; only buckets up to the last non-empty one.
    const std::string le_prefix = h.labels.empty() ? "{le=\"" : "{" + h.labels + ",le=\"";
    int last = -1;
    for (int i = 0; i < Histogram::kBuckets; ++i) {
      if (h.metric.bucket(i) != 0) last = i;
    }
    uint64_t cumulative = 0;
    for (int i = 0; i <= last; ++i) {
      cumulative += h.metric.bucket(i);
      out << h.name << "_bucket" << le_prefix << static_cast<double>(Histogram::BucketUpperUs(i) + 1) / 1e6
          << "\"} " << cumulative << '\n';
    }
    out << h.name << "_bucket" << le_prefix << "+Inf\"} " << h.metric.count() << '\n'
        << series(h.name + "_sum", h.labels) << ' ' << static_cast<double>(h.metric.sum_us()) / 1e6 << '\n'
        << series(h.name + "_count", h.labels) << ' ' << h.metric.count() << '\n';
  });
  return out.str();
}

}  // namespace iotstream
