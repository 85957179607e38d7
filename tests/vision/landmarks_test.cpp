// LandmarkPredictor (src/vision/landmarks.h) against dlib's shape_predictor with the same model file: exactly the
// same 68 landmarks for the faces dlib's detector finds in the labelled photos of ../shared/faces, and for boxes
// that reach past the image's edges; a file that is not a shape predictor is InvalidArgument.
#include "vision/landmarks.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include <dlib/image_io.h>
#include <dlib/image_processing.h>
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/image_transforms.h>

#include "vision/vision.h"
#include "vision_test_util.h"

namespace iotstream::vision {
namespace {

using testing::FacesDir;

class LandmarksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string path = EngineOptions().shape_predictor_path;
    std::ifstream in(path, std::ios::binary);
    if (!in) GTEST_SKIP() << "no " << path << " (apt-get install libdlib-data)";
    dlib::deserialize(reference_, in);
    in.clear();
    in.seekg(0);
    Result<LandmarkPredictor> loaded = LandmarkPredictor::Load(in);
    ASSERT_TRUE(loaded.ok()) << loaded.status().message();
    predictor_ = std::make_unique<LandmarkPredictor>(std::move(loaded).value());
  }

  // Returns whether every landmark is the same.
  bool ExpectSameLandmarks(const dlib::array2d<unsigned char>& image, const dlib::rectangle& box) {
    const dlib::full_object_detection want = reference_(image, box);
    const dlib::full_object_detection got = (*predictor_)(image, box);
    EXPECT_EQ(got.get_rect(), want.get_rect());
    EXPECT_EQ(got.num_parts(), want.num_parts());
    bool same = got.num_parts() == want.num_parts();
    for (unsigned long i = 0; same && i < want.num_parts(); ++i) {
      EXPECT_EQ(got.part(i), want.part(i)) << "landmark " << i << " in " << box;
      same = got.part(i) == want.part(i);
    }
    return same;
  }

  dlib::shape_predictor reference_;
  std::unique_ptr<LandmarkPredictor> predictor_;
};

TEST_F(LandmarksTest, SameLandmarksAsDlibOnThePhotos) {
  const std::vector<std::filesystem::path> photos = testing::ManifestPhotos();
  if (photos.empty()) GTEST_SKIP() << "no " << FacesDir() / "MANIFEST.tsv" << " (set IOTSTREAM_FACES_DIR)";
  dlib::frontal_face_detector detector = dlib::get_frontal_face_detector();
  size_t faces = 0;
  // Every third photo: enough faces (tens) to cover the model's trees widely, in a few seconds.
  for (size_t i = 0; i < photos.size(); i += 3) {
    SCOPED_TRACE(photos[i].filename().string());
    dlib::array2d<unsigned char> image;
    dlib::load_image(image, photos[i].string());
    const long width = std::min(640L, image.nc());
    dlib::array2d<unsigned char> scaled(std::max(1L, image.nr() * width / image.nc()), width);
    dlib::resize_image(image, scaled);
    for (const dlib::rectangle& face : detector(scaled)) {
      ++faces;
      if (!ExpectSameLandmarks(scaled, face)) return;
    }
  }
  EXPECT_GT(faces, photos.size() / 6) << "the photos should hold faces for this test to mean anything";
}

TEST_F(LandmarksTest, SameLandmarksForBoxesPastTheEdges) {
  dlib::array2d<unsigned char> noise(120, 160);
  dlib::rand rnd(3);
  for (long r = 0; r < noise.nr(); ++r)
    for (long c = 0; c < noise.nc(); ++c) noise[r][c] = static_cast<unsigned char>(rnd.get_random_32bit_number());
  for (const dlib::rectangle& box : {dlib::rectangle(-40, -30, 60, 70), dlib::rectangle(100, 50, 220, 170),
                                     dlib::rectangle(10, 10, 17, 17), dlib::rectangle(0, 0, 159, 119)}) {
    if (!ExpectSameLandmarks(noise, box)) return;
  }
}

TEST(LandmarkPredictorTest, NotAShapePredictorIsInvalidArgument) {
  std::istringstream empty(""), other("this is no dlib file at all");
  EXPECT_TRUE(LandmarkPredictor::Load(empty).status().IsInvalidArgument());
  EXPECT_TRUE(LandmarkPredictor::Load(other).status().IsInvalidArgument());
}

}  // namespace
}  // namespace iotstream::vision
