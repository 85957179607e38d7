#include "vision/weights.h"

#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

#include <nlohmann/json.hpp>

namespace iotstream::vision {
namespace {

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s.push_back(',');
    s.append(std::to_string(shape[i]));
  }
  return s + "]";
}

Status ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + ": cannot open (run scripts/fetch-models.sh)");
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad()) return Status::IOError(path + ": read failed");
  return Status::Ok();
}

}  // namespace

const std::vector<std::string>& ConvLayerNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n{"conv32_down"};
    auto block = [&n](const std::string& b) {
      n.push_back(b + "/conv1");
      n.push_back(b + "/conv2");
    };
    for (const char* b : {"conv32_1", "conv32_2", "conv32_3", "conv64_down", "conv64_1", "conv64_2", "conv64_3",
                          "conv128_down", "conv128_1", "conv128_2", "conv256_down", "conv256_1", "conv256_2",
                          "conv256_down_out"}) {
      block(b);
    }
    return n;
  }();
  return names;
}

const std::vector<TensorSpec>& ExpectedTensors() {
  static const std::vector<TensorSpec> specs = [] {
    std::vector<TensorSpec> s;
    auto conv = [&s](const std::string& name, int64_t k, int64_t in, int64_t out) {
      s.push_back({name + "/conv/filters", {k, k, in, out}});
      s.push_back({name + "/conv/bias", {out}});
      s.push_back({name + "/scale/weights", {out}});
      s.push_back({name + "/scale/biases", {out}});
    };
    conv("conv32_down", 7, 3, 32);
    int64_t in = 32;
    for (const auto& layer : ConvLayerNames()) {
      if (layer == "conv32_down") continue;
      const std::string block = layer.substr(0, layer.find('/'));
      const int64_t out = block == "conv256_down_out" ? 256 : std::stoll(block.substr(4));
      conv(layer, 3, layer.ends_with("/conv1") ? in : out, out);
      if (layer.ends_with("/conv2")) in = out;
    }
    s.push_back({"fc", {256, 128}});
    return s;
  }();
  return specs;
}

Result<WeightSet> LoadFaceApiWeights(const std::string& dir) {
  const std::string manifest_path = dir + "/" + kManifestFile;
  std::string text;
  if (Status st = ReadFile(manifest_path, &text); !st.ok()) return st;

  nlohmann::json manifest = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (manifest.is_discarded() || !manifest.is_array()) {
    return Status::InvalidArgument(manifest_path + ": not a JSON array (a TensorFlow.js weights manifest)");
  }

  // First pass: the manifest alone. Every tensor's name, shape and byte span; shapes checked before any shard read.
  struct Entry {
    std::string name;
    std::vector<int64_t> shape;
    int64_t count = 0;
    std::string dtype;  // storage: float32, uint8, uint16
    double scale = 1, min = 0;
    size_t offset = 0, bytes = 0;
  };
  std::vector<Entry> entries;
  std::vector<std::string> shard_paths;
  size_t total = 0;
  for (const auto& group : manifest) {
    if (!group.is_object() || !group.contains("paths") || !group.contains("weights") ||
        !group["paths"].is_array() || !group["weights"].is_array()) {
      return Status::InvalidArgument(manifest_path + ": a group lacks \"paths\" or \"weights\"");
    }
    for (const auto& p : group["paths"]) {
      if (!p.is_string()) return Status::InvalidArgument(manifest_path + ": a path is not a string");
      shard_paths.push_back(dir + "/" + p.get<std::string>());
    }
    for (const auto& w : group["weights"]) {
      Entry e;
      if (!w.is_object() || !w.contains("name") || !w["name"].is_string() || !w.contains("shape") ||
          !w["shape"].is_array()) {
        return Status::InvalidArgument(manifest_path + ": a weight lacks \"name\" or \"shape\"");
      }
      e.name = w["name"].get<std::string>();
      e.count = 1;
      for (const auto& d : w["shape"]) {
        if (!d.is_number_integer() || d.get<int64_t>() < 0) {
          return Status::InvalidArgument(manifest_path + ": tensor " + e.name + " has a bad shape");
        }
        e.shape.push_back(d.get<int64_t>());
        e.count *= e.shape.back();
      }
      e.dtype = w.value("dtype", std::string("float32"));
      if (e.dtype != "float32") {
        return Status::InvalidArgument(manifest_path + ": tensor " + e.name + " has dtype " + e.dtype +
                                       " (only float32 is supported)");
      }
      if (w.contains("quantization")) {
        const auto& q = w["quantization"];
        if (!q.is_object() || !q.contains("dtype") || !q.contains("scale") || !q.contains("min") ||
            !q["scale"].is_number() || !q["min"].is_number()) {
          return Status::InvalidArgument(manifest_path + ": tensor " + e.name + " has a bad \"quantization\"");
        }
        e.dtype = q["dtype"].get<std::string>();
        e.scale = q["scale"].get<double>();
        e.min = q["min"].get<double>();
        if (e.dtype != "uint8" && e.dtype != "uint16") {
          return Status::InvalidArgument(manifest_path + ": tensor " + e.name + " is quantised as " + e.dtype +
                                         " (only uint8 and uint16 are supported)");
        }
      }
      const size_t elem = e.dtype == "uint8" ? 1 : e.dtype == "uint16" ? 2 : 4;
      e.offset = total;
      e.bytes = static_cast<size_t>(e.count) * elem;
      total += e.bytes;
      entries.push_back(std::move(e));
    }
  }

  std::unordered_map<std::string, const Entry*> by_name;
  for (const auto& e : entries) by_name[e.name] = &e;
  for (const auto& spec : ExpectedTensors()) {
    auto it = by_name.find(spec.name);
    if (it == by_name.end()) {
      return Status::InvalidArgument(manifest_path + ": tensor " + spec.name + " is missing");
    }
    if (it->second->shape != spec.shape) {
      return Status::InvalidArgument(manifest_path + ": tensor " + spec.name + " has shape " +
                                     ShapeString(it->second->shape) + ", expected " + ShapeString(spec.shape));
    }
  }

  // Second pass: the shards, concatenated in manifest order, must hold exactly `total` bytes.
  std::string data;
  std::string last_shard = shard_paths.empty() ? dir + "/" + kWeightsFile : shard_paths.back();
  for (const auto& path : shard_paths) {
    std::string part;
    if (Status st = ReadFile(path, &part); !st.ok()) return st;
    data += part;
  }
  if (data.size() != total) {
    return Status::InvalidArgument(last_shard + ": " + (data.size() < total ? "truncated" : "too long") + ": " +
                                   std::to_string(data.size()) + " bytes, the manifest " + manifest_path +
                                   " needs " + std::to_string(total));
  }

  WeightSet set;
  for (const auto& spec : ExpectedTensors()) {
    const Entry& e = *by_name.at(spec.name);
    WeightTensor t;
    t.shape = e.shape;
    t.values.resize(static_cast<size_t>(e.count));
    const auto* src = reinterpret_cast<const unsigned char*>(data.data() + e.offset);
    if (e.dtype == "float32") {
      std::memcpy(t.values.data(), src, e.bytes);  // little-endian, as TensorFlow.js writes it
    } else if (e.dtype == "uint8") {
      for (int64_t i = 0; i < e.count; ++i) t.values[i] = static_cast<float>(src[i] * e.scale + e.min);
    } else {
      for (int64_t i = 0; i < e.count; ++i) {
        const unsigned v = src[2 * i] | (src[2 * i + 1] << 8);
        t.values[i] = static_cast<float>(v * e.scale + e.min);
      }
    }
    set.tensors.emplace(spec.name, std::move(t));
  }
  return set;
}

}  // namespace iotstream::vision
