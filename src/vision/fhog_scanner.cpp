#include "vision/fhog_scanner.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <stdexcept>
#include <string>

namespace iotstream::vision {
namespace {

constexpr long kTaps = 10;       // filter width and height, in cells
constexpr long kFirst = kTaps / 2;  // dlib's first filtered row/column (float_spatially_filter_image_separable)
constexpr long kBlockCols = 32;  // columns per block: four 8-float vectors
constexpr long kBlockRows = 2;

// GCC's vector extension: AVX with -march=native on such a CPU, two SSE registers on baseline x86-64.
typedef float V8 __attribute__((vector_size(32)));

inline V8 Load(const float* p) {
  V8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void Store(float* p, V8 v) { std::memcpy(p, &v, sizeof v); }

long RoundUp(long n, long to) { return (n + to - 1) / to * to; }

// Two rows of 32 outputs at p (the second row_step further on): sum_n w[n] * p[n * tap_step + column], for both
// rows, in eight independent accumulators (the FMAs' latency hidden behind each other).
struct Block {
  V8 a[4], b[4];
};
inline Block FilterBlock(const float* p, long tap_step, long row_step, const float* w) {
  Block s{};
  for (long n = 0; n < kTaps; ++n) {
    const float* pa = p + n * tap_step;
    const float* pb = pa + row_step;
    for (int v = 0; v < 4; ++v) {
      s.a[v] += Load(pa + 8 * v) * w[n];
      s.b[v] += Load(pb + 8 * v) * w[n];
    }
  }
  return s;
}

// out[r][j] = sum_n in[r][j + n] * f[n] for rows [0, rows) and columns [0, cols); cols a multiple of kBlockCols,
// rows of kBlockRows, `in` readable to column cols + kTaps - 2 of row rows - 1.
void RowPass(const float* in, long in_stride, long rows, long cols, const float* f, float* out, long out_stride) {
  for (long r = 0; r < rows; r += kBlockRows) {
    for (long j = 0; j < cols; j += kBlockCols) {
      const Block s = FilterBlock(in + r * in_stride + j, 1, in_stride, f);
      float* oa = out + r * out_stride + j;
      float* ob = oa + out_stride;
      for (int v = 0; v < 4; ++v) {
        Store(oa + 8 * v, s.a[v]);
        Store(ob + 8 * v, s.b[v]);
      }
    }
  }
}

// acc[i][j] += sum_m in[i + m][j] * g[m] for rows [0, rows) and columns [0, cols), same block rules as RowPass.
void ColumnPassAdd(const float* in, long stride, long rows, long cols, const float* g, float* acc) {
  for (long i = 0; i < rows; i += kBlockRows) {
    for (long j = 0; j < cols; j += kBlockCols) {
      const Block s = FilterBlock(in + i * stride + j, stride, stride, g);
      float* oa = acc + i * stride + j;
      float* ob = oa + stride;
      for (int v = 0; v < 4; ++v) {
        Store(oa + 8 * v, Load(oa + 8 * v) + s.a[v]);
        Store(ob + 8 * v, Load(ob + 8 * v) + s.b[v]);
      }
    }
  }
}

}  // namespace

struct FhogScanner::Filters {
  struct Term {
    size_t detector;
    std::array<float, kTaps> row;  // along a feature row (dlib's row filter)
    std::array<float, kTaps> col;  // down a feature column
  };
  std::vector<std::vector<Term>> planes;  // planes[p]: every sub-detector's terms on feature plane p, in dlib's order
  std::vector<double> thresholds;         // per sub-detector: a window scores a hit at >= threshold
};

FhogScanner::FhogScanner(const dlib::frontal_face_detector& detector) : detector_(detector) {
  auto filters = std::make_shared<Filters>();
  const auto& scanner = detector_.get_scanner();
  const size_t planes = scanner.get_feature_extractor().get_num_planes();
  if (scanner.get_cell_size() < 2) throw std::invalid_argument("FhogScanner: cell size below 2");
  if (planes != FhogExtractor::kPlanes) throw std::invalid_argument("FhogScanner: not dlib's 31-plane FHOG");
  filters->planes.resize(planes);
  for (size_t d = 0; d < detector_.num_detectors(); ++d) {
    const auto& processed = detector_.get_processed_w(d);
    const auto& bank = processed.get_detect_argument();
    if (bank.filters.size() != planes || bank.filters[0].nr() != kTaps || bank.filters[0].nc() != kTaps) {
      throw std::invalid_argument("FhogScanner: sub-detector " + std::to_string(d) + " has no " +
                                  std::to_string(planes) + " x 10x10 filters");
    }
    // dlib's apply_filters_to_fhog filters with the full 10x10 filters beyond this many separable terms.
    if (static_cast<double>(bank.num_separable_filters()) > planes * kTaps / 3.0) {
      throw std::invalid_argument("FhogScanner: sub-detector " + std::to_string(d) + " is not separable enough");
    }
    for (size_t p = 0; p < planes; ++p) {
      for (size_t t = 0; t < bank.row_filters[p].size(); ++t) {
        Filters::Term term{d, {}, {}};
        for (long n = 0; n < kTaps; ++n) {
          term.row[n] = bank.row_filters[p][t](n);
          term.col[n] = bank.col_filters[p][t](n);
        }
        filters->planes[p].push_back(term);
      }
    }
    filters->thresholds.push_back(processed.w(scanner.get_num_dimensions()));
  }
  filters_ = std::move(filters);
  saliency_.resize(detector_.num_detectors());
  hits_.resize(detector_.num_detectors());
}

FhogScanner::FhogScanner(const FhogScanner& other)
    : detector_(other.detector_),
      filters_(other.filters_),
      saliency_(other.saliency_.size()),
      hits_(other.hits_.size()) {}

void FhogScanner::Detect(const dlib::array2d<unsigned char>& image, double adjust_threshold,
                         std::vector<dlib::rect_detection>* dets) {
  const auto& scanner = detector_.get_scanner();
  const long window_rows = static_cast<long>(scanner.get_fhog_window_height());
  const long window_cols = static_cast<long>(scanner.get_fhog_window_width());
  const long box_rows = window_rows - 2 * static_cast<long>(scanner.get_padding());
  const long box_cols = window_cols - 2 * static_cast<long>(scanner.get_padding());
  const int cell_size = static_cast<int>(scanner.get_cell_size());
  dlib::pyramid_down<6> pyr;
  // As dlib's impl::create_fhog_pyramid: as many levels as keep the image at least the minimum layer size.
  unsigned long levels = 0;
  dlib::rectangle extent = dlib::get_rect(image);
  do {
    extent = pyr.rect_down(extent);
    ++levels;
  } while (extent.width() >= scanner.get_min_pyramid_layer_width() &&
           extent.height() >= scanner.get_min_pyramid_layer_height() && levels < scanner.get_max_pyramid_levels());
  if (pyramid_.max_size() < levels) pyramid_.set_max_size(levels);
  pyramid_.set_size(levels);
  extractor_(image, cell_size, static_cast<int>(window_rows), static_cast<int>(window_cols), &pyramid_[0]);
  for (unsigned long level = 1; level < levels; ++level) {
    downsample_(level == 1 ? image : level_image_, &next_image_);
    dlib::swap(level_image_, next_image_);
    extractor_(level_image_, cell_size, static_cast<int>(window_rows), static_cast<int>(window_cols),
               &pyramid_[level]);
  }

  const size_t detectors = filters_->thresholds.size();
  for (auto& h : hits_) h.clear();
  for (unsigned long level = 0; level < pyramid_.size(); ++level) {
    const auto& feats = pyramid_[level];
    const long nr = feats[0].nr(), nc = feats[0].nc();
    const long valid_rows = nr - kTaps + 1, valid_cols = nc - kTaps + 1;
    if (valid_rows <= 0 || valid_cols <= 0) continue;
    // Whole blocks everywhere: the extra rows and columns are computed from zero padding and never read.
    const long rows = RoundUp(valid_rows, kBlockRows);
    const long cols = RoundUp(valid_cols, kBlockCols);
    const long plane_stride = RoundUp(cols + kTaps - 1, 8);
    const long plane_rows = RoundUp(rows + kTaps - 1, kBlockRows);
    plane_.assign(static_cast<size_t>(plane_rows * plane_stride), 0.0f);
    rows_.resize(static_cast<size_t>(plane_rows * cols));
    for (auto& s : saliency_) s.assign(static_cast<size_t>(rows * cols), 0.0f);

    for (size_t p = 0; p < filters_->planes.size(); ++p) {
      const auto& terms = filters_->planes[p];
      if (terms.empty()) continue;
      const float* src = &feats[p][0][0];
      for (long r = 0; r < nr; ++r) {
        std::memcpy(plane_.data() + r * plane_stride, src + r * nc, static_cast<size_t>(nc) * sizeof(float));
      }
      for (const auto& term : terms) {
        RowPass(plane_.data(), plane_stride, plane_rows, cols, term.row.data(), rows_.data(), cols);
        ColumnPassAdd(rows_.data(), cols, rows, cols, term.col.data(), saliency_[term.detector].data());
      }
    }

    for (size_t d = 0; d < detectors; ++d) {
      const double thresh = filters_->thresholds[d] + adjust_threshold;
      const float* s = saliency_[d].data();
      for (long i = 0; i < valid_rows; ++i) {
        for (long j = 0; j < valid_cols; ++j) {
          const float score = s[i * cols + j];
          if (score < thresh) continue;
          const dlib::point at(j + kFirst, i + kFirst);
          dlib::rectangle rect = scanner.get_feature_extractor().feats_to_image(
              dlib::centered_rect(at, box_cols, box_rows), cell_size, window_rows, window_cols);
          hits_[d].emplace_back(score, pyr.rect_up(rect, level));
        }
      }
    }
  }

  // As object_detector::operator(): each sub-detector's hits best first, then all of them best first, then non-max
  // suppression across sub-detectors with the detector's overlap tester.
  std::vector<dlib::rect_detection> all;
  for (size_t d = 0; d < detectors; ++d) {
    std::sort(hits_[d].rbegin(), hits_[d].rend(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [score, rect] : hits_[d]) {
      all.push_back(dlib::rect_detection{score - filters_->thresholds[d], d, rect});
    }
  }
  std::sort(all.rbegin(), all.rend());
  dets->clear();
  const auto& overlaps = detector_.get_overlap_tester();
  for (const auto& det : all) {
    const bool suppressed = std::any_of(dets->begin(), dets->end(),
                                        [&](const dlib::rect_detection& kept) { return overlaps(kept.rect, det.rect); });
    if (!suppressed) dets->push_back(det);
  }
}

}  // namespace iotstream::vision
