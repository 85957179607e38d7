#include "vision/thumbnail.h"

#include <turbojpeg.h>

namespace iotstream::vision {

Result<std::string> EncodeJpeg(const std::vector<uint8_t>& rgb, int width, int height, int quality) {
  if (width <= 0 || height <= 0 || rgb.size() != static_cast<size_t>(width) * static_cast<size_t>(height) * 3) {
    return Status::InvalidArgument("RGB buffer does not match " + std::to_string(width) + "x" + std::to_string(height));
  }
  tjhandle tj = tjInitCompress();
  if (tj == nullptr) return Status::Internal("cannot create a TurboJPEG compressor");
  unsigned char* out = nullptr;
  unsigned long size = 0;
  const int rc = tjCompress2(tj, rgb.data(), width, 0, height, TJPF_RGB, &out, &size, TJSAMP_420, quality,
                             TJFLAG_FASTDCT);
  std::string jpeg;
  if (rc == 0) jpeg.assign(reinterpret_cast<const char*>(out), size);
  const std::string err = rc == 0 ? "" : tjGetErrorStr2(tj);
  tjFree(out);
  tjDestroy(tj);
  if (rc != 0) return Status::Internal("JPEG encode failed: " + err);
  return jpeg;
}

}  // namespace iotstream::vision
