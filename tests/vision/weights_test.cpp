// The weight loader: a valid synthetic manifest loads; missing, truncated and wrongly shaped weights give a clear
// error that names the file. Needs no downloaded weights.
#include "vision/weights.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>
#include <nlohmann/json.hpp>

#include "vision/vision.h"
#include "vision_test_util.h"

namespace iotstream::vision {
namespace {

namespace fs = std::filesystem;

class WeightsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("iotstream-weights-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes a manifest in face-api's layout (uint8-quantised, conv64 filters raw float32) and a matching .bin.
  // `edit` may change the manifest; `bin_delta` shortens (<0) or lengthens the .bin.
  void Write(const std::function<void(nlohmann::json&)>& edit = {}, long bin_delta = 0) {
    nlohmann::json weights = nlohmann::json::array();
    size_t bytes = 0;
    for (const auto& spec : ExpectedTensors()) {
      size_t count = 1;
      for (auto d : spec.shape) count *= d;
      nlohmann::json w = {{"name", spec.name}, {"shape", spec.shape}, {"dtype", "float32"}};
      if (spec.name.starts_with("conv64") && spec.name.ends_with("filters")) {
        bytes += 4 * count;
      } else {
        w["quantization"] = {{"dtype", "uint8"}, {"scale", 0.5}, {"min", -1.0}};
        bytes += count;
      }
      weights.push_back(w);
    }
    nlohmann::json manifest = nlohmann::json::array({{{"paths", {kWeightsFile}}, {"weights", weights}}});
    if (edit) edit(manifest);
    std::ofstream(dir_ / kManifestFile) << manifest.dump();
    std::string bin(static_cast<size_t>(static_cast<long>(bytes) + bin_delta), '\x02');  // 2*0.5-1 = 0
    std::ofstream(dir_ / kWeightsFile, std::ios::binary) << bin;
  }

  fs::path dir_;
};

TEST_F(WeightsTest, ExpectedTensorsMatchFaceApiLayout) {
  const auto& specs = ExpectedTensors();
  ASSERT_EQ(specs.size(), 117u);
  EXPECT_EQ(specs.front().name, "conv32_down/conv/filters");
  EXPECT_EQ(specs.front().shape, (std::vector<int64_t>{7, 7, 3, 32}));
  EXPECT_EQ(specs.back().name, "fc");
  EXPECT_EQ(ConvLayerNames().size(), 29u);
}

TEST_F(WeightsTest, LoadsAndDequantises) {
  Write();
  Result<WeightSet> r = LoadFaceApiWeights(dir_.string());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r.value().tensors.size(), 117u);
  EXPECT_FLOAT_EQ(r.value().tensors.at("fc").values[5], 0.0f);  // 2 * 0.5 - 1
  // the raw float32 tensor: bytes 02 02 02 02
  float raw;
  const uint32_t bits = 0x02020202;
  std::memcpy(&raw, &bits, 4);
  EXPECT_EQ(r.value().tensors.at("conv64_1/conv1/conv/filters").values[0], raw);
}

TEST_F(WeightsTest, MissingManifestNamesTheFile) {
  Result<WeightSet> r = LoadFaceApiWeights(dir_.string());
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsNotFound());
  EXPECT_NE(r.status().message().find(kManifestFile), std::string::npos) << r.status().message();
}

TEST_F(WeightsTest, TruncatedBinNamesTheFile) {
  Write({}, -1);
  Result<WeightSet> r = LoadFaceApiWeights(dir_.string());
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsInvalidArgument());
  EXPECT_NE(r.status().message().find((dir_ / kWeightsFile).string()), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("truncated"), std::string::npos) << r.status().message();
}

TEST_F(WeightsTest, LongerBinIsRefused) {
  Write({}, +7);
  Result<WeightSet> r = LoadFaceApiWeights(dir_.string());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(kWeightsFile), std::string::npos) << r.status().message();
}

TEST_F(WeightsTest, WrongShapeNamesFileAndTensor) {
  Write([](nlohmann::json& m) { m[0]["weights"][4]["shape"] = {3, 3, 32, 64}; });  // conv32_1/conv1 filters
  Result<WeightSet> r = LoadFaceApiWeights(dir_.string());
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsInvalidArgument());
  const std::string msg = r.status().message();
  EXPECT_NE(msg.find(kManifestFile), std::string::npos) << msg;
  EXPECT_NE(msg.find("conv32_1/conv1/conv/filters has shape [3,3,32,64], expected [3,3,32,32]"), std::string::npos)
      << msg;
}

TEST_F(WeightsTest, MissingTensorAndBadJson) {
  Write([](nlohmann::json& m) { m[0]["weights"].erase(m[0]["weights"].size() - 1); });
  Result<WeightSet> r = LoadFaceApiWeights(dir_.string());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("tensor fc is missing"), std::string::npos) << r.status().message();

  std::ofstream(dir_ / kManifestFile) << "{not json";
  r = LoadFaceApiWeights(dir_.string());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(kManifestFile), std::string::npos) << r.status().message();
}

TEST_F(WeightsTest, EngineOpenReportsTheFile) {
  Write({}, -100);
  EngineOptions o;
  o.models_dir = dir_.string();
  auto r = FaceEngine::Open(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(kWeightsFile), std::string::npos) << r.status().message();

  Write();
  o.shape_predictor_path = (dir_ / "no_such_predictor.dat").string();
  r = FaceEngine::Open(o);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsNotFound());
  EXPECT_NE(r.status().message().find("no_such_predictor.dat"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace iotstream::vision
