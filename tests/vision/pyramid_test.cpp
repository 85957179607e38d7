// PyramidDown6 (src/vision/pyramid.h) against dlib::pyramid_down<6>: the same size and the same bytes, over every
// level of the detector's pyramid of each photo of ../shared/faces, and on noise, gradients and edges of many sizes
// (the vector part and the scalar tail of each row, rows and columns of 1-9 pixels).
#include "vision/pyramid.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include <dlib/image_io.h>
#include <dlib/image_transforms.h>

#include "vision_test_util.h"

namespace iotstream::vision {
namespace {

using testing::FacesDir;

// The number of pixels that differ; a size mismatch fails the test and counts every pixel.
long Differences(const dlib::array2d<unsigned char>& in, PyramidDown6& ours) {
  dlib::array2d<unsigned char> want, got;
  dlib::pyramid_down<6>()(in, want);
  ours(in, &got);
  EXPECT_EQ(got.nr(), want.nr());
  EXPECT_EQ(got.nc(), want.nc());
  if (got.nr() != want.nr() || got.nc() != want.nc()) return static_cast<long>(want.size());
  long differ = 0;
  for (long r = 0; r < want.nr(); ++r) {
    for (long c = 0; c < want.nc(); ++c) differ += got[r][c] != want[r][c];
  }
  return differ;
}

TEST(PyramidTest, SameBytesAsDlibOnEveryLevelOfThePhotos) {
  const std::vector<std::filesystem::path> photos = testing::ManifestPhotos();
  if (photos.empty()) GTEST_SKIP() << "no " << FacesDir() / "MANIFEST.tsv" << " (set IOTSTREAM_FACES_DIR)";
  PyramidDown6 ours;
  long levels = 0;
  for (const auto& path : photos) {
    SCOPED_TRACE(path.lexically_relative(FacesDir()).string());
    dlib::array2d<unsigned char> level, next;
    dlib::load_image(level, path.string());
    while (level.nr() >= 6 && level.nc() >= 6) {
      EXPECT_EQ(Differences(level, ours), 0) << "level " << levels << ", " << level.nr() << "x" << level.nc();
      dlib::pyramid_down<6>()(level, next);
      dlib::swap(level, next);
      ++levels;
    }
  }
  EXPECT_GT(levels, 0);
}

TEST(PyramidTest, SameBytesAsDlibOnSyntheticImagesOfManySizes) {
  dlib::rand rnd(5);
  PyramidDown6 ours;  // one instance throughout: its tables must follow each new size
  long checked = 0;
  for (int i = 0; i < 240; ++i) {
    const long rows = 1 + rnd.get_random_32bit_number() % (i < 60 ? 12 : 500);
    const long cols = 1 + rnd.get_random_32bit_number() % (i < 60 ? 12 : 700);
    dlib::array2d<unsigned char> image(rows, cols);
    for (long r = 0; r < rows; ++r) {
      for (long c = 0; c < cols; ++c) {
        switch (i % 3) {
          case 0: image[r][c] = static_cast<unsigned char>(rnd.get_random_32bit_number()); break;
          case 1: image[r][c] = static_cast<unsigned char>(r * 7 + c * 13); break;
          default: image[r][c] = ((r / 5 + c / 3) % 2) ? 255 : 0; break;
        }
      }
    }
    SCOPED_TRACE(std::to_string(rows) + "x" + std::to_string(cols));
    EXPECT_EQ(Differences(image, ours), 0);
    checked += rows * cols;
  }
  EXPECT_GT(checked, 0);
}

}  // namespace
}  // namespace iotstream::vision
