#include "vision/landmarks.h"

#include <cstdint>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include <dlib/image_processing/shape_predictor.h>

namespace iotstream::vision {

// dlib's shape_predictor, its trees flattened: the splits of tree i at [i * splits_per_tree ..] (complete binary
// trees, children of node k at 2k+1 and 2k+2), its leaves at [(i * leaves_per_tree + leaf) * dims ..].
struct LandmarkPredictor::Model {
  struct Split {
    uint32_t idx1, idx2;  // feature pixels compared
    float thresh;
  };
  dlib::matrix<float, 0, 1> initial_shape;
  std::vector<std::vector<unsigned long>> anchor_idx;             // per level
  std::vector<std::vector<dlib::vector<float, 2>>> deltas;        // per level
  std::vector<long> first_tree;                                   // per level, and the total at the end
  long splits_per_tree = 0, leaves_per_tree = 0, dims = 0;
  std::vector<Split> splits;
  std::vector<float> leaves;
};

LandmarkPredictor::LandmarkPredictor(std::shared_ptr<const Model> model) : model_(std::move(model)) {}

Result<LandmarkPredictor> LandmarkPredictor::Load(std::istream& in) {
  auto m = std::make_shared<Model>();
  std::vector<std::vector<dlib::impl::regression_tree>> forests;
  try {
    // dlib's deserialize(shape_predictor&), field by field.
    int version = 0;
    dlib::deserialize(version, in);
    if (version != 1) return Status::InvalidArgument("shape predictor version " + std::to_string(version));
    dlib::deserialize(m->initial_shape, in);
    dlib::deserialize(forests, in);
    dlib::deserialize(m->anchor_idx, in);
    dlib::deserialize(m->deltas, in);
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("not a dlib shape predictor: ") + e.what());
  }
  if (forests.empty() || forests[0].empty() || forests.size() != m->anchor_idx.size() ||
      forests.size() != m->deltas.size()) {
    return Status::InvalidArgument("shape predictor: levels do not match");
  }
  m->dims = m->initial_shape.size();
  m->splits_per_tree = static_cast<long>(forests[0][0].splits.size());
  m->leaves_per_tree = static_cast<long>(forests[0][0].leaf_values.size());
  long trees = 0;
  for (const auto& level : forests) {
    m->first_tree.push_back(trees);
    trees += static_cast<long>(level.size());
  }
  m->first_tree.push_back(trees);
  m->splits.reserve(static_cast<size_t>(trees * m->splits_per_tree));
  m->leaves.reserve(static_cast<size_t>(trees * m->leaves_per_tree * m->dims));
  for (size_t level = 0; level < forests.size(); ++level) {
    for (const auto& tree : forests[level]) {
      if (static_cast<long>(tree.splits.size()) != m->splits_per_tree ||
          static_cast<long>(tree.leaf_values.size()) != m->leaves_per_tree ||
          m->leaves_per_tree != m->splits_per_tree + 1) {
        return Status::InvalidArgument("shape predictor: trees of different sizes");
      }
      for (const auto& s : tree.splits) {
        if (s.idx1 >= m->deltas[level].size() || s.idx2 >= m->deltas[level].size()) {
          return Status::InvalidArgument("shape predictor: a split reads past its level's features");
        }
        m->splits.push_back({static_cast<uint32_t>(s.idx1), static_cast<uint32_t>(s.idx2), s.thresh});
      }
      for (const auto& leaf : tree.leaf_values) {
        if (leaf.size() != m->dims) return Status::InvalidArgument("shape predictor: a leaf of another size");
        m->leaves.insert(m->leaves.end(), leaf.begin(), leaf.end());
      }
    }
  }
  return LandmarkPredictor(std::move(m));
}

unsigned long LandmarkPredictor::num_parts() const { return static_cast<unsigned long>(model_->dims / 2); }

dlib::full_object_detection LandmarkPredictor::operator()(const dlib::array2d<unsigned char>& image,
                                                          const dlib::rectangle& box) const {
  // How many trees ahead the leaf loop prefetches: enough misses in flight to cover memory latency, not so many
  // that the lines are evicted before use (a leaf is 9 cache lines).
  constexpr long kAhead = 8;
  const Model& m = *model_;
  dlib::matrix<float, 0, 1> shape = m.initial_shape;
  std::vector<float> features;
  std::vector<const float*> picked;
  for (size_t level = 0; level + 1 < m.first_tree.size(); ++level) {
    dlib::impl::extract_feature_pixel_values(image, box, shape, m.initial_shape, m.anchor_idx[level],
                                             m.deltas[level], features);
    const long first = m.first_tree[level], trees = m.first_tree[level + 1] - first;
    picked.resize(static_cast<size_t>(trees));
    for (long i = 0; i < trees; ++i) {
      // dlib's regression_tree::operator().
      const Model::Split* split = m.splits.data() + (first + i) * m.splits_per_tree;
      long k = 0;
      while (k < m.splits_per_tree) {
        const Model::Split& s = split[k];
        k = features[s.idx1] - features[s.idx2] > s.thresh ? 2 * k + 1 : 2 * k + 2;
      }
      picked[i] = m.leaves.data() + ((first + i) * m.leaves_per_tree + (k - m.splits_per_tree)) * m.dims;
    }
    float* out = &shape(0);
    for (long i = 0; i < trees; ++i) {
      if (i + kAhead < trees) {
        const char* ahead = reinterpret_cast<const char*>(picked[i + kAhead]);
        const long bytes = m.dims * static_cast<long>(sizeof(float));
        for (long byte = 0; byte < bytes; byte += 64) __builtin_prefetch(ahead + byte);
        __builtin_prefetch(ahead + bytes - 1);  // a leaf need not start on a cache line
      }
      const float* leaf = picked[i];
      for (long d = 0; d < m.dims; ++d) out[d] += leaf[d];
    }
  }
  const dlib::point_transform_affine to_image = dlib::impl::unnormalizing_tform(box);
  std::vector<dlib::point> parts(static_cast<size_t>(m.dims / 2));
  for (size_t i = 0; i < parts.size(); ++i) parts[i] = to_image(dlib::impl::location(shape, i));
  return dlib::full_object_detection(box, parts);
}

}  // namespace iotstream::vision
