// Private to src/vision. FhogScanner: dlib's HOG object_detector (frontal_face_detector) with a faster filter pass.
//
// Why: scanning a 640x480 frame with dlib's frontal_face_detector spends about half its time in
// float_spatially_filter_image_separable: 5 sub-detectors x ~60 separable 10x10 filter terms over every pyramid
// level. dlib's loop keeps three accumulators per output vector (so it waits on FMA latency) and falls back to scalar
// code for each row's last (width - 9) % 8 columns, which on the small pyramid levels is most of the row.
// This scanner keeps dlib's image pyramid (pyramid_down<6>, the levels impl::create_fhog_pyramid would make; the
// downsampling itself is PyramidDown6, pyramid.h: dlib's bytes, computed faster), the
// detector's own separable filter terms and thresholds, its box mapping and its non-max suppression. Its own are the
// FHOG features (FhogExtractor, fhog_features.h: dlib's, computed faster) and the filtering:
// each plane is copied into a zero-padded buffer, and the row and column passes run over 2 rows x 32 columns at a
// time (eight independent accumulators), whole vectors only. The result equals the object_detector's up to the
// order of float additions in each score.
//
// Thread-safety: Detect() uses scratch buffers of the scanner: one scanner per thread (copying is cheap next to a
// detection; the filter terms are shared).
#pragma once

#include <memory>
#include <vector>

#include <dlib/image_processing/frontal_face_detector.h>

#include "vision/fhog_features.h"
#include "vision/pyramid.h"

namespace iotstream::vision {

class FhogScanner {
 public:
  // Takes the detector's configuration and filters. Throws std::invalid_argument if the detector's filters are not
  // 10x10 or dlib would not use their separable form (never the case for frontal_face_detector).
  explicit FhogScanner(const dlib::frontal_face_detector& detector);
  // A copy shares the filters and has scratch of its own.
  FhogScanner(const FhogScanner& other);
  FhogScanner& operator=(const FhogScanner&) = delete;

  // The detections dlib's `detector(image, dets, adjust_threshold)` returns, in the same order (best first).
  void Detect(const dlib::array2d<unsigned char>& image, double adjust_threshold,
              std::vector<dlib::rect_detection>* dets);

  struct Filters;  // the detectors' separable terms, grouped by feature plane

 private:
  dlib::frontal_face_detector detector_;  // configuration, feature extractor, overlap tester
  std::shared_ptr<const Filters> filters_;
  // Scratch, reused between calls.
  FhogExtractor extractor_;
  PyramidDown6 downsample_;                                // dlib's pyramid_down<6>, the same bytes
  dlib::array2d<unsigned char> level_image_, next_image_;  // the image pyramid, two levels at a time
  dlib::array<dlib::array<dlib::array2d<float>>> pyramid_;  // FHOG planes per level
  std::vector<float> plane_;                   // one feature plane, zero-padded
  std::vector<float> rows_;                    // the row pass of one term
  std::vector<std::vector<float>> saliency_;   // per sub-detector
  std::vector<std::vector<std::pair<double, dlib::rectangle>>> hits_;  // per sub-detector
};

}  // namespace iotstream::vision
