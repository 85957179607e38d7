// Private to src/vision. PyramidDown6: one level of dlib's pyramid_down<6> for grey images, the same bytes, faster.
//
// Why: the face detector's image pyramid (5/6 per level) took ~2.3 ms of a 640x480 detection. dlib's resize_image
// (bilinear, its 4-wide grey path) works out each output column's source position and weights again on every row
// and gathers the 16 source pixels of every 4 outputs one at a time. Those depend on the column only: this makes
// them once per level, gathers each source row once (an output row shares its source rows with its neighbours)
// and blends whole rows (~1.0 ms for all levels). The arithmetic is dlib's, operation for operation, including
// where GCC fuses dlib's multiply-adds when FMA is available, so the bytes are dlib's; tests/vision/pyramid_test
// checks that. REQUIRES the 5/6 scale: the vector part's columns then never outrun the output row.
//
// Thread-safety: none (scratch buffers); one per thread.
#pragma once

#include <vector>

#include <dlib/array2d.h>

namespace iotstream::vision {

class PyramidDown6 {
 public:
  // `out` becomes what dlib::pyramid_down<6>()(in, out) makes: (5 * rows / 6) x (5 * cols / 6) pixels.
  // REQUIRES: &in != out.
  void operator()(const dlib::array2d<unsigned char>& in, dlib::array2d<unsigned char>* out);

 private:
  // Per output column of dlib's vector part: the left source column and the two bilinear weights.
  std::vector<int> left_;
  std::vector<float> frac_, inv_frac_;
  // One source row gathered at left_ and left_ + 1, for the row above and the row below.
  std::vector<float> top_left_, top_right_, bottom_left_, bottom_right_;
};

}  // namespace iotstream::vision
