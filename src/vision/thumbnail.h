// Face thumbnails: the aligned face chip as the small JPEG that events and the enrolled-face list show.
// Thread-safety: free functions, no shared state (a TurboJPEG handle per call).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "vision/vision.h"

namespace iotstream::vision {

// Encodes RGB pixels (w*h*3 bytes, row-major) as a JPEG. InvalidArgument on a size mismatch, Internal when
// libjpeg-turbo fails.
Result<std::string> EncodeJpeg(const std::vector<uint8_t>& rgb, int width, int height, int quality = 85);

// The face's aligned chip (kChipSize x kChipSize) as a JPEG; errors as EncodeJpeg's.
inline Result<std::string> FaceThumbnail(const Face& face) { return EncodeJpeg(face.chip, kChipSize, kChipSize); }

}  // namespace iotstream::vision
