// The cluster's webhook outbox (cluster/pg_outbox.h) against a real PostgreSQL: the store::Outbox contract
// (webhooks added, listed, kept in step with the flags and deleted; deliveries added, handed out in order, noted
// delivered, failed and given up; the backlog), and what makes it shareable: two nodes racing to fan out and deliver
// the same events deliver each (webhook, event) once and in order, a slower node's fan-out adds nothing already
// delivered (nor, past keep_done_ms, below the floor), an event committed late below the cursor is still added, a
// dead node's claim is taken over when its lease lapses, and a database that goes away is Unavailable until it is
// back.
#include "cluster/pg_outbox.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "cluster/postgres.h"
#include "core/clock.h"

namespace iotstream {
namespace {

using store::OutboxEntry;
using testing::PostgresServer;
using testing::Query;

class ClusterWebhookOutbox : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(pg_.url().empty());
    ASSERT_TRUE(pg_.CreateDatabase("o"));
    url_ = pg_.url("o");
  }

  std::unique_ptr<store::Outbox> Open(const std::string& node, int64_t lease_ms = 30'000,
                                      int64_t keep_done_ms = 600'000, int64_t first_cursor = 0) {
    cluster::PgOutboxOptions o;
    o.database_url = url_;
    o.node_id = node;
    o.first_cursor = first_cursor;
    o.lease_ms = lease_ms;
    o.keep_done_ms = keep_done_ms;
    auto opened = cluster::OpenPgOutbox(o);
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    return opened.ok() ? std::move(opened).value() : nullptr;
  }

  static int64_t AddWebhook(store::Outbox& outbox, const std::string& url) {
    store::WebhookRecord w;
    w.url = url;
    auto added = outbox.AddWebhook(w);
    EXPECT_TRUE(added.ok()) << added.status().ToString();
    return added.ok() ? added.value().id : 0;
  }

  // Entries of `webhooks` for events first..last, due now.
  static std::vector<OutboxEntry> Entries(const std::vector<int64_t>& webhooks, int64_t first, int64_t last) {
    std::vector<OutboxEntry> out;
    const int64_t now = NowMs();
    for (int64_t e = first; e <= last; ++e) {
      for (int64_t w : webhooks) out.push_back(OutboxEntry{w, e, 0, now, now});
    }
    return out;
  }

  static int64_t Enqueue(store::Outbox& outbox, const std::vector<OutboxEntry>& entries, int64_t cursor) {
    auto added = outbox.Enqueue(entries, cursor);
    EXPECT_TRUE(added.ok()) << added.status().ToString();
    return added.ok() ? added.value() : -1;
  }

  // The heads as "webhook:event" strings.
  static std::vector<std::string> Heads(store::Outbox& outbox, size_t per_webhook) {
    auto heads = outbox.Heads(per_webhook);
    EXPECT_TRUE(heads.ok()) << heads.status().ToString();
    std::vector<std::string> out;
    if (!heads.ok()) return out;
    for (const auto& e : heads.value()) out.push_back(std::to_string(e.webhook_id) + ":" + std::to_string(e.event_id));
    return out;
  }

  static int64_t Backlog(store::Outbox& outbox) {
    auto b = outbox.Backlog();
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    return b.ok() ? b.value() : -1;
  }

  static store::WebhookRecord Find(store::Outbox& outbox, int64_t id) {
    auto list = outbox.ListWebhooks();
    EXPECT_TRUE(list.ok()) << list.status().ToString();
    if (list.ok()) {
      for (const auto& w : list.value()) {
        if (w.id == id) return w;
      }
    }
    ADD_FAILURE() << "no webhook " << id;
    return {};
  }

  static std::string Key(int64_t w, int64_t e) { return std::to_string(w) + ":" + std::to_string(e); }

  PostgresServer pg_;
  std::string url_;
};

TEST_F(ClusterWebhookOutbox, WebhooksAreAddedListedKeptInStepWithTheFlagsAndDeleted) {
  auto outbox = Open("n1", 30'000, 600'000, /*first_cursor=*/7);
  ASSERT_NE(outbox, nullptr);
  EXPECT_TRUE(outbox->shared());
  EXPECT_EQ(outbox->Cursor().value(), 7);

  store::WebhookRecord spec;
  spec.url = "http://127.0.0.1:1/api";
  spec.secret = "s3cret";
  spec.types = {"person_recognised", "unknown_face"};
  spec.cameras = {"door"};
  spec.persons = {"Ada"};
  spec.not_persons = {"Bob", "42"};
  auto api = outbox->AddWebhook(spec);
  ASSERT_TRUE(api.ok()) << api.status().ToString();
  EXPECT_GT(api.value().id, 0);
  EXPECT_GT(api.value().created_ms, 0);

  store::WebhookRecord bad = spec;
  bad.url.clear();
  EXPECT_TRUE(outbox->AddWebhook(bad).status().IsInvalidArgument());
  bad = spec;
  bad.cameras = {"two\nlines"};
  EXPECT_TRUE(outbox->AddWebhook(bad).status().IsInvalidArgument());

  const store::WebhookRecord listed = Find(*outbox, api.value().id);
  EXPECT_EQ(listed.url, spec.url);
  EXPECT_EQ(listed.secret, spec.secret);
  EXPECT_EQ(listed.types, spec.types);
  EXPECT_EQ(listed.cameras, spec.cameras);
  EXPECT_EQ(listed.persons, spec.persons);
  EXPECT_EQ(listed.not_persons, spec.not_persons);
  EXPECT_FALSE(listed.configured);
  EXPECT_FALSE(listed.last_success_ms.has_value());
  EXPECT_EQ(listed.backlog, 0);

  // The flags: two configured webhooks beside the API's.
  auto synced = outbox->SyncConfigured({"http://a/", "http://b/"});
  ASSERT_TRUE(synced.ok()) << synced.status().ToString();
  EXPECT_EQ(synced.value(), 0);
  auto list = outbox->ListWebhooks();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list.value().size(), 3u);
  const int64_t b = list.value()[2].id;
  EXPECT_EQ(list.value()[2].url, "http://b/");
  EXPECT_TRUE(list.value()[2].configured);
  EXPECT_TRUE(list.value()[2].types.empty());

  // b is owed two deliveries; the flags drop it (with them) and add c; the API's webhook stays.
  EXPECT_EQ(Enqueue(*outbox, Entries({b}, 8, 9), 9), 2);
  EXPECT_EQ(Find(*outbox, b).backlog, 2);
  EXPECT_EQ(Backlog(*outbox), 2);
  synced = outbox->SyncConfigured({"http://a/", "http://c/", "http://c/"});
  ASSERT_TRUE(synced.ok()) << synced.status().ToString();
  EXPECT_EQ(synced.value(), 2);
  EXPECT_EQ(Backlog(*outbox), 0);
  list = outbox->ListWebhooks();
  ASSERT_TRUE(list.ok());
  std::vector<std::string> urls;
  for (const auto& w : list.value()) urls.push_back(w.url);
  EXPECT_EQ(urls, (std::vector<std::string>{spec.url, "http://a/", "http://c/"}));
  EXPECT_GT(list.value()[2].id, b);  // ids are never given again

  auto deleted = outbox->DeleteWebhook(api.value().id);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(deleted.value(), 0);
  EXPECT_TRUE(outbox->DeleteWebhook(api.value().id).status().IsNotFound());

  // Another node opening the same database keeps the cursor and the webhooks, and does not add the flags' twice.
  auto other = Open("n2", 30'000, 600'000, /*first_cursor=*/100);
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other->Cursor().value(), 9);
  ASSERT_TRUE(other->SyncConfigured({"http://a/", "http://c/"}).ok());
  EXPECT_EQ(other->ListWebhooks().value().size(), 2u);
}

TEST_F(ClusterWebhookOutbox, DeliveriesAreHandedOutInOrderAndNotedDeliveredFailedOrGivenUp) {
  auto outbox = Open("n1");
  ASSERT_NE(outbox, nullptr);
  const int64_t w1 = AddWebhook(*outbox, "http://one/");
  const int64_t w2 = AddWebhook(*outbox, "http://two/");
  const int64_t now = NowMs();
  // An entry of a webhook that is gone is skipped; the cursor moves to what it is told.
  std::vector<OutboxEntry> entries = {{w1, 11, 0, now, now}, {w1, 12, 0, now, now}, {w2, 11, 0, now, now},
                                      {w2 + 100, 11, 0, now, now}};
  EXPECT_EQ(Enqueue(*outbox, entries, 12), 3);
  EXPECT_EQ(outbox->Cursor().value(), 12);
  EXPECT_EQ(Enqueue(*outbox, entries, 12), 0);  // there already
  EXPECT_EQ(Backlog(*outbox), 3);

  EXPECT_EQ(Heads(*outbox, 1), (std::vector<std::string>{Key(w1, 11), Key(w2, 11)}));
  EXPECT_EQ(Heads(*outbox, 5), (std::vector<std::string>{Key(w1, 11), Key(w1, 12), Key(w2, 11)}));

  ASSERT_TRUE(outbox->Delivered(w1, {11}, now + 1).ok());
  EXPECT_EQ(Backlog(*outbox), 2);
  EXPECT_EQ(Find(*outbox, w1).last_success_ms, now + 1);
  EXPECT_EQ(Find(*outbox, w1).backlog, 1);

  // A failed attempt is counted and scheduled: a webhook whose head is not due is not handed out.
  ASSERT_TRUE(outbox->Failed(w1, 12, "HTTP 500", now + 2, now + 60'000).ok());
  EXPECT_EQ(Heads(*outbox, 5), (std::vector<std::string>{Key(w2, 11)}));
  store::WebhookRecord one = Find(*outbox, w1);
  EXPECT_EQ(one.failures, 1);
  EXPECT_EQ(one.last_error, "HTTP 500");
  EXPECT_EQ(one.last_error_ms, now + 2);
  ASSERT_TRUE(outbox->Failed(w1, 12, "HTTP 503", now + 3, now).ok());
  auto heads = outbox->Heads(5);
  ASSERT_TRUE(heads.ok());
  ASSERT_EQ(heads.value().size(), 2u);
  EXPECT_EQ(heads.value()[0].event_id, 12);
  EXPECT_EQ(heads.value()[0].attempts, 2);
  EXPECT_EQ(heads.value()[0].next_attempt_ms, now);
  EXPECT_EQ(heads.value()[0].created_ms, now);

  // Given up: gone from the backlog, counted, and not added again by a node that fans the event out late.
  ASSERT_TRUE(outbox->GiveUp(w2, 11, "gone for good", now + 4).ok());
  store::WebhookRecord two = Find(*outbox, w2);
  EXPECT_EQ(two.given_up, 1);
  EXPECT_EQ(two.failures, 1);
  EXPECT_EQ(two.last_error, "gone for good");
  EXPECT_EQ(two.backlog, 0);
  EXPECT_EQ(Enqueue(*outbox, {{w2, 11, 0, now, now}}, 11), 0);
  EXPECT_EQ(outbox->Cursor().value(), 12);  // never back
  EXPECT_EQ(Backlog(*outbox), 1);

  // Deleting a webhook drops what it is still owed.
  auto dropped = outbox->DeleteWebhook(w1);
  ASSERT_TRUE(dropped.ok());
  EXPECT_EQ(dropped.value(), 1);
  EXPECT_EQ(Backlog(*outbox), 0);
  EXPECT_TRUE(Heads(*outbox, 5).empty());
  // Noting an outcome for a webhook that is gone changes nothing and is no error.
  EXPECT_TRUE(outbox->Delivered(w1, {12}, now).ok());
}

TEST_F(ClusterWebhookOutbox, ASlowerNodeAddsNothingDeliveredButAnEventCommittedLateIsAdded) {
  auto fast = Open("fast");
  auto slow = Open("slow");
  ASSERT_NE(fast, nullptr);
  ASSERT_NE(slow, nullptr);
  const int64_t w = AddWebhook(*fast, "http://hook/");
  EXPECT_EQ(Enqueue(*fast, Entries({w}, 1, 5), 5), 5);
  ASSERT_EQ(Heads(*fast, 10).size(), 5u);
  ASSERT_TRUE(fast->Delivered(w, {1, 2, 3, 4, 5}, NowMs()).ok());
  EXPECT_EQ(Backlog(*fast), 0);

  // The slower node's fan-out of the same events, after they were delivered: nothing comes back.
  EXPECT_EQ(Enqueue(*slow, Entries({w}, 1, 5), 5), 0);
  EXPECT_EQ(Backlog(*slow), 0);
  EXPECT_TRUE(Heads(*slow, 10).empty());

  // Event 6 commits after 7 was fanned out (its node's transaction took longer): below the cursor, yet added.
  EXPECT_EQ(Enqueue(*fast, Entries({w}, 7, 7), 7), 1);
  EXPECT_EQ(Enqueue(*slow, Entries({w}, 6, 6), 6), 1);
  EXPECT_EQ(slow->Cursor().value(), 7);
  EXPECT_EQ(Heads(*fast, 10), (std::vector<std::string>{Key(w, 6), Key(w, 7)}));
  ASSERT_TRUE(fast->Delivered(w, {6, 7}, NowMs()).ok());
  EXPECT_EQ(Query(url_, "SELECT count(*) FROM webhook_outbox")[0][0], "7");  // kept, done

  // Past keep_done_ms the done rows go, and the floor refuses what they stood for.
  auto pruning = Open("pruning", 30'000, /*keep_done_ms=*/0);
  ASSERT_NE(pruning, nullptr);
  EXPECT_EQ(Enqueue(*pruning, {}, 7), 0);
  EXPECT_EQ(Query(url_, "SELECT count(*) FROM webhook_outbox")[0][0], "0");
  EXPECT_EQ(Query(url_, "SELECT floor_event_id FROM webhook_cursor")[0][0], "7");
  EXPECT_EQ(Enqueue(*slow, Entries({w}, 1, 7), 7), 0);
  EXPECT_EQ(Backlog(*slow), 0);
  EXPECT_EQ(Enqueue(*slow, Entries({w}, 8, 8), 8), 1);
}

TEST_F(ClusterWebhookOutbox, ADeadNodesClaimIsTakenOverWhenItsLeaseLapses) {
  constexpr int64_t kLeaseMs = 1'000;
  auto dead = Open("dead", kLeaseMs);
  auto alive = Open("alive", kLeaseMs);
  ASSERT_NE(dead, nullptr);
  ASSERT_NE(alive, nullptr);
  const int64_t w = AddWebhook(*dead, "http://hook/");
  EXPECT_EQ(Enqueue(*dead, Entries({w}, 1, 3), 3), 3);

  // "dead" takes the webhook and is never heard of again (its object stays, so nothing releases the claim).
  const auto claimed = std::chrono::steady_clock::now();
  ASSERT_EQ(Heads(*dead, 10).size(), 3u);
  EXPECT_TRUE(Heads(*alive, 10).empty());
  EXPECT_TRUE(alive->Delivered(w, {1}, NowMs()).IsConflict());
  EXPECT_TRUE(alive->Failed(w, 1, "x", NowMs(), NowMs()).IsConflict());
  EXPECT_EQ(Backlog(*alive), 3);

  std::vector<std::string> taken;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        taken = Heads(*alive, 10);
        return !taken.empty();
      },
      std::chrono::seconds(10)));
  EXPECT_GE(std::chrono::steady_clock::now() - claimed, std::chrono::milliseconds(kLeaseMs - 100));
  EXPECT_EQ(taken, (std::vector<std::string>{Key(w, 1), Key(w, 2), Key(w, 3)}));

  // The dead node's late word counts for nothing; the new claimer's does.
  const Status late = dead->Delivered(w, {1, 2, 3}, NowMs());
  EXPECT_TRUE(late.IsConflict()) << late.ToString();
  EXPECT_NE(late.message().find("claimed by node alive"), std::string::npos) << late.message();
  EXPECT_EQ(Backlog(*alive), 3);
  ASSERT_TRUE(alive->Delivered(w, {1, 2, 3}, NowMs()).ok());
  EXPECT_EQ(Backlog(*alive), 0);

  // A node that stops releases its claims: the next one takes over at once, not after the lease.
  auto stopping = Open("stopping", /*lease_ms=*/600'000);
  ASSERT_NE(stopping, nullptr);
  const int64_t other = AddWebhook(*stopping, "http://other/");
  EXPECT_EQ(Enqueue(*stopping, Entries({other}, 4, 4), 4), 1);
  EXPECT_EQ(Heads(*stopping, 10), (std::vector<std::string>{Key(other, 4)}));
  EXPECT_TRUE(Heads(*alive, 10).empty());
  stopping.reset();
  EXPECT_EQ(Heads(*alive, 10), (std::vector<std::string>{Key(other, 4)}));
}

TEST_F(ClusterWebhookOutbox, TwoNodesRacingToFanOutAndDeliverSendEachDeliveryOnceInOrder) {
  constexpr int kWebhooks = 4;
  constexpr int64_t kEvents = 240;
  constexpr int64_t kBatch = 8;
  std::vector<int64_t> webhooks;
  {
    auto setup = Open("setup");
    ASSERT_NE(setup, nullptr);
    for (int i = 0; i < kWebhooks; ++i) webhooks.push_back(AddWebhook(*setup, "http://hook" + std::to_string(i) + "/"));
  }

  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> sends;  // (node, "webhook:event") in the order they were sent
  std::vector<std::string> errors;
  std::atomic<int> enqueuing{2};
  std::atomic<bool> failed{false};  // a node met an error: both stop
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  const auto node = [&](const std::string& name, unsigned seed) {
    std::mt19937 random(seed);
    const auto fail = [&](const std::string& what, const Status& st) {
      failed = true;
      std::lock_guard lock(mu);
      errors.push_back(name + ": " + what + ": " + st.ToString());
    };
    auto outbox = Open(name, /*lease_ms=*/10'000);
    if (outbox == nullptr) return fail("Open", Status::Internal("failed"));
    int64_t fanned = 0;
    for (int round = 1;; ++round) {
      if (failed) return;
      if (std::chrono::steady_clock::now() > deadline) return fail("the deliveries", Status::Timeout("unfinished"));
      // Both nodes fan out every event, each at its own pace.
      if (fanned < kEvents) {
        const int64_t last = std::min(kEvents, fanned + kBatch);
        if (auto added = outbox->Enqueue(Entries(webhooks, fanned + 1, last), last); !added.ok()) {
          return fail("Enqueue", added.status());
        }
        fanned = last;
        if (fanned == kEvents) --enqueuing;
      }
      auto heads = outbox->Heads(4);
      if (!heads.ok()) return fail("Heads", heads.status());
      std::map<int64_t, std::vector<int64_t>> delivered;
      std::map<int64_t, bool> stopped;
      for (const auto& e : heads.value()) {
        if (stopped[e.webhook_id]) continue;
        // Now and then an attempt fails (and goes again at once); the rows after it wait.
        if (random() % 10 == 0) {
          stopped[e.webhook_id] = true;
          if (Status st = outbox->Failed(e.webhook_id, e.event_id, "HTTP 503", NowMs(), NowMs()); !st.ok()) {
            return fail("Failed", st);
          }
          continue;
        }
        {
          std::lock_guard lock(mu);
          sends.emplace_back(name, Key(e.webhook_id, e.event_id));
        }
        delivered[e.webhook_id].push_back(e.event_id);
      }
      for (const auto& [w, ids] : delivered) {
        if (Status st = outbox->Delivered(w, ids, NowMs()); !st.ok()) return fail("Delivered", st);
      }
      if (enqueuing == 0 && heads.value().empty()) {
        auto backlog = outbox->Backlog();
        if (!backlog.ok()) return fail("Backlog", backlog.status());
        if (backlog.value() == 0) return;
      }
      // Now and then the node restarts, which hands its webhooks to the other.
      if (round % 6 == 0) {
        outbox.reset();
        outbox = Open(name, /*lease_ms=*/10'000);
        if (outbox == nullptr) return fail("Open", Status::Internal("failed"));
      }
    }
  };
  std::thread a(node, "a", 1);
  std::thread b(node, "b", 2);
  a.join();
  b.join();
  ASSERT_TRUE(errors.empty()) << errors.front();

  std::map<std::string, int> times;
  std::map<std::string, int> by_node;
  std::map<int64_t, std::vector<int64_t>> order;
  for (const auto& [name, key] : sends) {
    ++times[key];
    ++by_node[name];
    const size_t colon = key.find(':');
    order[std::stoll(key.substr(0, colon))].push_back(std::stoll(key.substr(colon + 1)));
  }
  EXPECT_EQ(times.size(), static_cast<size_t>(kWebhooks * kEvents));
  for (const auto& [key, n] : times) EXPECT_EQ(n, 1) << key << " was sent " << n << " times";
  for (const auto& [w, events] : order) {
    EXPECT_TRUE(std::is_sorted(events.begin(), events.end())) << "webhook " << w << " got its events out of order";
  }
  EXPECT_GT(by_node["a"], 0);
  EXPECT_GT(by_node["b"], 0);
}

TEST_F(ClusterWebhookOutbox, WhileTheDatabaseIsDownEveryCallIsUnavailableAndItReconnectsAfter) {
  auto outbox = Open("n1");
  ASSERT_NE(outbox, nullptr);
  const int64_t w = AddWebhook(*outbox, "http://hook/");
  pg_.Stop();
  const auto down = [](const Status& st) { return st.IsUnavailable() || st.IsTimeout(); };
  EXPECT_TRUE(down(outbox->ListWebhooks().status()));
  EXPECT_TRUE(down(outbox->Enqueue(Entries({w}, 1, 1), 1).status()));
  EXPECT_TRUE(down(outbox->Heads(1).status()));
  EXPECT_TRUE(down(outbox->Delivered(w, {1}, NowMs())));
  EXPECT_TRUE(down(outbox->Backlog().status()));
  ASSERT_TRUE(pg_.Start());
  ASSERT_TRUE(testing::WaitFor([&] { return outbox->ListWebhooks().ok(); }, std::chrono::seconds(10)));
  EXPECT_EQ(Enqueue(*outbox, Entries({w}, 1, 1), 1), 1);
  EXPECT_EQ(Backlog(*outbox), 1);
}

}  // namespace
}  // namespace iotstream
