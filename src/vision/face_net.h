// Private to src/vision. dlib's ResNet face descriptor network ("anet_type" of dlib's dnn_face_recognition_ex.cpp)
// filled with face-api's weights. The dlib types stay in face_net.cpp, the one heavy translation unit.
// Thread-safety: none; one FaceNet per thread (Clone()).
#pragma once

#include <memory>
#include <vector>

#include "core/status.h"
#include "vision/vision.h"
#include "vision/weights.h"

namespace iotstream::vision {

class FaceNet {
 public:
  // Builds the network and copies `weights` into it (filters HWIO -> dlib OIHW). InvalidArgument if a tensor does
  // not fit its layer (the loader has already checked shapes, so this means a broken invariant).
  static Result<std::unique_ptr<FaceNet>> Create(const WeightSet& weights);
  ~FaceNet();
  FaceNet(const FaceNet&) = delete;
  FaceNet& operator=(const FaceNet&) = delete;

  std::unique_ptr<FaceNet> Clone() const;

  // chips: each kChipSize*kChipSize*3 RGB bytes. Appends one descriptor per chip to *out.
  // REQUIRES: every chip has the right size. Internal (dlib exception) on failure.
  Status Describe(const std::vector<const std::vector<uint8_t>*>& chips, std::vector<Descriptor>* out);

 private:
  struct Impl;
  explicit FaceNet(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace iotstream::vision
