// Helpers for tests/vision: where the models and the face photos are, and reading files.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "vision/vision.h"

namespace iotstream::vision::testing {

inline std::filesystem::path ModelsDir() {
  const char* env = std::getenv("IOTSTREAM_MODELS_DIR");
  return env && *env ? std::filesystem::path(env) : std::filesystem::path(IOTSTREAM_SOURCE_DIR) / ".cache/models";
}

inline std::filesystem::path FacesDir() {
  const char* env = std::getenv("IOTSTREAM_FACES_DIR");
  return env && *env ? std::filesystem::path(env) : std::filesystem::path("/work/shared/faces");
}

inline bool ModelsPresent() {
  return std::filesystem::exists(ModelsDir() / "face_recognition_model.bin") &&
         std::filesystem::exists(ModelsDir() / "face_recognition_model-weights_manifest.json");
}

inline std::string ReadBytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline const uint8_t* Bytes(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

#define IOTSTREAM_SKIP_WITHOUT_MODELS()                                                                   \
  if (!::iotstream::vision::testing::ModelsPresent())                                                      \
  GTEST_SKIP() << "face descriptor weights missing in " << ::iotstream::vision::testing::ModelsDir()      \
               << " (run scripts/fetch-models.sh or set IOTSTREAM_MODELS_DIR)"

}  // namespace iotstream::vision::testing
