// The port against face-api's own JavaScript: the same aligned 150x150 chips go through iotstream's dlib network
// and through @vladmandic/face-api's TensorFlow.js network (Node, pure-JS CPU backend, run by
// tests/vision/reference/face_api_descriptor.cjs); the descriptors must agree within 1e-3 (L2).
// Skips when the weights, node, or the Node packages (scripts/fetch-models.sh --with-reference) are missing.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "vision/vision.h"
#include "vision_test_util.h"

namespace iotstream::vision {
namespace {

namespace fs = std::filesystem;
using testing::Bytes;
using testing::FacesDir;
using testing::ReadBytes;

fs::path NodeModules() {
  const char* env = std::getenv("FACE_API_NODE_MODULES");
  return env && *env ? fs::path(env) : fs::path(IOTSTREAM_SOURCE_DIR) / ".cache/face-api/node_modules";
}

TEST(FaceApiReferenceTest, DescriptorsAgreeWithFaceApiJs) {
  IOTSTREAM_SKIP_WITHOUT_MODELS();
  if (std::system("node --version > /dev/null 2>&1") != 0) GTEST_SKIP() << "node is not installed";
  if (!fs::exists(NodeModules() / "@tensorflow/tfjs-backend-wasm") || !fs::exists(NodeModules() / "@vladmandic/face-api")) {
    GTEST_SKIP() << "no tfjs/face-api in " << NodeModules() << " (run scripts/fetch-models.sh --with-reference)";
  }
  if (!fs::exists(FacesDir() / "MANIFEST.tsv")) GTEST_SKIP() << "no face photos in " << FacesDir();

  EngineOptions o;
  o.models_dir = testing::ModelsDir().string();
  o.upsample = 1;
  auto opened = FaceEngine::Open(o);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  FaceEngine& engine = *opened.value();

  const fs::path dir = fs::temp_directory_path() / ("iotstream-faceapi-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  // Colour and grey, JPEG and PNG, large and 150x150 crops; two faces from one photo.
  const char* files[] = {"ageitgey_face_recognition/examples/obama-480p.jpg",
                         "ageitgey_face_recognition/examples/knn_examples/train/biden/biden2.jpg",
                         "ageitgey_face_recognition/examples/alex-lacamoire.png",
                         "justadudewhohacks_face-api.js/examples/images/penny/penny1.png",
                         "justadudewhohacks_face-api.js/examples/images/raj/raj3.png",
                         "ageitgey_face_recognition/examples/two_people.jpg"};
  std::vector<std::pair<std::string, Descriptor>> ours;
  for (const char* file : files) {
    const std::string bytes = ReadBytes(FacesDir() / file);
    auto r = engine.DetectAndAlign(Bytes(bytes), bytes.size());
    ASSERT_TRUE(r.ok()) << file << ": " << r.status().ToString();
    ASSERT_FALSE(r.value().empty()) << file;
    for (size_t i = 0; i < r.value().size() && i < 2; ++i) {
      const Face& f = r.value()[i];
      const std::string name = "chip" + std::to_string(ours.size());
      std::ofstream(dir / (name + ".rgb"), std::ios::binary)
          .write(reinterpret_cast<const char*>(f.chip.data()), static_cast<std::streamsize>(f.chip.size()));
      auto d = engine.DescribeChip(f.chip);
      ASSERT_TRUE(d.ok()) << d.status().ToString();
      ours.emplace_back(name + " (" + file + ")", d.value());
    }
  }

  const fs::path script = fs::path(IOTSTREAM_SOURCE_DIR) / "tests/vision/reference/face_api_descriptor.cjs";
  const std::string cmd = "FACE_API_NODE_MODULES='" + NodeModules().string() + "' node '" + script.string() + "' '" +
                          dir.string() + "' > '" + (dir / "node.log").string() + "' 2>&1";
  const int rc = std::system(cmd.c_str());
  ASSERT_EQ(rc, 0) << "node failed:\n" << ReadBytes(dir / "node.log");

  float worst = 0;
  for (size_t i = 0; i < ours.size(); ++i) {
    const fs::path json = dir / ("chip" + std::to_string(i) + ".json");
    ASSERT_TRUE(fs::exists(json)) << json;
    const auto values = nlohmann::json::parse(ReadBytes(json));
    ASSERT_EQ(values.size(), static_cast<size_t>(kDescriptorSize));
    Descriptor js;
    for (int k = 0; k < kDescriptorSize; ++k) js[k] = values[k].get<float>();
    const float d = Distance(ours[i].second, js);
    worst = std::max(worst, d);
    std::printf("[ ref   ] %-70s L2(dlib, face-api js) = %.2e\n", ours[i].first.c_str(), d);
    EXPECT_LT(d, 1e-3f) << ours[i].first;
  }
  std::printf("[ ref   ] %zu chips, worst %.2e\n", ours.size(), worst);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace iotstream::vision
