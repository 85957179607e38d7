#include "ingest/jpeg.h"

#include <gtest/gtest.h>

#include "support/test_support.h"

namespace iotstream::ingest {
namespace {

using iotstream::testing::FaceJpeg;

TEST(InspectJpeg, RealPhotoGivesItsSize) {
  const std::string jpeg = FaceJpeg("ageitgey_face_recognition/examples/obama-480p.jpg");
  if (jpeg.empty()) GTEST_SKIP() << "IOTSTREAM_FACES_DIR not set";
  auto info = InspectJpeg(jpeg);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info.value().width, 853);
  EXPECT_EQ(info.value().height, 480);
  // Zero padding after EOI (some camera firmwares send it) is accepted.
  EXPECT_TRUE(InspectJpeg(jpeg + std::string(16, '\0')).ok());
}

TEST(InspectJpeg, RejectsEmptyNotJpegTruncatedAndCorrupt) {
  const std::string jpeg = FaceJpeg("ageitgey_face_recognition/examples/obama-480p.jpg");
  if (jpeg.empty()) GTEST_SKIP() << "IOTSTREAM_FACES_DIR not set";
  EXPECT_TRUE(InspectJpeg("").status().IsInvalidArgument());
  EXPECT_NE(InspectJpeg("GIF89a....").status().message().find("not a JPEG"), std::string::npos);
  auto truncated = InspectJpeg(jpeg.substr(0, jpeg.size() / 2));
  EXPECT_NE(truncated.status().message().find("truncated"), std::string::npos);
  // Right markers, garbage inside.
  std::string corrupt = "\xFF\xD8" + std::string(100, 'x') + "\xFF\xD9";
  auto bad = InspectJpeg(corrupt);
  EXPECT_NE(bad.status().message().find("corrupt"), std::string::npos) << bad.status().ToString();
  const std::string png = FaceJpeg("ageitgey_face_recognition/examples/alex-lacamoire.png");
  EXPECT_TRUE(InspectJpeg(png).status().IsInvalidArgument());
}

}  // namespace
}  // namespace iotstream::ingest
