// FhogScanner (src/vision/fhog_scanner.h) against dlib's frontal_face_detector itself: the same detections, in the
// same order, with the same sub-detector and (up to float rounding) the same confidence, on the labelled photos of
// ../shared/faces at their own size and scaled to odd widths, and on noise at a low threshold (many hits, much
// non-max suppression).
#include "vision/fhog_scanner.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <dlib/image_io.h>
#include <dlib/image_transforms.h>

#include "vision_test_util.h"

namespace iotstream::vision {
namespace {

using testing::FacesDir;

// Returns how many detections dlib found.
size_t ExpectSameDetections(const dlib::array2d<unsigned char>& image, double adjust, const std::string& what) {
  static dlib::frontal_face_detector reference = dlib::get_frontal_face_detector();
  static FhogScanner scanner(reference);
  SCOPED_TRACE(what + " " + std::to_string(image.nc()) + "x" + std::to_string(image.nr()) + " adjust " +
               std::to_string(adjust));
  std::vector<dlib::rect_detection> want, got;
  reference(image, want, adjust);
  scanner.Detect(image, adjust, &got);
  EXPECT_EQ(got.size(), want.size());
  if (got.size() != want.size()) return want.size();
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].rect, want[i].rect) << "detection " << i;
    EXPECT_EQ(got[i].weight_index, want[i].weight_index) << "detection " << i;
    EXPECT_NEAR(got[i].detection_confidence, want[i].detection_confidence, 1e-4) << "detection " << i;
  }
  return want.size();
}

TEST(FhogScannerTest, SameDetectionsAsDlibOnThePhotos) {
  const std::vector<std::filesystem::path> photos = testing::ManifestPhotos();
  if (photos.empty()) GTEST_SKIP() << "no " << FacesDir() / "MANIFEST.tsv" << " (set IOTSTREAM_FACES_DIR)";
  size_t faces = 0;
  for (size_t i = 0; i < photos.size(); ++i) {
    dlib::array2d<unsigned char> image;
    dlib::load_image(image, photos[i].string());
    // At most the engine's default detection width, and every third photo also at a width that leaves other
    // remainders of the 32-column blocks at each pyramid level.
    for (long width : {std::min(640L, image.nc()), i % 3 == 0 ? 333L : 0L}) {
      if (width == 0) continue;
      dlib::array2d<unsigned char> scaled(std::max(1L, image.nr() * width / image.nc()), width);
      dlib::resize_image(image, scaled);
      const size_t found = ExpectSameDetections(scaled, width == 333 ? -0.3 : 0.0, photos[i].filename().string());
      if (width != 333) faces += found;
    }
  }
  EXPECT_GT(faces, photos.size() / 2) << "the photos should hold faces for this test to mean anything";
}

TEST(FhogScannerTest, SameDetectionsAsDlibOnNoiseAtALowThreshold) {
  dlib::rand rnd(7);
  for (long width : {81L, 160L, 257L, 640L}) {
    dlib::array2d<unsigned char> image(width * 3 / 4, width);
    for (long r = 0; r < image.nr(); ++r) {
      for (long c = 0; c < image.nc(); ++c) image[r][c] = static_cast<unsigned char>(rnd.get_random_32bit_number());
    }
    ExpectSameDetections(image, -1.5, "noise");
  }
}

TEST(FhogScannerTest, ImagesSmallerThanTheWindowAsDlib) {
  // dlib scans windows that reach past the image's edges: a tiny image still has candidate windows.
  dlib::rand rnd(11);
  for (long width : {9L, 17L, 40L}) {
    dlib::array2d<unsigned char> image(width, width + 3);
    for (long r = 0; r < image.nr(); ++r) {
      for (long c = 0; c < image.nc(); ++c) image[r][c] = static_cast<unsigned char>(rnd.get_random_32bit_number());
    }
    ExpectSameDetections(image, -3.0, "tiny noise");
  }
}

TEST(FhogScannerTest, AnEmptyImageHasNoDetections) {
  FhogScanner scanner(dlib::get_frontal_face_detector());
  std::vector<dlib::rect_detection> dets{dlib::rect_detection{}};
  dlib::array2d<unsigned char> empty;
  scanner.Detect(empty, -5.0, &dets);
  EXPECT_TRUE(dets.empty());
}

}  // namespace
}  // namespace iotstream::vision
