#include "store/outbox.h"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "support/test_support.h"

namespace iotstream::store {
namespace {

using iotstream::testing::TempDir;

WebhookRecord Hook(const std::string& url) {
  WebhookRecord w;
  w.url = url;
  w.secret = "s3cret";
  w.types = {"person_recognised", "unknown_face"};
  w.not_persons = {"alice"};
  return w;
}

OutboxEntry Entry(int64_t webhook, int64_t event) { return OutboxEntry{webhook, event, 0, 1000, 1000}; }

TEST(WebhookOutbox, WebhooksAreStoredListedAndDeletedWithTheirBacklog) {
  TempDir dir;
  auto o = Outbox::Open(dir.path().string(), 7).value();
  EXPECT_EQ(o->Cursor().value(), 7);
  auto a = o->AddWebhook(Hook("http://127.0.0.1:1/a"));
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  auto b = o->AddWebhook(Hook("http://127.0.0.1:1/b")).value();
  EXPECT_GT(b.id, a.value().id);
  EXPECT_TRUE(o->AddWebhook(Hook("")).status().IsInvalidArgument());
  WebhookRecord bad = Hook("http://x/");
  bad.persons = {"two\nlines"};
  EXPECT_TRUE(o->AddWebhook(bad).status().IsInvalidArgument());

  ASSERT_EQ(o->Enqueue({Entry(a.value().id, 8), Entry(a.value().id, 9), Entry(b.id, 9)}, 9).value(), 3);
  EXPECT_EQ(o->Cursor().value(), 9);
  auto list = o->ListWebhooks().value();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].url, "http://127.0.0.1:1/a");
  EXPECT_EQ(list[0].secret, "s3cret");
  EXPECT_EQ(list[0].types, (std::vector<std::string>{"person_recognised", "unknown_face"}));
  EXPECT_TRUE(list[0].cameras.empty());
  EXPECT_EQ(list[0].not_persons, std::vector<std::string>{"alice"});
  EXPECT_EQ(list[0].backlog, 2);
  EXPECT_EQ(list[1].backlog, 1);
  EXPECT_FALSE(list[0].last_success_ms.has_value());

  EXPECT_EQ(o->DeleteWebhook(a.value().id).value(), 2);
  EXPECT_TRUE(o->DeleteWebhook(a.value().id).status().IsNotFound());
  EXPECT_EQ(o->Backlog().value(), 1);
  // Ids are never reused, and rows for a deleted webhook are not taken.
  auto c = o->AddWebhook(Hook("http://127.0.0.1:1/c")).value();
  EXPECT_GT(c.id, b.id);
  EXPECT_EQ(o->Enqueue({Entry(a.value().id, 10)}, 10).value(), 0);
}

TEST(WebhookOutbox, HeadsAreTheOldestEntryOfEachWebhookAndOutcomesAreKept) {
  TempDir dir;
  auto o = Outbox::Open(dir.path().string(), 0).value();
  const int64_t a = o->AddWebhook(Hook("http://127.0.0.1:1/a")).value().id;
  const int64_t b = o->AddWebhook(Hook("http://127.0.0.1:1/b")).value().id;
  ASSERT_EQ(o->Enqueue({Entry(a, 3), Entry(a, 1), Entry(a, 2), Entry(b, 2)}, 3).value(), 4);
  EXPECT_EQ(o->Enqueue({Entry(a, 3)}, 3).value(), 0);  // already there

  auto heads = o->Heads().value();
  ASSERT_EQ(heads.size(), 2u);
  EXPECT_EQ(heads[0].webhook_id, a);
  EXPECT_EQ(heads[0].event_id, 1);
  EXPECT_EQ(heads[1].event_id, 2);

  ASSERT_TRUE(o->Failed(a, 1, "HTTP 500", 2000, 5000).ok());
  heads = o->Heads().value();
  EXPECT_EQ(heads[0].attempts, 1);
  EXPECT_EQ(heads[0].next_attempt_ms, 5000);
  ASSERT_TRUE(o->Delivered(a, {1}, 6000).ok());
  ASSERT_TRUE(o->Delivered(a, {1}, 6000).ok());  // gone already: nothing changes
  ASSERT_TRUE(o->GiveUp(a, 2, "connection refused", 7000).ok());
  EXPECT_EQ(o->Heads().value()[0].event_id, 3);

  auto list = o->ListWebhooks().value();
  EXPECT_EQ(list[0].last_success_ms, 6000);
  ASSERT_TRUE(o->Delivered(a, {}, 9000).ok());  // nothing delivered: nothing noted
  EXPECT_EQ(o->ListWebhooks().value()[0].last_success_ms, 6000);
  EXPECT_EQ(list[0].last_error, "connection refused");
  EXPECT_EQ(list[0].last_error_ms, 7000);
  EXPECT_EQ(list[0].failures, 2);
  EXPECT_EQ(list[0].given_up, 1);
  EXPECT_EQ(list[0].backlog, 1);
}

TEST(WebhookOutbox, ARunOfEntriesPerWebhookIsReadInOrderAndNotedDeliveredInOneGo) {
  TempDir dir;
  auto o = Outbox::Open(dir.path().string(), 0).value();
  const int64_t a = o->AddWebhook(Hook("http://127.0.0.1:1/a")).value().id;
  const int64_t b = o->AddWebhook(Hook("http://127.0.0.1:1/b")).value().id;
  ASSERT_EQ(o->Enqueue({Entry(a, 4), Entry(b, 2), Entry(a, 1), Entry(a, 3), Entry(b, 5)}, 5).value(), 5);
  std::vector<std::pair<int64_t, int64_t>> got;
  const auto heads = o->Heads(2).value();
  for (const auto& e : heads) got.emplace_back(e.webhook_id, e.event_id);
  EXPECT_EQ(got, (std::vector<std::pair<int64_t, int64_t>>{{a, 1}, {a, 3}, {b, 2}, {b, 5}}));
  ASSERT_TRUE(o->Delivered(a, {1, 3, 99}, 8000).ok());  // 99 was never there
  EXPECT_EQ(o->Heads().value()[0].event_id, 4);
  EXPECT_EQ(o->Backlog().value(), 3);
  EXPECT_EQ(o->ListWebhooks().value()[0].last_success_ms, 8000);
}

TEST(WebhookOutbox, ConfiguredWebhooksFollowTheFlagsAndEverythingSurvivesAReopen) {
  TempDir dir;
  int64_t kept = 0;
  {
    auto o = Outbox::Open(dir.path().string(), 5).value();
    ASSERT_EQ(o->SyncConfigured({"http://127.0.0.1:1/x", "http://127.0.0.1:1/y", "http://127.0.0.1:1/x"}).value(), 0);
    ASSERT_TRUE(o->AddWebhook(Hook("http://127.0.0.1:1/api")).ok());
    auto list = o->ListWebhooks().value();
    ASSERT_EQ(list.size(), 3u);
    EXPECT_TRUE(list[0].configured);
    EXPECT_TRUE(list[0].secret.empty());
    kept = list[1].id;  // .../y
    ASSERT_EQ(o->Enqueue({Entry(list[0].id, 6), Entry(kept, 6)}, 6).value(), 2);
  }
  auto o = Outbox::Open(dir.path().string(), 99).value();
  EXPECT_EQ(o->Cursor().value(), 6);  // the first cursor is taken only once
  EXPECT_EQ(o->SyncConfigured({"http://127.0.0.1:1/y"}).value(), 1);  // x goes, with its backlog
  auto list = o->ListWebhooks().value();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].id, kept);
  EXPECT_EQ(list[0].backlog, 1);
  EXPECT_FALSE(list[1].configured);
}

}  // namespace
}  // namespace iotstream::store
