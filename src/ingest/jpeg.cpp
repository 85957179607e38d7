#include "ingest/jpeg.h"

#include <memory>

#include <turbojpeg.h>

namespace iotstream::ingest {
namespace {

struct TjDeleter {
  void operator()(void* h) const { tjDestroy(h); }
};

tjhandle ThreadDecompressor() {
  thread_local std::unique_ptr<void, TjDeleter> handle(tjInitDecompress());
  return handle.get();
}

}  // namespace

Result<JpegInfo> InspectJpeg(std::string_view data) {
  if (data.empty()) return Status::InvalidArgument("empty image");
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  if (data.size() < 4 || p[0] != 0xFF || p[1] != 0xD8) return Status::InvalidArgument("not a JPEG (no SOI marker)");
  size_t end = data.size();
  while (end > 2 && p[end - 1] == 0x00) --end;
  if (end < 4 || p[end - 2] != 0xFF || p[end - 1] != 0xD9) {
    return Status::InvalidArgument("truncated JPEG (no EOI marker)");
  }
  tjhandle tj = ThreadDecompressor();
  if (tj == nullptr) return Status::Internal("cannot create a TurboJPEG decompressor");
  int width = 0, height = 0, subsamp = 0, colorspace = 0;
  if (tjDecompressHeader3(tj, p, static_cast<unsigned long>(data.size()), &width, &height, &subsamp, &colorspace) != 0) {
    return Status::InvalidArgument(std::string("corrupt JPEG header: ") + tjGetErrorStr2(tj));
  }
  if (width <= 0 || height <= 0) return Status::InvalidArgument("corrupt JPEG header: no image size");
  return JpegInfo{width, height};
}

}  // namespace iotstream::ingest
