#include <dlib/clustering.h>

#include <unordered_map>

#include "vision/vision.h"

namespace iotstream::vision {

std::vector<size_t> ClusterFaces(const std::vector<Descriptor>& faces, float link_distance) {
  std::vector<dlib::sample_pair> edges;
  const float limit = link_distance * link_distance;
  for (size_t i = 0; i < faces.size(); ++i) {
    edges.emplace_back(i, i);  // a face alone is a group of its own
    for (size_t j = i + 1; j < faces.size(); ++j) {
      float d2 = 0;
      for (size_t k = 0; k < kDescriptorSize; ++k) {
        const float diff = faces[i][k] - faces[j][k];
        d2 += diff * diff;
      }
      if (d2 < limit) edges.emplace_back(i, j);
    }
  }
  std::vector<unsigned long> labels;
  dlib::chinese_whispers(edges, labels);
  // dlib's labels follow its own order; renumber by each group's first face so callers get a stable order.
  std::unordered_map<unsigned long, size_t> renumbered;
  std::vector<size_t> out(faces.size());
  for (size_t i = 0; i < faces.size(); ++i) {
    out[i] = renumbered.try_emplace(labels[i], renumbered.size()).first->second;
  }
  return out;
}

}  // namespace iotstream::vision
