// Upload bodies as camera ingest and the recognition API read them: FindImage (the body's image, by its bytes, its
// Content-Type and its multipart parts) and ParseMultipart, under small limits so that the bounds are reached.
//
// Input: the Content-Type up to the first '\n', then byte flags (image kinds, limits), then the body.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "ingest/multipart.h"

namespace {

using iotstream::ingest::FormPart;
using iotstream::ingest::MultipartLimits;

bool Within(std::string_view view, std::string_view body) {
  return view.empty() || (view.data() >= body.data() && view.data() + view.size() <= body.data() + body.size());
}

void CheckParts(const std::vector<FormPart>& parts, std::string_view body, const MultipartLimits& limits) {
  if (parts.size() > limits.max_parts) std::abort();
  for (const auto& p : parts) {
    if (!Within(p.data, body)) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nl = input.find('\n');
  if (nl == std::string_view::npos || input.size() < nl + 2) return 0;
  const std::string_view content_type = input.substr(0, nl);
  const auto flags = static_cast<unsigned char>(input[nl + 1]);
  const std::string_view body = input.substr(nl + 2);
  const auto kinds = (flags & 1) ? iotstream::ingest::ImageKind::kJpegOrPng : iotstream::ingest::ImageKind::kJpeg;
  MultipartLimits limits;
  if (flags & 2) limits = MultipartLimits{.max_parts = 1u + (flags >> 5), .max_part_header_bytes = 16u + (flags >> 2)};

  auto found = iotstream::ingest::FindImage(body, content_type, kinds, limits);
  if (found.ok()) {
    if (!Within(found.value().image, body)) std::abort();
    CheckParts(found.value().form, body, limits);
  } else if (found.status().message().empty()) {
    std::abort();  // every refusal says why
  }
  if (auto boundary = iotstream::ingest::MultipartBoundary(content_type); boundary.ok()) {
    auto parts = iotstream::ingest::ParseMultipart(body, boundary.value(), limits);
    if (parts.ok()) CheckParts(parts.value(), body, limits);
  }
  return 0;
}
