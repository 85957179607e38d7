// The shared state of a cluster against a real PostgreSQL: the gallery and the event log as store::Records says they
// behave, seen alike by two nodes' Records; the NOTIFYs each change sends, heard by another node's ChangeListener;
// and a node whose records were opened before its database came up. Every wait polls for its condition.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <thread>

#include "cluster/postgres.h"
#include "cluster/shared_state.h"
#include "support/test_support.h"

namespace iotstream {
namespace {

std::vector<float> Descriptor(float first) {
  std::vector<float> d(128, 0.25f);
  d[0] = first;
  d[127] = -first;
  return d;
}

class ClusterRecords : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(pg_.url().empty());
    ASSERT_TRUE(pg_.CreateDatabase("shared"));
    a_ = cluster::OpenPgRecords(pg_.url("shared"), "a");
    b_ = cluster::OpenPgRecords(pg_.url("shared"), "b");
  }

  testing::PostgresServer pg_;
  std::unique_ptr<store::Records> a_;
  std::unique_ptr<store::Records> b_;
};

TEST_F(ClusterRecords, TheGalleryIsOneForEveryNode) {
  auto ada = a_->AddFace("ada", Descriptor(1), "jpeg-bytes-of-ada");
  ASSERT_TRUE(ada.ok()) << ada.status().ToString();
  EXPECT_TRUE(ada.value().new_person);
  auto again = b_->AddFace("ada", Descriptor(2), "");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_FALSE(again.value().new_person);
  EXPECT_EQ(again.value().person_id, ada.value().person_id);
  auto negative = b_->AddNegative(ada.value().person_id, Descriptor(3));
  ASSERT_TRUE(negative.ok()) << negative.status().ToString();
  EXPECT_EQ(negative.value().name, "ada");
  EXPECT_TRUE(b_->AddNegative(ada.value().person_id + 100, Descriptor(3)).status().IsNotFound());
  EXPECT_EQ(a_->AddFace("", Descriptor(1), "").status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(a_->AddFace("x", std::vector<float>(3), "").status().code(), Status::Code::kInvalidArgument);

  auto gallery = a_->LoadGallery();
  ASSERT_TRUE(gallery.ok()) << gallery.status().ToString();
  ASSERT_EQ(gallery.value().size(), 3u);
  EXPECT_EQ(gallery.value()[0].descriptor, Descriptor(1));
  EXPECT_FALSE(gallery.value()[1].negative);
  EXPECT_TRUE(gallery.value()[2].negative);
  EXPECT_EQ(gallery.value()[2].descriptor, Descriptor(3));

  auto thumbnail = b_->ReadFaceThumbnail(ada.value().face_id);
  ASSERT_TRUE(thumbnail.ok()) << thumbnail.status().ToString();
  EXPECT_EQ(thumbnail.value(), "jpeg-bytes-of-ada");
  EXPECT_TRUE(b_->ReadFaceThumbnail(again.value().face_id).status().IsNotFound());

  ASSERT_TRUE(a_->AddFace("bob", Descriptor(4), "").ok());
  auto people = b_->ListPeople();
  ASSERT_TRUE(people.ok()) << people.status().ToString();
  ASSERT_EQ(people.value().size(), 2u);
  EXPECT_EQ(people.value()[0].name, "ada");
  EXPECT_EQ(people.value()[0].face_ids, (std::vector<int64_t>{ada.value().face_id, again.value().face_id}));

  EXPECT_TRUE(b_->RenamePerson(ada.value().person_id, "bob").status().IsConflict());
  auto renamed = b_->RenamePerson(ada.value().person_id, "ada lovelace");
  ASSERT_TRUE(renamed.ok()) << renamed.status().ToString();
  EXPECT_EQ(renamed.value(), "ada");
  EXPECT_TRUE(a_->RenamePerson(ada.value().person_id + 100, "z").status().IsNotFound());

  ASSERT_TRUE(a_->DeleteFace(again.value().face_id).ok());
  EXPECT_TRUE(b_->DeleteFace(again.value().face_id).IsNotFound());
  auto deleted = b_->DeletePerson(ada.value().person_id);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(deleted.value(), "ada lovelace");
  EXPECT_TRUE(a_->DeletePerson(ada.value().person_id).status().IsNotFound());
  auto left = a_->LoadGallery();
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left.value().size(), 1u);
  EXPECT_EQ(left.value()[0].name, "bob");
}

TEST_F(ClusterRecords, TheEventLogIsOneForEveryNode) {
  store::EventRecord seen;
  seen.type = "person_recognised";
  seen.ts_ms = 1'000;
  seen.device_id = "gate";
  seen.frame_id = 42;
  seen.person_id = 7;
  seen.name = "ada";
  seen.distance = 0.375;
  seen.box_x = 1, seen.box_y = 2, seen.box_w = 30, seen.box_h = 40;
  seen.descriptor = Descriptor(1);
  seen.message = R"({"type":"person_recognised","name":"ada"})";
  ASSERT_TRUE(a_->AppendEvent(&seen, "face-jpeg").ok());
  store::EventRecord stranger;
  stranger.type = "unknown_face";
  stranger.ts_ms = 2'000;
  stranger.device_id = "door";
  stranger.descriptor = Descriptor(2);
  ASSERT_TRUE(b_->AppendEvent(&stranger, "").ok());
  store::EventRecord online;
  online.type = "device_online";
  online.ts_ms = 3'000;
  online.device_id = "gate";
  ASSERT_TRUE(b_->AppendEvent(&online, "").ok());
  EXPECT_LT(seen.id, stranger.id);
  EXPECT_LT(stranger.id, online.id);

  auto got = b_->GetEvent(seen.id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got.value().type, "person_recognised");
  EXPECT_EQ(got.value().frame_id, 42u);
  EXPECT_EQ(got.value().person_id, std::optional<int64_t>(7));
  EXPECT_DOUBLE_EQ(got.value().distance, 0.375);
  EXPECT_EQ(got.value().box_h, 40);
  EXPECT_TRUE(got.value().has_thumbnail);
  EXPECT_EQ(got.value().descriptor, Descriptor(1));
  EXPECT_EQ(got.value().message, seen.message);
  EXPECT_FALSE(got.value().feedback_correct.has_value());
  EXPECT_TRUE(a_->GetEvent(online.id + 1).status().IsNotFound());
  EXPECT_EQ(b_->ReadEventThumbnail(seen.id).value(), "face-jpeg");
  EXPECT_TRUE(b_->ReadEventThumbnail(online.id).status().IsNotFound());

  auto ids = [](const Result<std::vector<store::EventRecord>>& r) {
    std::vector<int64_t> out;
    if (r.ok()) {
      for (const auto& e : r.value()) out.push_back(e.id);
    }
    return out;
  };
  auto list = [&ids](store::Records& r, const std::function<void(store::EventQuery&)>& fill) {
    store::EventQuery q;
    fill(q);
    return ids(r.ListEvents(q));
  };
  using Ids = std::vector<int64_t>;
  EXPECT_EQ(list(*a_, [](auto&) {}), (Ids{online.id, stranger.id, seen.id}));
  EXPECT_EQ(list(*a_, [](auto& q) { q.device_id = "gate"; }), (Ids{online.id, seen.id}));
  EXPECT_EQ(list(*a_, [](auto& q) { q.types = {"unknown_face", "device_online"}; }), (Ids{online.id, stranger.id}));
  EXPECT_EQ(list(*a_, [](auto& q) { q.from_ms = 1'500, q.to_ms = 2'500; }), (Ids{stranger.id}));
  EXPECT_EQ(list(*a_, [](auto& q) { q.person_id = 7; }), (Ids{seen.id}));
  EXPECT_EQ(list(*a_, [&](auto& q) { q.since_id = seen.id, q.limit = 1; }), (Ids{stranger.id}));

  ASSERT_TRUE(a_->SetFeedback(seen.id, false).ok());
  EXPECT_TRUE(a_->SetFeedback(online.id + 1, true).IsNotFound());
  EXPECT_EQ(list(*b_, [](auto& q) { q.feedback_correct = false; }), (Ids{seen.id}));
  EXPECT_EQ(list(*b_, [](auto& q) { q.feedback_correct = true; }), (Ids{}));

  ASSERT_TRUE(b_->ReplaceEventFace(seen.id, Descriptor(5), "better-jpeg").ok());
  EXPECT_EQ(a_->GetEvent(seen.id).value().descriptor, Descriptor(5));
  EXPECT_EQ(a_->GetEvent(seen.id).value().message, seen.message);
  EXPECT_EQ(a_->ReadEventThumbnail(seen.id).value(), "better-jpeg");
  ASSERT_TRUE(b_->ReplaceEventFace(stranger.id, Descriptor(6), "").ok());
  EXPECT_TRUE(b_->ReadEventThumbnail(stranger.id).status().IsNotFound());
  EXPECT_TRUE(b_->ReplaceEventFace(online.id, Descriptor(6), "").IsNotFound());

  // Both strangers' faces (the unknown one and the match marked wrong) before 2500 are forgotten; their events stay.
  auto forgotten = a_->ForgetStrangerFaces(2'500);
  ASSERT_TRUE(forgotten.ok()) << forgotten.status().ToString();
  EXPECT_EQ(forgotten.value(), 2);
  EXPECT_TRUE(b_->GetEvent(seen.id).value().descriptor.empty());
  EXPECT_TRUE(b_->GetEvent(stranger.id).value().descriptor.empty());
  EXPECT_EQ(a_->ForgetStrangerFaces(2'500).value(), 0);
}

// What a ChangeListener heard, gathered for the test thread.
struct Heard {
  std::mutex mu;
  int connected = 0;
  int gallery = 0;
  std::vector<int64_t> events;

  cluster::ChangeCallbacks Callbacks() {
    return {.on_connected = [this] { std::lock_guard l(mu); ++connected; },
            .gallery_changed = [this] { std::lock_guard l(mu); ++gallery; },
            .event_logged = [this](int64_t id) { std::lock_guard l(mu); events.push_back(id); }};
  }
  template <typename F>
  bool WaitFor(F condition) {
    return testing::WaitFor([&] {
      std::lock_guard l(mu);
      return condition();
    }, std::chrono::seconds(10));
  }
};

TEST_F(ClusterRecords, EveryNodeHearsOfGalleryChangesAndOfTheOtherNodesEvents) {
  ASSERT_TRUE(a_->LoadGallery().ok());  // the schema exists before anyone listens
  Metrics metrics;
  Heard on_a, on_b;
  cluster::ChangeListener listen_a(pg_.url("shared"), "a", on_a.Callbacks(), metrics);
  cluster::ChangeListener listen_b(pg_.url("shared"), "b", on_b.Callbacks(), metrics);
  ASSERT_TRUE(on_a.WaitFor([&] { return on_a.connected == 1; }));
  ASSERT_TRUE(on_b.WaitFor([&] { return on_b.connected == 1; }));

  ASSERT_TRUE(a_->AddFace("ada", Descriptor(1), "").ok());
  EXPECT_TRUE(on_b.WaitFor([&] { return on_b.gallery >= 1; }));
  EXPECT_TRUE(on_a.WaitFor([&] { return on_a.gallery >= 1; }));  // its own too: see shared_state.h

  store::EventRecord e;
  e.type = "device_online";
  e.device_id = "gate";
  ASSERT_TRUE(a_->AppendEvent(&e, "").ok());
  store::EventRecord f = e;
  ASSERT_TRUE(b_->AppendEvent(&f, "").ok());
  EXPECT_TRUE(on_b.WaitFor([&] { return on_b.events == std::vector<int64_t>{e.id}; }));
  EXPECT_TRUE(on_a.WaitFor([&] { return on_a.events == std::vector<int64_t>{f.id}; }));

  // A failed change announces nothing: its transaction rolled back, and NOTIFY goes out only with a commit.
  const int before = [&] { std::lock_guard l(on_b.mu); return on_b.gallery; }();
  EXPECT_TRUE(b_->AddNegative(9'999, Descriptor(2)).status().IsNotFound());
  ASSERT_TRUE(a_->AddFace("bob", Descriptor(3), "").ok());
  EXPECT_TRUE(on_b.WaitFor([&] { return on_b.gallery > before; }));
  std::lock_guard l(on_b.mu);
  EXPECT_EQ(on_b.gallery, before + 1);
}

TEST_F(ClusterRecords, ANodeOutlivesItsDatabase) {
  ASSERT_TRUE(a_->AddFace("ada", Descriptor(1), "").ok());
  Metrics metrics;
  Heard on_b;
  cluster::ChangeListener listen_b(pg_.url("shared"), "b", on_b.Callbacks(), metrics);
  ASSERT_TRUE(on_b.WaitFor([&] { return on_b.connected == 1; }));

  pg_.Stop();
  const Status down = a_->AddFace("bob", Descriptor(2), "").status();
  EXPECT_TRUE(down.IsUnavailable() || down.code() == Status::Code::kTimeout) << down.ToString();
  store::EventRecord e;
  e.type = "device_online";
  EXPECT_FALSE(b_->AppendEvent(&e, "").ok());

  ASSERT_TRUE(pg_.Start());
  // The records connect again on their next call; the listener reconnects and says so, for a reload.
  EXPECT_TRUE(testing::WaitFor([&] { return a_->AddFace("bob", Descriptor(2), "").ok(); }, std::chrono::seconds(10)));
  EXPECT_TRUE(on_b.WaitFor([&] { return on_b.connected == 2; }));
  auto gallery = b_->LoadGallery();
  ASSERT_TRUE(gallery.ok()) << gallery.status().ToString();
  EXPECT_EQ(gallery.value().size(), 2u);
}

TEST(ClusterRecordsAlone, RecordsOpenedBeforeTheDatabaseWorkOnceItIsThere) {
  testing::PostgresServer pg;
  ASSERT_FALSE(pg.url().empty());
  ASSERT_TRUE(pg.CreateDatabase("later"));
  pg.Stop();
  auto records = cluster::OpenPgRecords(pg.url("later"), "a");
  EXPECT_FALSE(records->LoadGallery().ok());
  ASSERT_TRUE(pg.Start());
  auto gallery = records->LoadGallery();  // connects, and creates the schema on the way
  ASSERT_TRUE(gallery.ok()) << gallery.status().ToString();
  EXPECT_TRUE(gallery.value().empty());
}

}  // namespace
}  // namespace iotstream
