// motion: how much a camera's picture changed, cheaply enough to watch every camera all the time, so that
// recognition spends its CPU on frames where something happened.
//
// Two measures per camera, both against that camera's own history:
//  - SizeTrend: free. A JPEG's compressed size follows its content; a still scene keeps it within a small jitter, and
//    something entering the picture moves it. Called for every frame.
//  - Measure: a 1/8-scale greyscale decode (TurboJPEG skips the inverse DCT's detail; the entropy decoding remains,
//    ~0.3-0.9 ms for a 640x480 frame here) compared cell by cell with a running background. Called for the frames
//    the size flags and a few others a second, as the scheduler (vision/pool.h) decides.
// The verdict uses the camera's CameraSettings: its sensitivity and a mask of regions to ignore (a tree, a TV).
//
// Thread-safety: neither class is thread-safe; their owner makes one call at a time (the recognition pool keeps a
// camera's SizeTrend under its lock and runs at most one job, so one Measure, per camera). Distinct objects share
// nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.h"

namespace iotstream::motion {

// A rectangle as fractions of the frame's width and height (0..1), so it holds at any resolution.
struct Region {
  double x = 0, y = 0, w = 0, h = 0;
};

struct CameraSettings {
  // 0..1: at 0 only a change over a large part of the picture counts, at 1 a small one (about a face at 5 m) does.
  double sensitivity = 0.6;
  std::vector<Region> mask;  // changes inside these regions are ignored
};

struct MotionOptions {
  CameraSettings defaults;                                  // for every camera not listed below
  std::unordered_map<std::string, CameraSettings> cameras;  // by device id
  const CameraSettings& For(const std::string& device_id) const {
    const auto it = cameras.find(device_id);
    return it == cameras.end() ? defaults : it->second;
  }
};

// What Measure saw. The box is in the frame's own pixels (all zero when nothing changed).
struct Change {
  double changed = 0;  // share of the unmasked cells that differ from the background
  bool motion = false;  // changed is above the camera's threshold
  int x = 0, y = 0, w = 0, h = 0;  // the changed cells' bounding box
};

// A camera's recent compressed sizes: running mean and mean absolute deviation over about the last eight frames.
class SizeTrend {
 public:
  // Whether this frame's size departs from the recent ones (by more than three deviations and 0.4 %), and so is
  // worth a Measure. The first frames always do. Learns the size either way.
  bool Departs(size_t jpeg_bytes);

 private:
  double mean_ = 0, deviation_ = 0;
  int seen_ = 0;
};

class Detector {
 public:
  explicit Detector(CameraSettings settings);
  ~Detector();
  Detector(const Detector&) = delete;
  Detector& operator=(const Detector&) = delete;

  // Decodes the JPEG at 1/8 scale and compares it with the background, which it then updates (quickly while the
  // scene is still, slowly while it moves, so that a parked car becomes background within a minute or so). The
  // first frame only sets the background (no motion); one of another size than the last is motion over the whole
  // picture and the new background. InvalidArgument when the bytes do not decode.
  Result<Change> Measure(const uint8_t* jpeg, size_t size);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace iotstream::motion
