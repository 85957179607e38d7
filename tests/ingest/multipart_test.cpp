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
  EXPECT_TRUE(ParseMultipart("--b", "b").status().IsInvalidArgument());  // ends inside the boundary line
}

// What firmwares get wrong while the part boundaries stay sound.
TEST(ParseMultipart, ToleratesAMissingClosingDelimiterAndAMissingHeaderEnd) {
  auto unclosed = ParseMultipart("--b\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\nDATA\r\n", "b");
  ASSERT_TRUE(unclosed.ok()) << unclosed.status().ToString();
  ASSERT_EQ(unclosed.value().size(), 1u);
  EXPECT_EQ(unclosed.value()[0].name, "image");
  EXPECT_EQ(unclosed.value()[0].data, "DATA");
  // No blank line after the headers: the first line that is not a header starts the data.
  auto headless = ParseMultipart("--b\r\nContent-Type: image/jpeg\r\nDATA\r\n--b\r\n"
                                 "Content-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--b--\r\n", "b");
  ASSERT_TRUE(headless.ok()) << headless.status().ToString();
  ASSERT_EQ(headless.value().size(), 2u);
  EXPECT_EQ(headless.value()[0].content_type, "image/jpeg");
  EXPECT_EQ(headless.value()[0].data, "DATA");
  EXPECT_EQ(headless.value()[1].name, "x");  // the next part's header end is not taken for the first's
  EXPECT_EQ(headless.value()[1].data, "1");
}

// The one rule camera ingest and the recognition API share: "image", else "file", else "frame", whatever the
// order of the parts; the form fields come along.
TEST(FindImage, MultipartPrefersImageThenFileThenFrame) {
  const std::string body = "--b\r\nContent-Disposition: form-data; name=\"frame\"\r\n\r\nF\r\n"
                           "--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nL\r\n"
                           "--b\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nAda\r\n"
                           "--b\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\nI\r\n--b--\r\n";
  auto found = FindImage(body, "multipart/form-data; boundary=b", ImageKind::kJpeg);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(found.value().image, "I");
  EXPECT_EQ(found.value().Field("name"), "Ada");
  EXPECT_EQ(found.value().Field("missing"), "");
  const std::string no_image = "--b\r\nContent-Disposition: form-data; name=\"frame\"\r\n\r\nF\r\n"
                               "--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nL\r\n--b--\r\n";
  EXPECT_EQ(FindImage(no_image, "multipart/form-data; boundary=b", ImageKind::kJpeg).value().image, "L");
}

TEST(FindImage, RawBodiesByMediaType) {
  for (const char* type : {"image/jpeg", "image/png", "Image/JPEG; q=1", "application/octet-stream", ""}) {
    auto found = FindImage("BYTES", type, ImageKind::kJpeg);
    ASSERT_TRUE(found.ok()) << type;
    EXPECT_EQ(found.value().image, "BYTES");
    EXPECT_TRUE(found.value().form.empty());
  }
  EXPECT_TRUE(FindImage("BYTES", "text/plain", ImageKind::kJpeg).status().IsUnsupported());
  EXPECT_TRUE(FindImage("BYTES", "application/json", ImageKind::kJpeg).status().IsUnsupported());
}

TEST(FindImage, MultipartWithoutAnImagePartSaysWhichNamesCount) {
  auto found = FindImage("--b\r\nContent-Disposition: form-data; name=\"photo\"\r\n\r\nP\r\n--b--\r\n",
                         "multipart/form-data; boundary=b", ImageKind::kJpeg);
  ASSERT_TRUE(found.status().IsInvalidArgument());
  EXPECT_NE(found.status().message().find("'frame'"), std::string::npos);
  EXPECT_TRUE(FindImage("--b\r\n", "multipart/form-data", ImageKind::kJpeg).status().IsInvalidArgument());
}

const std::string kJpegBytes("\xFF\xD8\xFF\xE0JFIF-ish\xFF\xD9", 14);
const std::string kPngBytes("\x89PNG\r\n\x1A\n....", 12);

// The bytes decide: a JPEG body is the image under any content type, and a multipart body is recognised by its
// own first line when the Content-Type is wrong.
TEST(FindImage, AJpegBodyIsTheImageWhateverTheContentType) {
  for (const char* type : {"application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=z", ""}) {
    auto found = FindImage(kJpegBytes, type, ImageKind::kJpeg);
    ASSERT_TRUE(found.ok()) << type << ": " << found.status().ToString();
    EXPECT_EQ(found.value().image, kJpegBytes);
  }
  EXPECT_TRUE(FindImage(kPngBytes, "text/plain", ImageKind::kJpeg).status().IsUnsupported());
  EXPECT_EQ(FindImage(kPngBytes, "text/plain", ImageKind::kJpegOrPng).value().image, kPngBytes);
}

TEST(FindImage, AnyPartWhoseBytesAreAJpegWhenNoneIsNamed) {
  const std::string body = "--q\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n"
                           "--q\r\nContent-Disposition: form-data; name=\"imageFile\"; filename=\"x.bin\"\r\n"
                           "Content-Type: text/plain\r\n\r\n" + kJpegBytes + "\r\n--q--\r\n";
  for (const char* type : {"multipart/form-data; boundary=q", "multipart/form-data; boundary=wrong",
                           "multipart/form-data", "application/octet-stream"}) {
    auto found = FindImage(body, type, ImageKind::kJpeg);
    ASSERT_TRUE(found.ok()) << type << ": " << found.status().ToString();
    EXPECT_EQ(found.value().image, kJpegBytes) << type;
    EXPECT_EQ(found.value().Field("note"), "hello");
  }
}

TEST(FindImage, ANamedPartWithStrayHeaderBytesBeforeItsJpeg) {
  // A firmware that wrote its part header without the blank line: the JPEG starts after the stray header.
  const std::string body = "--q\r\nContent-Disposition: form-data; name=\"image\"\r\nContent-Type: image/jpeg\r\n" +
                           kJpegBytes + "\r\n--q--\r\n";
  auto found = FindImage(body, "multipart/form-data; boundary=q", ImageKind::kJpeg);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(found.value().image, kJpegBytes);
}

TEST(FindImage, ANamedPartIsPreferredOnlyWhenItHoldsAnImage) {
  const std::string body = "--q\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\nnot-an-image\r\n"
                           "--q\r\nContent-Disposition: form-data; name=\"upload\"\r\n\r\n" + kJpegBytes +
                           "\r\n--q--\r\n";
  EXPECT_EQ(FindImage(body, "multipart/form-data; boundary=q", ImageKind::kJpeg).value().image, kJpegBytes);
}

TEST(FindImage, ABodyWithNoImageSaysWhatItHeld) {
  auto text = FindImage("hello world", "application/x-www-form-urlencoded", ImageKind::kJpeg);
  ASSERT_TRUE(text.status().IsUnsupported());
  EXPECT_NE(text.status().message().find("11 bytes starting with 'hello world'"), std::string::npos)
      << text.status().message();
  auto parts = FindImage("--q\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nxyz\r\n--q--\r\n",
                         "multipart/form-data; boundary=q", ImageKind::kJpeg);
  ASSERT_TRUE(parts.status().IsInvalidArgument());
  EXPECT_NE(parts.status().message().find("'a' (3 bytes starting with 'xyz')"), std::string::npos)
      << parts.status().message();
}

// Issue #16: a body of 10,000 parts or a part header of megabytes is refused as TooLarge (413), not parsed.
std::string Parts(size_t n) {
  std::string body;
  for (size_t i = 0; i < n; ++i) body += "--b\r\nContent-Disposition: form-data; name=\"f" + std::to_string(i) + "\"\r\n\r\nx\r\n";
  return body + "--b--\r\n";
}

TEST(ParseMultipart, MorePartsThanTheLimitAreTooLarge) {
  const MultipartLimits limits{.max_parts = 3};
  auto three = ParseMultipart(Parts(3), "b", limits);
  ASSERT_TRUE(three.ok()) << three.status().ToString();
  EXPECT_EQ(three.value().size(), 3u);
  auto four = ParseMultipart(Parts(4), "b", limits);
  ASSERT_TRUE(four.status().IsTooLarge()) << four.status().ToString();
  EXPECT_NE(four.status().message().find("more than 3 parts"), std::string::npos) << four.status().message();
  EXPECT_TRUE(ParseMultipart(Parts(10'000), "b").status().IsTooLarge());  // the default bound
  EXPECT_TRUE(FindImage(Parts(10'000), "multipart/form-data; boundary=b", ImageKind::kJpeg).status().IsTooLarge());
}

TEST(ParseMultipart, APartHeaderOverTheLimitIsTooLarge) {
  const MultipartLimits limits{.max_part_header_bytes = 100};
  const std::string line = "X-Pad: " + std::string(40, 'p') + "\r\n";  // 49 bytes
  const std::string two = "--b\r\n" + line + line + "\r\nDATA\r\n--b--\r\n";  // the parts view into it
  auto fits = ParseMultipart(two, "b", limits);
  ASSERT_TRUE(fits.ok()) << fits.status().ToString();
  EXPECT_EQ(fits.value()[0].data, "DATA");
  auto over = ParseMultipart("--b\r\n" + line + line + line + "\r\nDATA\r\n--b--\r\n", "b", limits);
  ASSERT_TRUE(over.status().IsTooLarge()) << over.status().ToString();
  EXPECT_NE(over.status().message().find("longer than 100 bytes"), std::string::npos) << over.status().message();
  // One header line of 10 MB, under the default bound.
  const std::string huge = "--b\r\nContent-Disposition: form-data; name=\"" + std::string(10 << 20, 'n') +
                           "\"\r\n\r\nDATA\r\n--b--\r\n";
  EXPECT_TRUE(ParseMultipart(huge, "b").status().IsTooLarge());
  EXPECT_TRUE(FindImage(huge, "multipart/form-data; boundary=b", ImageKind::kJpegOrPng).status().IsTooLarge());
}

TEST(FindImage, PartNamesInTheErrorArePrintableAndShort) {
  const std::string body = "--q\r\nContent-Disposition: form-data; name=\"\xFF\xFE" + std::string(500, 'a') +
                           "\"\r\n\r\nxyz\r\n--q--\r\n";
  auto found = FindImage(body, "multipart/form-data; boundary=q", ImageKind::kJpeg);
  ASSERT_TRUE(found.status().IsInvalidArgument());
  const std::string m = found.status().message();
  EXPECT_NE(m.find("'.." + std::string(62, 'a') + "' (3 bytes"), std::string::npos) << m;
  EXPECT_EQ(m.find('\xFF'), std::string::npos);
}

}  // namespace
}  // namespace iotstream::ingest
