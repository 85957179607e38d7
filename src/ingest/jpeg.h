// Cheap JPEG validation for the ingest path: markers plus a header parse, never a full decode.
// Thread-safe (uses a per-thread TurboJPEG handle).
#pragma once

#include <string_view>

#include "core/status.h"

namespace iotstream::ingest {

struct JpegInfo {
  int width = 0;
  int height = 0;
};

// OK with the dimensions if `data` starts with SOI (FF D8), ends with EOI (FF D9; trailing zero padding
// that some camera firmwares add is tolerated) and libjpeg-turbo can parse its header.
// InvalidArgument naming the defect otherwise (empty, not a JPEG, truncated, corrupt header).
Result<JpegInfo> InspectJpeg(std::string_view data);

}  // namespace iotstream::ingest
