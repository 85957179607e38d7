// Two WebhookPublishers ("nodes") on one PostgreSQL outbox and one event log, against a real HTTP receiver: each
// event reaches the webhook exactly once, whichever node logged it (or none published it: the others' events come
// through the log), and when one node stops the other delivers on.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "cluster/pg_outbox.h"
#include "cluster/postgres.h"
#include "core/clock.h"
#include "events/schema.h"
#include "notify/receiver.h"
#include "notify/webhooks.h"

namespace iotstream {
namespace {

using notify::WebhookPublisher;
using testing::Receiver;

class ClusterWebhooks : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(pg_.url().empty());
    ASSERT_TRUE(pg_.CreateDatabase("w"));
    auto records = store::Records::Open(dir_.path().string());
    ASSERT_TRUE(records.ok()) << records.status().ToString();
    records_ = std::move(records).value();
    options_.first_backoff_ms = 20;
    options_.max_backoff_ms = 100;
    options_.shared_poll_ms = 100;
  }

  std::unique_ptr<WebhookPublisher> Node(const std::string& node_id, Metrics& metrics) {
    auto first = notify::FirstOutboxCursor(*records_);
    EXPECT_TRUE(first.ok()) << first.status().ToString();
    cluster::PgOutboxOptions o;
    o.database_url = pg_.url("w");
    o.node_id = node_id;
    o.first_cursor = first.ok() ? first.value() : 0;
    auto outbox = cluster::OpenPgOutbox(o);
    EXPECT_TRUE(outbox.ok()) << outbox.status().ToString();
    if (!outbox.ok()) return nullptr;
    auto started = WebhookPublisher::Start(options_, std::move(outbox).value(), *records_, metrics);
    EXPECT_TRUE(started.ok()) << started.status().ToString();
    return started.ok() ? std::move(started).value() : nullptr;
  }

  // Logs a device event; `publisher` (when given) is the node that logged it and publishes it on its bus.
  int64_t Log(WebhookPublisher* publisher, int i) {
    store::EventRecord e =
        events::DeviceEvent(events::type::kDeviceOnline, "cam" + std::to_string(i), NowMs(), nullptr);
    EXPECT_TRUE(records_->AppendEvent(&e, "").ok());
    if (publisher != nullptr) publisher->Publish(events::ToEvent(e));
    return e.id;
  }

  // Waits until the receiver has `sent.size()` events, then a little more for any that would come twice: each of
  // `sent` exactly once.
  void ExpectEachOnce(const Receiver& receiver, const std::vector<int64_t>& sent) {
    EXPECT_TRUE(testing::WaitFor([&] { return receiver.Accepted().size() >= sent.size(); }, std::chrono::seconds(30)));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    std::vector<int64_t> got;
    std::set<std::string> deliveries;
    for (const auto& r : receiver.Accepted()) {
      got.push_back(nlohmann::json::parse(r.body).at("id").get<int64_t>());
      deliveries.insert(r.headers.at("x-iotstream-delivery"));
    }
    EXPECT_EQ(got.size(), sent.size());
    for (int64_t id : sent) {
      EXPECT_EQ(std::count(got.begin(), got.end(), id), 1) << "event " << id;
    }
    EXPECT_EQ(deliveries.size(), sent.size());
  }

  static uint64_t Delivered(Metrics& m) { return m.CounterValue("notify_webhook_delivered_total").value(); }

  testing::PostgresServer pg_;
  testing::TempDir dir_;
  std::unique_ptr<store::Records> records_;  // the event log both nodes read
  notify::WebhookOptions options_;
};

TEST_F(ClusterWebhooks, TwoNodesDeliverEachEventOnceAndOneCarriesOnWhenTheOtherStops) {
  Receiver receiver;
  Metrics m1, m2;
  auto n1 = Node("n1", m1);
  ASSERT_NE(n1, nullptr);
  // Made on n1 before n2 starts (a webhook made on another node while this one runs is fanned out by this one from
  // its next poll on).
  auto created = n1->Create([&] {
    store::WebhookRecord w;
    w.url = receiver.Url();
    return w;
  }());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  auto n2 = Node("n2", m2);
  ASSERT_NE(n2, nullptr);

  // Events logged on n1, on n2, and (a node's publish lost) on neither.
  std::vector<int64_t> sent;
  for (int i = 0; i < 60; ++i) {
    WebhookPublisher* by[] = {n1.get(), n2.get(), nullptr};
    sent.push_back(Log(by[i % 3], i));
  }
  ExpectEachOnce(receiver, sent);
  EXPECT_EQ(Delivered(m1) + Delivered(m2), sent.size());

  // n1 stops (its claims are released); n2 delivers what comes next, whoever logged it.
  n1.reset();
  for (int i = 60; i < 90; ++i) sent.push_back(Log(i % 2 == 0 ? n2.get() : nullptr, i));
  ExpectEachOnce(receiver, sent);
  auto listed = n2->List();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed.value().size(), 1u);
  EXPECT_EQ(listed.value()[0].backlog, 0);
  EXPECT_TRUE(listed.value()[0].last_success_ms.has_value());
}

}  // namespace
}  // namespace iotstream
