// Strangers against a real event log: unnamed faces are grouped by identity, faces the gallery names drop out, and
// "this is ..." on an event enrols its face (and corrects a wrong match).
#include "events/strangers.h"

#include <gtest/gtest.h>

#include <random>

#include "events/events.h"
#include "events/schema.h"
#include "support/test_support.h"

namespace iotstream::events {
namespace {

// A face of identity `who`: a fixed point per identity (about 1.0 apart) plus a little noise per sighting.
std::vector<float> FaceOf(int who, uint32_t sighting) {
  std::mt19937 centre(static_cast<uint32_t>(who)), noise(static_cast<uint32_t>(who * 1000 + sighting));
  std::normal_distribution<float> n(0, 1);
  std::vector<float> d(vision::kDescriptorSize);
  for (auto& v : d) v = n(centre) * 0.0625f;  // |centre| ~ 0.7
  for (auto& v : d) v += n(noise) * 0.01f;    // |noise| ~ 0.11
  return d;
}

class StrangersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = store::Records::Open(dir_.path().string());
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    records_ = std::move(opened).value();
    hub_ = std::make_unique<EventHub>(EventOptions{}, *records_, gallery_, registry_, bus_, metrics_);
    auto alice = records_->AddFace("alice", FaceOf(100, 1), "");
    ASSERT_TRUE(alice.ok());
    alice_ = alice.value().person_id;
    vision::Descriptor d{};
    std::copy(alice.value().descriptor.begin(), alice.value().descriptor.end(), d.begin());
    ASSERT_TRUE(gallery_.AddFace(alice_, "alice", alice.value().face_id, d).ok());
  }
  int64_t Sighting(const char* type, int who, uint32_t sighting, const std::string& device, int64_t ts_ms,
                   int box = 80) {
    store::EventRecord e;
    e.type = type;
    e.ts_ms = ts_ms;
    e.device_id = device;
    e.box_w = e.box_h = box;
    e.descriptor = FaceOf(who, sighting);
    if (std::string(type) == type::kPersonRecognised) {
      e.person_id = alice_;
      e.name = "alice";
    }
    EXPECT_TRUE(records_->AppendEvent(&e, "jpeg of " + std::to_string(who)).ok());
    return e.id;
  }

  testing::TempDir dir_;
  std::unique_ptr<store::Records> records_;
  vision::Gallery gallery_;
  ingest::DeviceRegistry registry_{{.offline_after_ms = 10'000}};
  EventBus bus_;
  Metrics metrics_;
  std::unique_ptr<EventHub> hub_;
  int64_t alice_ = 0;
  const int64_t now_ = 10 * 24 * 3600 * 1000LL;
};

TEST(ClusterFacesTest, GroupsNearFacesAndKeepsAFarOneAlone) {
  std::vector<vision::Descriptor> faces;
  for (int who : {1, 2, 1, 3, 2, 1}) {
    vision::Descriptor d{};
    const auto v = FaceOf(who, static_cast<uint32_t>(faces.size()));
    std::copy(v.begin(), v.end(), d.begin());
    faces.push_back(d);
  }
  EXPECT_EQ(vision::ClusterFaces(faces), (std::vector<size_t>{0, 1, 0, 2, 1, 0}));
  EXPECT_TRUE(vision::ClusterFaces({}).empty());
}

TEST_F(StrangersTest, UnnamedFacesAreGroupedByIdentityNewestGroupFirst) {
  const int64_t a1 = Sighting(type::kUnknownFace, 1, 1, "door", now_ - 5000, 60);
  const int64_t b1 = Sighting(type::kUnknownFace, 2, 1, "yard", now_ - 4000);
  const int64_t a2 = Sighting(type::kUnknownFace, 1, 2, "door", now_ - 3000, 120);
  const int64_t a3 = Sighting(type::kUnknownFace, 1, 3, "yard", now_ - 2000, 90);
  Sighting(type::kUnknownFace, 3, 1, "door", now_ - 8 * 24 * 3600 * 1000LL);  // outside the week
  StrangerOptions options;
  options.best_faces = 2;
  auto found = FindStrangers(*records_, gallery_, options, now_);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  ASSERT_EQ(found.value().size(), 2u);
  const Stranger& a = found.value()[0];
  EXPECT_EQ(a.id, a1);
  EXPECT_EQ(a.event_ids, (std::vector<int64_t>{a3, a2, a1}));
  EXPECT_EQ(a.best_event_ids, (std::vector<int64_t>{a2, a3}));  // the largest faces
  EXPECT_EQ(a.first_seen_ms, now_ - 5000);
  EXPECT_EQ(a.last_seen_ms, now_ - 2000);
  EXPECT_EQ(a.cameras, (std::vector<std::pair<std::string, size_t>>{{"door", 2}, {"yard", 1}}));
  EXPECT_EQ(found.value()[1].id, b1);
  EXPECT_EQ(found.value()[1].event_ids.size(), 1u);
}

TEST_F(StrangersTest, AWrongMatchIsAStrangerAndAnEnrolledFaceIsNot) {
  const int64_t wrong = Sighting(type::kPersonRecognised, 4, 1, "door", now_ - 3000);
  Sighting(type::kPersonRecognised, 5, 1, "door", now_ - 2000);  // no feedback: a match, not a stranger
  ASSERT_TRUE(hub_->Feedback(wrong, false).ok());
  const int64_t unknown = Sighting(type::kUnknownFace, 6, 1, "door", now_ - 1000);
  auto found = FindStrangers(*records_, gallery_, StrangerOptions{}, now_);
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found.value().size(), 2u);
  EXPECT_EQ(found.value()[0].id, unknown);
  EXPECT_EQ(found.value()[1].id, wrong);

  auto added = hub_->EnrolFromEvent(unknown, "bob");
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_TRUE(added.value().new_person);
  EXPECT_EQ(records_->ReadFaceThumbnail(added.value().face_id).value(), "jpeg of 6");
  found = FindStrangers(*records_, gallery_, StrangerOptions{}, now_);
  ASSERT_EQ(found.value().size(), 1u) << "bob is named now";
  EXPECT_EQ(found.value()[0].id, wrong);
}

TEST_F(StrangersTest, ThisIsSomeoneElseCorrectsTheMatchAndEnrols) {
  const int64_t e = Sighting(type::kPersonRecognised, 7, 1, "door", now_ - 1000);
  auto added = hub_->EnrolFromEvent(e, "carol");
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_EQ(added.value().name, "carol");
  EXPECT_EQ(records_->GetEvent(e).value().feedback_correct, false);
  EXPECT_EQ(gallery_.negative_count(), 1u) << "the face is now a negative example of alice";
  vision::Descriptor d{};
  const auto v = FaceOf(7, 2);
  std::copy(v.begin(), v.end(), d.begin());
  EXPECT_EQ(gallery_.Identify(d).name, "carol");

  // A match of someone deleted since is still a face to enrol.
  const int64_t stale = Sighting(type::kPersonRecognised, 8, 1, "door", now_ - 500);
  ASSERT_TRUE(records_->DeletePerson(alice_).ok());
  ASSERT_TRUE(gallery_.RemovePerson(alice_).ok());
  auto erin = hub_->EnrolFromEvent(stale, "erin");
  ASSERT_TRUE(erin.ok()) << erin.status().ToString();
  EXPECT_EQ(records_->GetEvent(stale).value().feedback_correct, false);

  EXPECT_TRUE(hub_->EnrolFromEvent(9999, "dave").status().IsNotFound());
  store::EventRecord device = DeviceEvent(type::kDeviceOnline, "door", now_, nullptr);
  ASSERT_TRUE(records_->AppendEvent(&device, "").ok());
  EXPECT_TRUE(hub_->EnrolFromEvent(device.id, "dave").status().IsInvalidArgument());
  EXPECT_TRUE(hub_->EnrolFromEvent(e, "").status().IsInvalidArgument());
}

}  // namespace
}  // namespace iotstream::events
