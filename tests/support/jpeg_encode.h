// JPEG pictures made by tests that need their own frames (TurboJPEG). A test using this links PkgConfig::TURBOJPEG.
#pragma once

#include <turbojpeg.h>

#include <cstdint>
#include <string>
#include <vector>

namespace iotstream::testing {

// `pixels` holds width x height grey bytes (channels 1, encoded grey) or RGB triples (channels 3, 4:2:0); returns the
// JPEG, or "" when TurboJPEG refuses.
inline std::string EncodeJpeg(const std::vector<uint8_t>& pixels, int width, int height, int channels, int quality) {
  tjhandle tj = tjInitCompress();
  if (tj == nullptr) return "";
  unsigned char* jpeg = nullptr;
  unsigned long size = 0;
  const bool grey = channels == 1;
  std::string out;
  if (tjCompress2(tj, pixels.data(), width, 0, height, grey ? TJPF_GRAY : TJPF_RGB, &jpeg, &size,
                  grey ? TJSAMP_GRAY : TJSAMP_420, quality, 0) == 0) {
    out.assign(reinterpret_cast<const char*>(jpeg), size);
  }
  tjFree(jpeg);
  tjDestroy(tj);
  return out;
}

}  // namespace iotstream::testing
