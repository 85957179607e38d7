// FaceTracker: which faces continue a track, when a descriptor is reused, and when a camera counts as settled.
#include "vision/tracker.h"

#include <gtest/gtest.h>

namespace iotstream::vision {
namespace {

Face FaceAt(int x, int y, int size) {
  Face f;
  f.box = Box{x, y, size, size};
  return f;
}

Descriptor Desc(float v) {
  Descriptor d{};
  d[0] = v;
  return d;
}

// Runs one recognition through the tracker: faces described get `described`, every face gets `person`.
std::vector<RecognizedFace> Step(FaceTracker& t, std::vector<Face> faces, int64_t now, const Descriptor& described,
                                 std::optional<int64_t> person, std::vector<FaceTracker::Step>* steps_out = nullptr) {
  auto steps = t.Plan(faces, now);
  std::vector<RecognizedFace> rec;
  for (size_t i = 0; i < faces.size(); ++i) {
    faces[i].descriptor = steps[i].describe ? described : t.descriptor(*steps[i].track);
    Match m;
    m.person_id = person;
    rec.push_back(RecognizedFace{faces[i], m});
  }
  t.Commit(steps, &rec, now);
  if (steps_out) *steps_out = steps;
  return rec;
}

TEST(FaceTracker, ANamedFaceInPlaceIsNotDescribedAgainAndContinues) {
  FaceTracker t;
  auto first = Step(t, {FaceAt(100, 100, 80)}, 0, Desc(0), 7);
  EXPECT_FALSE(first[0].continued);
  EXPECT_TRUE(t.Settled(0));
  std::vector<FaceTracker::Step> steps;
  auto again = Step(t, {FaceAt(105, 102, 80)}, 500'000, Desc(0), 7, &steps);
  ASSERT_TRUE(steps[0].track.has_value());
  EXPECT_FALSE(steps[0].describe);
  EXPECT_TRUE(again[0].continued);
}

TEST(FaceTracker, AClearlyLargerFaceIsDescribedAgain) {
  FaceTracker t;
  (void)Step(t, {FaceAt(100, 100, 80)}, 0, Desc(0), 7);
  std::vector<FaceTracker::Step> steps;
  (void)Step(t, {FaceAt(95, 95, 100)}, 100'000, Desc(0), 7, &steps);  // 1.56x the area
  ASSERT_TRUE(steps[0].track.has_value());
  EXPECT_TRUE(steps[0].describe);
}

TEST(FaceTracker, AnUnnamedFaceIsGivenUpOnAfterSomeDescriptorsAndSomeTime) {
  FaceTracker t;  // three descriptors and 2 s
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(t.Settled(i * 100'000)) << i;
    (void)Step(t, {FaceAt(100, 100, 80)}, i * 100'000, Desc(0), std::nullopt);
  }
  EXPECT_FALSE(t.Settled(300'000)) << "still young";
  for (int64_t now = 500'000; now < 2'000'000; now += 500'000) {
    std::vector<FaceTracker::Step> steps;
    (void)Step(t, {FaceAt(100, 100, 80)}, now, Desc(0), std::nullopt, &steps);
    EXPECT_TRUE(steps[0].describe) << now;
  }
  EXPECT_TRUE(t.Settled(2'000'000));
}

TEST(FaceTracker, AnotherPersonInTheSamePlaceStartsANewTrack) {
  FaceTracker t;
  (void)Step(t, {FaceAt(100, 100, 80)}, 0, Desc(0), 7);
  // Larger (so described) and far from the track's descriptor: someone else stepped in.
  auto other = Step(t, {FaceAt(95, 95, 110)}, 100'000, Desc(1.0f), 8);
  EXPECT_FALSE(other[0].continued);
  EXPECT_EQ(t.size(), 2u);
}

TEST(FaceTracker, TracksEndAfterTheTimeoutAndTheCameraIsNoLongerSettled) {
  FaceTracker t;
  (void)Step(t, {FaceAt(100, 100, 80)}, 0, Desc(0), 7);
  EXPECT_TRUE(t.Settled(1'000'000));
  EXPECT_FALSE(t.Settled(2'500'000));
  std::vector<FaceTracker::Step> steps;
  auto back = Step(t, {FaceAt(100, 100, 80)}, 2'500'000, Desc(0), 7, &steps);
  EXPECT_FALSE(steps[0].track.has_value());
  EXPECT_FALSE(back[0].continued) << "a new appearance";
}

TEST(FaceTracker, AFaceKeepsItsTracksIdAndOnlyAClearlyLargerOneIsBetter) {
  FaceTracker t;
  auto first = Step(t, {FaceAt(100, 100, 80)}, 0, Desc(0), 7);
  ASSERT_NE(first[0].track_id, 0u);
  EXPECT_FALSE(first[0].better);
  auto larger = Step(t, {FaceAt(95, 95, 100)}, 100'000, Desc(0), 7);  // 1.56x the area: described, better
  EXPECT_EQ(larger[0].track_id, first[0].track_id);
  EXPECT_TRUE(larger[0].continued);
  EXPECT_TRUE(larger[0].better);
  auto same = Step(t, {FaceAt(96, 96, 100)}, 200'000, Desc(0), 7);  // not described again: not better
  EXPECT_TRUE(same[0].continued);
  EXPECT_FALSE(same[0].better);
  auto other = Step(t, {FaceAt(400, 100, 80)}, 300'000, Desc(0), 7);
  EXPECT_NE(other[0].track_id, first[0].track_id);
}

TEST(FaceTracker, ExpireReportsEachEndedTrackOnceWithItsTimesAndIdentity) {
  FaceTracker t;
  auto a = Step(t, {FaceAt(100, 100, 80)}, 0, Desc(0), 7);
  (void)Step(t, {FaceAt(100, 100, 80), FaceAt(400, 100, 80)}, 1'000'000, Desc(0), std::nullopt);
  EXPECT_TRUE(t.Expire(2'500'000).empty()) << "both seen within the timeout";
  EXPECT_TRUE(t.Live(2'500'000));
  EXPECT_EQ(t.LiveRegion(2'500'000)->w, 380) << "the box around both faces";
  // Plan ends a track too; Expire still reports it.
  (void)t.Plan({}, 3'100'000);
  const auto ended = t.Expire(3'100'000);
  ASSERT_EQ(ended.size(), 2u);
  EXPECT_EQ(ended[0].track_id, a[0].track_id);
  EXPECT_EQ(ended[0].first_seen_us, 0);
  EXPECT_EQ(ended[0].last_seen_us, 1'000'000);
  EXPECT_FALSE(ended[0].person_id.has_value()) << "the identity it had last";
  EXPECT_TRUE(t.Expire(3'200'000).empty());
  EXPECT_FALSE(t.Live(3'200'000));
  EXPECT_FALSE(t.LiveRegion(3'200'000).has_value());
}

TEST(FaceTracker, TwoFacesKeepTheirOwnTracks) {
  FaceTracker t;
  (void)Step(t, {FaceAt(100, 100, 80), FaceAt(400, 100, 80)}, 0, Desc(0), 7);
  std::vector<FaceTracker::Step> steps;
  (void)Step(t, {FaceAt(402, 101, 80), FaceAt(101, 99, 80)}, 100'000, Desc(0), 7, &steps);
  ASSERT_TRUE(steps[0].track && steps[1].track);
  EXPECT_NE(*steps[0].track, *steps[1].track);
}

}  // namespace
}  // namespace iotstream::vision
