// motion::SizeTrend and motion::Detector on generated JPEGs: a still scene with sensor noise is not motion, a
// shape entering it is, the mask and the sensitivity decide what counts.
#include "motion/motion.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "support/jpeg_encode.h"

namespace iotstream::motion {
namespace {

constexpr int kW = 640, kH = 480;

// A grey gradient with per-pixel noise of +-`noise` levels (seeded), and optionally a dark square.
std::string Frame(uint32_t seed, int noise, int square_x = -1, int square_y = 0, int square = 0) {
  std::vector<uint8_t> px(static_cast<size_t>(kW) * kH);
  for (int y = 0; y < kH; ++y) {
    for (int x = 0; x < kW; ++x) {
      seed = seed * 1664525u + 1013904223u;
      int v = 90 + 100 * y / kH + (noise > 0 ? static_cast<int>((seed >> 24) % (2 * noise + 1)) - noise : 0);
      if (square_x >= 0 && x >= square_x && x < square_x + square && y >= square_y && y < square_y + square) v = 20;
      px[static_cast<size_t>(y) * kW + x] = static_cast<uint8_t>(v);
    }
  }
  return ::iotstream::testing::EncodeJpeg(px, kW, kH, 1, 80);
}

Change Measure(Detector& d, const std::string& jpeg) {
  auto r = d.Measure(reinterpret_cast<const uint8_t*>(jpeg.data()), jpeg.size());
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? r.value() : Change{};
}

TEST(MotionDetector, StillNoisySceneIsNotMotionAndASquareIs) {
  Detector d(CameraSettings{});
  EXPECT_FALSE(Measure(d, Frame(1, 4)).motion);  // the first frame only sets the background
  for (uint32_t seed = 2; seed < 8; ++seed) EXPECT_FALSE(Measure(d, Frame(seed, 4)).motion) << seed;
  const Change c = Measure(d, Frame(9, 4, 200, 100, 160));
  EXPECT_TRUE(c.motion);
  // The box covers the square, to the 8-pixel cells the check works in.
  EXPECT_LE(c.x, 200);
  EXPECT_LE(c.y, 100);
  EXPECT_GE(c.x + c.w, 360);
  EXPECT_GE(c.y + c.h, 260);
  EXPECT_LE(c.x + c.w, 368 + 8);
}

TEST(MotionDetector, AFrameOfAnotherSizeIsMotionOverTheWholePicture) {
  Detector d(CameraSettings{});
  (void)Measure(d, Frame(1, 4));
  const std::string smaller = ::iotstream::testing::EncodeJpeg(std::vector<uint8_t>(320 * 240, 128), 320, 240, 1, 80);
  const Change c = Measure(d, smaller);
  EXPECT_TRUE(c.motion);
  EXPECT_EQ(c.x, 0);
  EXPECT_EQ(c.y, 0);
  EXPECT_EQ(c.w, 320);
  EXPECT_EQ(c.h, 240);
  EXPECT_FALSE(Measure(d, smaller).motion) << "the new size's picture is the background now";
}

TEST(MotionDetector, ChangesInsideTheMaskAreIgnored) {
  CameraSettings settings;
  settings.mask.push_back(Region{0.25, 0.15, 0.5, 0.5});  // 160..480 x 72..312 covers the square below
  Detector d(settings);
  (void)Measure(d, Frame(1, 4));
  EXPECT_FALSE(Measure(d, Frame(2, 4, 200, 100, 160)).motion);
  Detector unmasked(CameraSettings{});
  (void)Measure(unmasked, Frame(1, 4));
  EXPECT_TRUE(Measure(unmasked, Frame(2, 4, 200, 100, 160)).motion);
}

TEST(MotionDetector, SensitivityDecidesWhetherASmallChangeCounts) {
  CameraSettings low, high;
  low.sensitivity = 0.0;
  high.sensitivity = 1.0;
  Detector dull(low), keen(high);
  for (Detector* d : {&dull, &keen}) (void)Measure(*d, Frame(1, 2));
  const std::string small = Frame(2, 2, 300, 200, 40);  // about 0.5 % of the picture
  EXPECT_FALSE(Measure(dull, small).motion);
  EXPECT_TRUE(Measure(keen, small).motion);
}

TEST(MotionDetector, ASceneThatStaysChangedBecomesBackground) {
  Detector d(CameraSettings{});
  (void)Measure(d, Frame(1, 4));
  const std::string parked = Frame(2, 4, 200, 100, 160);
  EXPECT_TRUE(Measure(d, parked).motion);
  bool still = false;
  for (int i = 0; i < 1000 && !still; ++i) still = !Measure(d, parked).motion;
  EXPECT_TRUE(still) << "a change that stays is learnt into the background";
}

TEST(MotionDetector, NotAJpegIsAnError) {
  Detector d(CameraSettings{});
  const std::string junk = "not a jpeg at all";
  EXPECT_TRUE(d.Measure(reinterpret_cast<const uint8_t*>(junk.data()), junk.size()).status().IsInvalidArgument());
}

TEST(SizeTrend, JitterDoesNotDepartAJumpDoes) {
  SizeTrend t;
  int departs = 0;
  for (int i = 0; i < 40; ++i) departs += t.Departs(30'000 + (i % 5) * 25) ? 1 : 0;  // a 0.3 % jitter
  EXPECT_LE(departs, 4) << "only the first frames, while it learns";
  EXPECT_TRUE(t.Departs(30'350));  // +1 %, as a plain face walking into the picture
}

}  // namespace
}  // namespace iotstream::motion
