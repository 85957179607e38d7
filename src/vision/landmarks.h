// Private to src/vision. LandmarkPredictor: dlib's shape_predictor (the 68-point landmark model) with a faster
// evaluation.
//
// Why: each of the model's 15 cascade levels walks 500 regression trees and adds one leaf of each (a vector of 136
// floats) to the shape, picked from 62 MB of leaves: nearly every leaf is a cache miss. dlib's loop walks a tree
// (branches that mispredict) between one leaf and the next, so few of those misses are in flight at once: 1.2-1.5
// ms per face measured alone here, most of the align stage. This predictor walks all the trees of a level
// first, then adds their leaves in the same order, prefetching a few trees ahead, from one contiguous array that
// clones share (dlib's shape_predictor copies the model into each engine). The same float additions in the same
// order: the landmarks are exactly dlib's.
//
// Thread-safety: operator() is const and keeps no state; clones share the immutable model.
#pragma once

#include <istream>
#include <memory>

#include <dlib/image_processing/full_object_detection.h>
#include <dlib/array2d.h>

#include "core/status.h"

namespace iotstream::vision {

class LandmarkPredictor {
 public:
  // Reads a file written by dlib's serialize(shape_predictor). InvalidArgument if it is not one (or its trees are
  // not complete binary trees of one size).
  static Result<LandmarkPredictor> Load(std::istream& in);

  unsigned long num_parts() const;

  // The landmarks of the face in `box` of `image`: what dlib's shape_predictor gives.
  dlib::full_object_detection operator()(const dlib::array2d<unsigned char>& image, const dlib::rectangle& box) const;

 private:
  struct Model;
  explicit LandmarkPredictor(std::shared_ptr<const Model> model);
  std::shared_ptr<const Model> model_;
};

}  // namespace iotstream::vision
