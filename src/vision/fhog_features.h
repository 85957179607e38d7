// Private to src/vision. FhogExtractor: dlib's extract_fhog_features for grey images, computed faster.
//
// Why: with FhogScanner's filter pass, dlib's FHOG extraction was two thirds of a 640x480 face detection. For grey
// pixels dlib gathers each 8-pixel gradient vector one byte at a time, and every pixel votes into four cells of an
// array of 18-float matrices (four scattered adds). Here a row's gradients, magnitudes and orientations are plain
// float arrays the compiler vectorises; each pixel votes into two cells of a row histogram, which is then added to
// the two cell rows it straddles with its vertical weights; each block's normaliser is computed once, not once per
// cell that uses it; features are written a plane row at a time. Same algorithm (Felzenszwalb et al.'s, as in
// dlib/image_transforms/fhog.h), same 31 planes, same layout and zero border: the features equal dlib's up to the
// order of float additions (tests/vision/fhog_features_test: at most 1.8e-7 apart on the test photos). A pixel whose
// gradient lies exactly between two orientations could round to the other one than in dlib (FMA contraction of the
// dot products): none did there.
//
// Thread-safety: operator() uses the extractor's scratch: one extractor per thread.
#pragma once

#include <cstddef>
#include <vector>

#include <dlib/array.h>
#include <dlib/array2d.h>

namespace iotstream::vision {

class FhogExtractor {
 public:
  static constexpr int kPlanes = 31;  // 18 contrast-sensitive + 9 insensitive orientations + 4 texture

  // What dlib::extract_fhog_features(image, *hog, cell_size, filter_rows_padding, filter_cols_padding) computes for
  // this image: 31 planes, empty if the image has fewer than 3 cells in either direction. cell_size >= 2.
  void operator()(const dlib::array2d<unsigned char>& image, int cell_size, int filter_rows_padding,
                  int filter_cols_padding, dlib::array<dlib::array2d<float>>* hog);

 private:
  std::vector<float> hist_;       // [18 bins][cells_nr + 2][cells_nc + 2], orientation histograms
  std::vector<float> row_hist_;   // [18 bins][cells_nc + 2], one pixel row's votes
  std::vector<float> energy_;     // [cells_nr][cells_nc]
  std::vector<float> clip_;       // [cells_nr - 1][cells_nc - 1]: 0.2 * block norm, each 2x2 block
  std::vector<float> scale_;      // [cells_nr - 1][cells_nc - 1]: 0.1 / clip
  std::vector<float> texture_;    // [4][hog_nc], one row's texture sums
  std::vector<float> gx_, gy_, magnitude_;
  std::vector<float> best_dot_;
  std::vector<int> bin_, cell_x_;
  std::vector<float> weight_x0_, weight_x1_;
};

}  // namespace iotstream::vision
