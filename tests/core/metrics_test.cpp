#include "core/metrics.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "core/status.h"

namespace iotstream {
namespace {

TEST(Histogram, QuantilesFallInTheRightBucket) {
  Histogram h;
  for (int i = 1; i <= 1000; ++i) h.Record(i * 10);  // 10 us .. 10 ms, uniform
  EXPECT_EQ(h.count(), 1000u);
  // Buckets are ~9% wide: the quantile is the bucket's upper bound.
  EXPECT_NEAR(h.QuantileUs(0.5), 5000, 5000 * 0.13);
  EXPECT_NEAR(h.QuantileUs(0.99), 9900, 9900 * 0.13);
  EXPECT_GE(h.QuantileUs(1.0), 10000);
}

TEST(Histogram, EmptyIsZeroAndSmallValuesAreExact) {
  Histogram h;
  EXPECT_EQ(h.QuantileUs(0.5), 0);
  h.Record(3);
  EXPECT_EQ(h.QuantileUs(0.5), 3);
}

TEST(Histogram, BucketBoundsIncrease) {
  for (int i = 1; i < Histogram::kBuckets; ++i) {
    EXPECT_GT(Histogram::BucketUpperUs(i), Histogram::BucketUpperUs(i - 1)) << i;
  }
}

TEST(Metrics, SameNameSameMetricAndPrometheusText) {
  Metrics m;
  m.counter("frames_total", "frames").Add(2);
  m.counter("frames_total", "ignored").Add(3);
  m.gauge("depth", "queue depth").Set(7);
  m.histogram("latency_seconds", "latency").Record(1500);
  const std::string text = m.ExportPrometheus();
  EXPECT_NE(text.find("# TYPE frames_total counter\nframes_total 5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("depth 7\n"), std::string::npos);
  EXPECT_NE(text.find("latency_seconds_count 1\n"), std::string::npos);
  EXPECT_NE(text.find("latency_seconds_bucket{le=\"+Inf\"} 1\n"), std::string::npos);
}

TEST(Metrics, LabelledSeriesShareOneNameInTheExport) {
  Metrics m;
  Histogram& ws = m.histogram("event_latency_seconds", "latency", {{"output", "ws"}});
  Histogram& mqtt = m.histogram("event_latency_seconds", "ignored", {{"output", "mqtt"}});
  m.counter("other_total", "other").Add();
  m.histogram("event_latency_seconds", "latency", {{"output", "webhook"}});
  EXPECT_NE(&ws, &mqtt);
  EXPECT_EQ(&ws, &m.histogram("event_latency_seconds", "latency", {{"output", "ws"}}));
  ws.Record(1500);
  mqtt.Record(2500);
  mqtt.Record(2500);
  EXPECT_EQ(m.HistogramOf("event_latency_seconds", {{"output", "mqtt"}}).value()->count(), 2u);
  EXPECT_TRUE(m.HistogramOf("event_latency_seconds").status().IsNotFound());  // unlabelled is another series
  const std::string text = m.ExportPrometheus();
  // One HELP/TYPE for the name, then its series, even though another metric was registered between them.
  const size_t type = text.find("# TYPE event_latency_seconds histogram\n");
  ASSERT_NE(type, std::string::npos) << text;
  EXPECT_EQ(text.find("# TYPE event_latency_seconds", type + 1), std::string::npos) << text;
  EXPECT_NE(text.find("event_latency_seconds_bucket{output=\"ws\",le=\"+Inf\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("event_latency_seconds_count{output=\"mqtt\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("event_latency_seconds_count{output=\"webhook\"} 0\n"), std::string::npos) << text;
  m.counter("odd_total", "odd", {{"path", "a\"b"}}).Add();
  EXPECT_NE(m.ExportPrometheus().find("odd_total{path=\"a\\\"b\"} 1\n"), std::string::npos);
  EXPECT_EQ(m.CounterValue("odd_total", {{"path", "a\"b"}}).value(), 1u);
}

TEST(Metrics, LookupOfAnUnregisteredNameIsAnErrorNotZero) {
  Metrics m;
  m.counter("frames_total", "frames").Add(3);
  m.gauge("depth", "queue depth").Set(-2);
  EXPECT_EQ(m.CounterValue("frames_total").value(), 3u);
  EXPECT_EQ(m.GaugeValue("depth").value(), -2);
  EXPECT_TRUE(m.CounterValue("frame_total").status().IsNotFound());
  EXPECT_TRUE(m.GaugeValue("frames_total").status().IsNotFound());  // a counter is not a gauge
  EXPECT_THROW(m.counter("frames_total", ""), std::invalid_argument);
  EXPECT_EQ(&m.counter("frames_total", "frames"), &m.counter("frames_total", "frames"));
}

TEST(Status, CategoriesAndResult) {
  EXPECT_TRUE(Status::Ok().ok());
  const Status s = Status::NotFound("no device 'x'");
  EXPECT_TRUE(s.IsNotFound());
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.ToString(), "not found: no device 'x'");
  Result<int> good(42);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(good.value(), 42);
  Result<int> bad(Status::Timeout("slow"));
  EXPECT_FALSE(bad.ok());
  EXPECT_TRUE(bad.status().IsTimeout());
}

}  // namespace
}  // namespace iotstream
