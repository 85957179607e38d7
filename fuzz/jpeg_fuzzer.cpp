// JPEG validation on the ingest path: InspectJpeg's marker checks and libjpeg-turbo's header parse (no decode).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ingest/jpeg.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto info = iotstream::ingest::InspectJpeg(std::string_view(reinterpret_cast<const char*>(data), size));
  if (info.ok() && (info.value().width <= 0 || info.value().height <= 0 || size < 4 || data[0] != 0xFF)) std::abort();
  return 0;
}
