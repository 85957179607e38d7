#include "ingest/multipart.h"

#include <gtest/gtest.h>

namespace iotstream::ingest {
namespace {

TEST(MultipartBoundary, PlainQuotedAndMissing) {
  EXPECT_EQ(MultipartBoundary("multipart/form-data; boundary=abc123").value(), "abc123");
  EXPECT_EQ(MultipartBoundary("multipart/form-data; charset=utf-8; boundary=\"a b;c\"").value(), "a b;c");
  EXPECT_EQ(MultipartBoundary("Multipart/Form-Data;BOUNDARY=XyZ").value(), "XyZ");
  EXPECT_TRUE(MultipartBoundary("multipart/form-data").status().IsInvalidArgument());
  EXPECT_TRUE(MultipartBoundary("image/jpeg; boundary=x").status().IsInvalidArgument());
}

TEST(ParseMultipart, SeveralPartsWithBinaryData) {
  const std::string jpeg("\xFF\xD8\r\n--notquite\r\n\x00\xFF\xD9", 19);
  const std::string body = "--XX\r\nContent-Disposition: form-data; name=\"device_id\"\r\n\r\ncam-1\r\n"
                           "--XX\r\nContent-Disposition: form-data; name=\"image\"; filename=\"f.jpg\"\r\n"
                           "Content-Type: image/jpeg\r\n\r\n" + jpeg + "\r\n--XX--\r\n";
  auto parts = ParseMultipart(body, "XX");
  ASSERT_TRUE(parts.ok()) << parts.status().ToString();
  ASSERT_EQ(parts.value().size(), 2u);
  EXPECT_EQ(parts.value()[0].name, "device_id");
  EXPECT_EQ(parts.value()[0].data, "cam-1");
  EXPECT_EQ(parts.value()[1].name, "image");
  EXPECT_EQ(parts.value()[1].filename, "f.jpg");
  EXPECT_EQ(parts.value()[1].content_type, "image/jpeg");
  EXPECT_EQ(parts.value()[1].data, jpeg);
}

TEST(ParseMultipart, OddBoundaryPreambleAndBareLf) {
  const std::string b = "----WebKitFormBoundary7MA4YWxk'()+_,-./:=?";
  const std::string body = "preamble to ignore\r\n--" + b + "\nContent-Disposition: form-data; name=\"file\"\n\nDATA\n--" +
                           b + "--";
  auto parts = ParseMultipart(body, b);
  ASSERT_TRUE(parts.ok()) << parts.status().ToString();
  ASSERT_EQ(parts.value().size(), 1u);
  EXPECT_EQ(parts.value()[0].name, "file");
  EXPECT_EQ(parts.value()[0].data, "DATA");
}

TEST(ParseMultipart, EmptyPartAndNoParts) {
  auto empty = ParseMultipart("--b\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\n\r\n--b--\r\n", "b");
  ASSERT_TRUE(empty.ok());
  ASSERT_EQ(empty.value().size(), 1u);
  EXPECT_EQ(empty.value()[0].data, "");
  auto none = ParseMultipart("--b--\r\n", "b");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none.value().empty());
}

TEST(ParseMultipart, MalformedBodiesAreInvalidArgument) {
  EXPECT_TRUE(ParseMultipart("no boundary here", "b").status().IsInvalidArgument());
  // never closed
  EXPECT_TRUE(ParseMultipart("--b\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\nDATA", "b")
                  .status()
                  .IsInvalidArgument());
  // no blank line after the headers
  EXPECT_TRUE(ParseMultipart("--b\r\nContent-Disposition: form-data; name=\"image\"", "b").status().IsInvalidArgument());
}

// The one rule camera ingest and the recognition API share: "image", else "file", else "frame", whatever the
// order of the parts; the form fields come along.
TEST(FindImage, MultipartPrefersImageThenFileThenFrame) {
  const std::string body = "--b\r\nContent-Disposition: form-data; name=\"frame\"\r\n\r\nF\r\n"
                           "--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nL\r\n"
                           "--b\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nAda\r\n"
                           "--b\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\nI\r\n--b--\r\n";
  auto found = FindImage(body, "multipart/form-data; boundary=b");
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(found.value().image, "I");
  EXPECT_EQ(found.value().Field("name"), "Ada");
  EXPECT_EQ(found.value().Field("missing"), "");
  const std::string no_image = "--b\r\nContent-Disposition: form-data; name=\"frame\"\r\n\r\nF\r\n"
                               "--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nL\r\n--b--\r\n";
  EXPECT_EQ(FindImage(no_image, "multipart/form-data; boundary=b").value().image, "L");
}

TEST(FindImage, RawBodiesByMediaType) {
  for (const char* type : {"image/jpeg", "image/png", "Image/JPEG; q=1", "application/octet-stream", ""}) {
    auto found = FindImage("BYTES", type);
    ASSERT_TRUE(found.ok()) << type;
    EXPECT_EQ(found.value().image, "BYTES");
    EXPECT_TRUE(found.value().form.empty());
  }
  EXPECT_TRUE(FindImage("BYTES", "text/plain").status().IsUnsupported());
  EXPECT_TRUE(FindImage("BYTES", "application/json").status().IsUnsupported());
}

TEST(FindImage, MultipartWithoutAnImagePartSaysWhichNamesCount) {
  auto found = FindImage("--b\r\nContent-Disposition: form-data; name=\"photo\"\r\n\r\nP\r\n--b--\r\n",
                         "multipart/form-data; boundary=b");
  ASSERT_TRUE(found.status().IsInvalidArgument());
  EXPECT_NE(found.status().message().find("'frame'"), std::string::npos);
  EXPECT_TRUE(FindImage("--b\r\n", "multipart/form-data").status().IsInvalidArgument());
}

}  // namespace
}  // namespace iotstream::ingest
