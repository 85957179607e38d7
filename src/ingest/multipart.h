// Upload bodies: multipart/form-data parsing (RFC 7578) over a body held in memory, and the one rule for where the
// image is in an upload, used by camera ingest and the recognition API alike. Stateless and thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace iotstream::ingest {

struct FormPart {
  std::string name;          // the form field name
  std::string filename;      // empty when the part is not a file
  std::string content_type;  // empty when the part sent none
  std::string_view data;     // view into the body passed to ParseMultipart
};

// What one multipart body may hold; beyond it ParseMultipart and FindImage answer TooLarge. A camera sends two or
// three parts with a few header lines each: the defaults leave room for forms far larger than that.
struct MultipartLimits {
  size_t max_parts = 64;                   // parts in one body
  size_t max_part_header_bytes = 8 * 1024;  // one part's header lines, line ends included
};

// Returns the boundary parameter of a multipart Content-Type (quotes removed), or InvalidArgument.
Result<std::string> MultipartBoundary(std::string_view content_type);

// Splits `body` into its parts. The views in the result point into `body`, which must outlive them.
// Accepts CRLF and bare-LF line ends and a preamble before the first boundary. InvalidArgument when the
// first boundary or the closing boundary is missing or a part has no header/body separator; TooLarge when the body
// holds more parts than `limits` allow or a part's header lines are longer.
Result<std::vector<FormPart>> ParseMultipart(std::string_view body, std::string_view boundary,
                                             const MultipartLimits& limits = {});

// An upload's image and the form fields sent with it. Views point into the body given to FindImage.
struct UploadedImage {
  std::string_view image;
  std::vector<FormPart> form;  // empty unless the body was multipart
  // The first form field named `name`, or empty.
  std::string_view Field(std::string_view name) const;
};

// Which images an upload may carry: camera ingest takes JPEG only, the recognition API PNG too.
enum class ImageKind { kJpeg, kJpegOrPng };

// Where the image is in an upload. The bytes decide; the Content-Type and the part names are hints:
//  1. a body that starts like an image (JPEG: FF D8 FF; PNG's signature where `kinds` allow) is the image,
//     whatever its Content-Type says (curl --data-binary sends application/x-www-form-urlencoded);
//  2. a multipart body (its boundary from the Content-Type, or from its own first line when the parameter is
//     wrong or missing): the part named "image", "file" or "frame" (in that order) when it holds an image, else
//     the first part that does (a part may start with up to 1 KiB of stray header bytes), else the named part;
//  3. any other body is the image when its media type is image/*, application/octet-stream or absent.
// InvalidArgument for a multipart body with no image part (the error lists the parts found), TooLarge for one over
// `limits`, Unsupported for a non-image body of another media type (naming the type and the first bytes). Whether
// the image is whole and decodable is the caller's check.
Result<UploadedImage> FindImage(std::string_view body, std::string_view content_type, ImageKind kinds,
                                const MultipartLimits& limits = {});

}  // namespace iotstream::ingest
