#include "motion/motion.h"

#include <turbojpeg.h>

#include <algorithm>
#include <cmath>

namespace iotstream::motion {
namespace {

struct TjDeleter {
  void operator()(void* handle) const { tjDestroy(handle); }
};

// How the sensitivity maps to thresholds: a cell differs when its grey level moved by more than kPixel levels,
// and the frame moved when more than kArea of its unmasked cells differ. At 1/8 scale a cell averages 64 pixels,
// which already smooths sensor noise away.
double PixelThreshold(double sensitivity) { return 8.0 + (1.0 - sensitivity) * 32.0; }
double AreaThreshold(double sensitivity) { return 0.001 + (1.0 - sensitivity) * 0.03; }

// The background follows a still scene quickly (light changes) and a moving one slowly.
constexpr float kLearnStill = 0.2f;
constexpr float kLearnMoving = 0.01f;
constexpr double kSizeLearn = 1.0 / 8;
// A change below this share of the size never counts, whatever the jitter: a person's photo walking into a noisy
// 640x480 scene moved its size by 0.3-1 % (and a detailed one by 7 %) where the noise moved it by 0.2 %.
constexpr double kSizeFloor = 0.004;
constexpr int kSizeWarmup = 4;

}  // namespace

struct Detector::Impl {
  CameraSettings settings;
  std::unique_ptr<void, TjDeleter> tj;
  int width = 0, height = 0;          // of the last frame
  int cols = 0, rows = 0;             // of its 1/8-scale picture
  std::vector<uint8_t> grey;          // that picture
  std::vector<float> background;      // cols * rows, empty until the first frame
  std::vector<uint8_t> ignored;       // cols * rows: 1 where the mask covers the cell
  size_t unmasked = 0;

  void Resize(int w, int h) {
    width = w;
    height = h;
    const tjscalingfactor eighth{1, 8};
    cols = TJSCALED(w, eighth);
    rows = TJSCALED(h, eighth);
    grey.assign(static_cast<size_t>(cols) * rows, 0);
    background.clear();
    ignored.assign(grey.size(), 0);
    for (const Region& r : settings.mask) {
      for (int y = 0; y < rows; ++y) {
        for (int x = 0; x < cols; ++x) {
          const double cx = (x + 0.5) / cols, cy = (y + 0.5) / rows;
          if (cx >= r.x && cx < r.x + r.w && cy >= r.y && cy < r.y + r.h) ignored[static_cast<size_t>(y) * cols + x] = 1;
        }
      }
    }
    unmasked = static_cast<size_t>(std::count(ignored.begin(), ignored.end(), 0));
  }
};

Detector::Detector(CameraSettings settings) : impl_(std::make_unique<Impl>()) {
  impl_->settings = std::move(settings);
}

Detector::~Detector() = default;

bool SizeTrend::Departs(size_t jpeg_bytes) {
  const auto size = static_cast<double>(jpeg_bytes);
  if (seen_ == 0) mean_ = size;
  const double deviation = std::abs(size - mean_);
  const bool departs = seen_ < kSizeWarmup || deviation > std::max(3.0 * deviation_, kSizeFloor * mean_);
  deviation_ += kSizeLearn * (deviation - deviation_);
  mean_ += kSizeLearn * (size - mean_);
  if (seen_ < kSizeWarmup) ++seen_;
  return departs;
}

Result<Change> Detector::Measure(const uint8_t* jpeg, size_t size) {
  Impl& d = *impl_;
  if (!d.tj) d.tj.reset(tjInitDecompress());
  if (!d.tj) return Status::Internal("TurboJPEG cannot start");
  int w = 0, h = 0, subsampling = 0, colorspace = 0;
  if (tjDecompressHeader3(d.tj.get(), jpeg, size, &w, &h, &subsampling, &colorspace) != 0 || w <= 0 || h <= 0) {
    return Status::InvalidArgument("not a JPEG");
  }
  const bool resized = d.width != 0 && (w != d.width || h != d.height);
  if (w != d.width || h != d.height) d.Resize(w, h);
  if (tjDecompress2(d.tj.get(), jpeg, size, d.grey.data(), d.cols, 0, d.rows, TJPF_GRAY, TJFLAG_FASTDCT) != 0 &&
      tjGetErrorCode(d.tj.get()) == TJERR_FATAL) {
    return Status::InvalidArgument(std::string("cannot decode: ") + tjGetErrorStr2(d.tj.get()));
  }
  Change change;
  if (d.background.empty()) {
    d.background.assign(d.grey.begin(), d.grey.end());
    // A camera that changed its picture size shows a new picture: all of it may hold someone new.
    if (resized) change = Change{1.0, true, 0, 0, w, h};
    return change;
  }
  const auto pixel = static_cast<float>(PixelThreshold(d.settings.sensitivity));
  size_t differ = 0;
  int x0 = d.cols, y0 = d.rows, x1 = -1, y1 = -1;
  for (int y = 0; y < d.rows; ++y) {
    for (int x = 0; x < d.cols; ++x) {
      const size_t i = static_cast<size_t>(y) * d.cols + x;
      if (d.ignored[i] != 0 || std::abs(static_cast<float>(d.grey[i]) - d.background[i]) <= pixel) continue;
      ++differ;
      x0 = std::min(x0, x);
      y0 = std::min(y0, y);
      x1 = std::max(x1, x);
      y1 = std::max(y1, y);
    }
  }
  change.changed = d.unmasked == 0 ? 0.0 : static_cast<double>(differ) / static_cast<double>(d.unmasked);
  change.motion = differ > 0 && change.changed > AreaThreshold(d.settings.sensitivity);
  if (differ > 0) {
    change.x = x0 * d.width / d.cols;
    change.y = y0 * d.height / d.rows;
    change.w = std::min(d.width, (x1 + 1) * d.width / d.cols) - change.x;
    change.h = std::min(d.height, (y1 + 1) * d.height / d.rows) - change.y;
  }
  const float learn = change.motion ? kLearnMoving : kLearnStill;
  for (size_t i = 0; i < d.background.size(); ++i) {
    d.background[i] += learn * (static_cast<float>(d.grey[i]) - d.background[i]);
  }
  return change;
}

}  // namespace iotstream::motion
