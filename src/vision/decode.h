// Private to src/vision. JPEG (TurboJPEG, DCT-scaled) and PNG (libpng) straight to an RGB dlib image.
// Thread-safety: free functions, no shared state (a TurboJPEG handle per call).
#pragma once

#include <cstddef>
#include <cstdint>

#include <dlib/array2d.h>
#include <dlib/pixel.h>

#include "core/status.h"

namespace iotstream::vision {

struct DecodedImage {
  dlib::array2d<dlib::rgb_pixel> rgb;
  int original_width = 0, original_height = 0;  // before DCT scaling
  double scale = 1.0;                           // rgb size / original size
};

// Decodes a JPEG or PNG (recognised by its signature). A JPEG at least twice as wide as `target_width` (> 0) is
// decoded with the smallest DCT scaling factor of 1/2, 1/4, 1/8 that keeps it at least `target_width` wide. Grey, palette, 16-bit and RGBA PNGs are
// converted (alpha composited onto black). InvalidArgument if the bytes are neither or cannot be decoded.
Status DecodeImage(const uint8_t* data, size_t size, int target_width, DecodedImage* out);

// dlib's own RGB -> grey rule ((r + g + b) / 3, as assign_image does), without its per-pixel dispatch: the image
// the detector and the landmarks work on.
void ToGray(const dlib::array2d<dlib::rgb_pixel>& rgb, dlib::array2d<unsigned char>* gray);

}  // namespace iotstream::vision
