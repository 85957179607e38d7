// FaceEngine::DetectAndAlignIn: detection restricted to a camera's motion region finds the face there as the whole
// picture does, nothing outside it, and, doubled (a small region, or a larger one looked at closer), a face too small
// for the whole picture's scan.
#include <gtest/gtest.h>
#include <turbojpeg.h>

#include <algorithm>
#include <vector>

#include "support/jpeg_encode.h"
#include "vision/vision.h"
#include "vision_test_util.h"

namespace iotstream::vision {
namespace {

using testing::Bytes;
using testing::FacesDir;
using testing::ModelsDir;
using testing::ReadBytes;

std::unique_ptr<FaceEngine> OpenEngine() {
  EngineOptions o;
  o.models_dir = ModelsDir().string();
  auto r = FaceEngine::Open(o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : nullptr;
}

// `photo` shrunk to kShrink of its size (a quarter-scale decode, then nearest-pixel sampling) and pasted at (x, y)
// into a grey 640x480 JPEG; *pasted gets its rectangle.
constexpr double kShrink = 0.25 * 0.65;
std::string SmallFaceFrame(const std::string& photo, int x, int y, Box* pasted) {
  tjhandle d = tjInitDecompress();
  int w = 0, h = 0, sub = 0, cs = 0;
  EXPECT_EQ(tjDecompressHeader3(d, Bytes(photo), photo.size(), &w, &h, &sub, &cs), 0);
  const tjscalingfactor quarter{1, 4};
  const int qw = TJSCALED(w, quarter), qh = TJSCALED(h, quarter);
  std::vector<uint8_t> quarter_px(static_cast<size_t>(qw) * qh * 3);
  EXPECT_EQ(tjDecompress2(d, Bytes(photo), photo.size(), quarter_px.data(), qw, 0, qh, TJPF_RGB, 0), 0);
  tjDestroy(d);
  const int sw = static_cast<int>(w * kShrink), sh = static_cast<int>(h * kShrink);
  std::vector<uint8_t> small(static_cast<size_t>(sw) * sh * 3);
  for (int r = 0; r < sh; ++r) {
    for (int c = 0; c < sw; ++c) {
      const int qr = std::min(qh - 1, r * qh / sh), qc = std::min(qw - 1, c * qw / sw);
      for (int k = 0; k < 3; ++k) {
        small[(static_cast<size_t>(r) * sw + c) * 3 + k] = quarter_px[(static_cast<size_t>(qr) * qw + qc) * 3 + k];
      }
    }
  }
  constexpr int kW = 640, kH = 480;
  std::vector<uint8_t> canvas(static_cast<size_t>(kW) * kH * 3, 128);
  for (int r = 0; r < sh && y + r < kH; ++r) {
    for (int c = 0; c < sw && x + c < kW; ++c) {
      for (int k = 0; k < 3; ++k) {
        canvas[(static_cast<size_t>(y + r) * kW + x + c) * 3 + k] = small[(static_cast<size_t>(r) * sw + c) * 3 + k];
      }
    }
  }
  *pasted = Box{x, y, std::min(sw, kW - x), std::min(sh, kH - y)};
  return ::iotstream::testing::EncodeJpeg(canvas, kW, kH, 3, 90);
}

class RegionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    IOTSTREAM_SKIP_WITHOUT_MODELS();
    photo_ = ReadBytes(FacesDir() / "ageitgey_face_recognition/examples/obama.jpg");
    if (photo_.empty()) GTEST_SKIP() << "no obama.jpg in " << FacesDir();
    engine_ = OpenEngine();
    ASSERT_NE(engine_, nullptr);
    auto whole = engine_->DetectAndAlign(Bytes(photo_), photo_.size());
    ASSERT_TRUE(whole.ok());
    ASSERT_EQ(whole.value().size(), 1u);
    face_ = whole.value()[0];
  }
  std::string photo_;
  std::unique_ptr<FaceEngine> engine_;
  // The photo shrunk into a 640x480 frame at (300, 150) (*pasted), and where its face is there (*small_face).
  std::string SmallFaceScene(Box* pasted, Box* small_face) const {
    std::string frame = SmallFaceFrame(photo_, 300, 150, pasted);
    const auto shrink = [](int v) { return static_cast<int>(v * kShrink); };
    const Box& face = face_.box;  // in the photo's pixels; kShrink of it in the frame
    *small_face = Box{pasted->x + shrink(face.x), pasted->y + shrink(face.y), shrink(face.w), shrink(face.h)};
    return frame;
  }
  // `found` is centred on `face`, within a quarter of its size.
  static void ExpectCentredOn(const Box& found, const Box& face) {
    EXPECT_NEAR(found.x + found.w / 2, face.x + face.w / 2, face.w / 4);
    EXPECT_NEAR(found.y + found.h / 2, face.y + face.h / 2, face.h / 4);
  }

  Face face_;  // the photo's face as the whole picture's scan finds it
};

TEST_F(RegionTest, TheFaceInTheRegionIsFoundAsInTheWholePicture) {
  const Box b = face_.box;
  auto in = engine_->DetectAndAlignIn(Bytes(photo_), photo_.size(), b, /*closer=*/false);
  ASSERT_TRUE(in.ok());
  ASSERT_EQ(in.value().size(), 1u);
  const Box r = in.value()[0].box;
  EXPECT_NEAR(r.x + r.w / 2, b.x + b.w / 2, b.w / 8);
  EXPECT_NEAR(r.y + r.h / 2, b.y + b.h / 2, b.h / 8);
  EXPECT_NEAR(r.w, b.w, b.w / 4);
  auto d_whole = engine_->DescribeChip(face_.chip);
  auto d_in = engine_->DescribeChip(in.value()[0].chip);
  ASSERT_TRUE(d_whole.ok() && d_in.ok());
  EXPECT_LT(Distance(d_whole.value(), d_in.value()), 0.2f) << "the same face, aligned alike";
}

TEST_F(RegionTest, NothingIsFoundOutsideTheRegion) {
  const Box b = face_.box;
  // A region well below the face (the photo is 1137 high).
  auto in = engine_->DetectAndAlignIn(Bytes(photo_), photo_.size(), Box{0, b.y + b.h + 150, 300, 200}, false);
  ASSERT_TRUE(in.ok());
  EXPECT_TRUE(in.value().empty());
}

TEST_F(RegionTest, ASmallRegionIsDoubledAndFindsAFaceTheWholeScanMisses) {
  Box pasted, small_face;
  const std::string frame = SmallFaceScene(&pasted, &small_face);
  ASSERT_LT(small_face.w, 50) << "well under the detector's 80-px window at 1x";
  auto whole = engine_->DetectAndAlign(Bytes(frame), frame.size());
  ASSERT_TRUE(whole.ok());
  EXPECT_TRUE(whole.value().empty()) << "a " << small_face.w << "-px face is too small for the whole picture's scan";
  auto in = engine_->DetectAndAlignIn(Bytes(frame), frame.size(), small_face, false);
  ASSERT_TRUE(in.ok());
  ASSERT_EQ(in.value().size(), 1u);
  const Box r = in.value()[0].box;
  ExpectCentredOn(r, small_face);
}

TEST_F(RegionTest, ALargerRegionLookedAtCloserFindsTheSmallFaceItsUsualScanMisses) {
  Box pasted, small_face;
  const std::string frame = SmallFaceScene(&pasted, &small_face);
  // A person walking past: a third of the picture moved, too much to double on every look.
  const Box moved{pasted.x - 150, pasted.y - 50, 380, 260};
  ASSERT_GT(moved.w * moved.h * 4, 640 * 480);
  auto usual = engine_->DetectAndAlignIn(Bytes(frame), frame.size(), moved, /*closer=*/false);
  ASSERT_TRUE(usual.ok());
  EXPECT_TRUE(usual.value().empty()) << "a " << small_face.w << "-px face in a third of the picture";
  auto closer = engine_->DetectAndAlignIn(Bytes(frame), frame.size(), moved, /*closer=*/true);
  ASSERT_TRUE(closer.ok());
  ASSERT_EQ(closer.value().size(), 1u);
  const Box r = closer.value()[0].box;
  ExpectCentredOn(r, small_face);
  // The whole picture is never looked at closer: it would cost four whole scans.
  auto whole = engine_->DetectAndAlignIn(Bytes(frame), frame.size(), Box{0, 0, 640, 480}, /*closer=*/true);
  ASSERT_TRUE(whole.ok());
  EXPECT_TRUE(whole.value().empty());
}

}  // namespace
}  // namespace iotstream::vision
