// Helpers for tests/vision: where the models and the face photos are, and reading files.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

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

// Every photo MANIFEST.tsv lists (its first column), as a path; empty if there is no manifest.
inline std::vector<std::filesystem::path> ManifestPhotos() {
  std::vector<std::filesystem::path> photos;
  std::ifstream in(FacesDir() / "MANIFEST.tsv");
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    const std::string file = line.substr(0, line.find('\t'));
    if (!file.empty()) photos.push_back(FacesDir() / file);
  }
  return photos;
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
