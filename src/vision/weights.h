// Private to src/vision. Reads the face descriptor weights that @vladmandic/face-api ships (a TensorFlow.js weights
// manifest plus binary shards), dequantises them and checks them against the network's expected tensors.
// Thread-safety: free functions; the returned WeightSet is immutable after loading.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.h"

namespace iotstream::vision {

inline constexpr const char* kManifestFile = "face_recognition_model-weights_manifest.json";
inline constexpr const char* kWeightsFile = "face_recognition_model.bin";

struct WeightTensor {
  std::vector<int64_t> shape;  // as in the manifest: conv filters [kh, kw, in, out] (HWIO), fc [in, out]
  std::vector<float> values;   // dequantised, row-major in `shape`
};

struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
};

struct WeightSet {
  std::unordered_map<std::string, WeightTensor> tensors;
};

// The 117 tensors that dlib's ResNet needs, with their shapes, in network order (input to output): per conv
// `<layer>/conv/filters`, `<layer>/conv/bias`, `<layer>/scale/weights`, `<layer>/scale/biases`; last `fc`.
const std::vector<TensorSpec>& ExpectedTensors();

// The conv layer prefixes in network order: "conv32_down", "conv32_1/conv1", "conv32_1/conv2", ...
const std::vector<std::string>& ConvLayerNames();

// Reads `<dir>/face_recognition_model-weights_manifest.json` and the shards it names (in `dir`).
// Errors name the file: NotFound (missing), InvalidArgument (bad JSON, unsupported dtype, missing tensor, shape
// differing from ExpectedTensors(), shard shorter or longer than the manifest needs), IOError (read failure).
Result<WeightSet> LoadFaceApiWeights(const std::string& dir);

}  // namespace iotstream::vision
