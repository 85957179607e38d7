// The recognition input's decode step only (no detector, no network): DecodeImage for JPEG (with the DCT scaling
// the detection width asks for) and PNG, then the grey conversion the detector reads.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "vision/decode.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  iotstream::vision::DecodedImage image;
  // 640: the default detection width (vision::EngineOptions).
  const iotstream::Status st = iotstream::vision::DecodeImage(data, size, 640, &image);
  if (!st.ok()) return 0;
  if (image.rgb.nr() <= 0 || image.rgb.nc() <= 0 || image.original_width <= 0 || image.original_height <= 0) {
    std::abort();
  }
  dlib::array2d<unsigned char> gray;
  iotstream::vision::ToGray(image.rgb, &gray);
  return 0;
}
