// Scripted appearances for iotstream-sim, for a recognition benchmark: people (a photo each) walk past the cameras
// one at a time on a schedule shared by all cameras, over a still background with sensor noise, and each camera logs
// which appearances it sent and when, so that the benchmark can join them with the server's events.
// Appearance k (k = 0, 1, ...) begins first_s + k * every_s after the run's start, on camera k mod cameras, showing
// photo k mod photos, for appearance_s. Thread-safety: an AppearanceScript is immutable once the run starts and is
// shared by every camera; an AppearanceCamera belongs to its camera's thread and writes only its own log.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "scene.h"
#include "uploader/interfaces.h"

namespace iotstream::sim {

struct AppearanceOptions {
  double first_s = 3;         // quiet warm-up before the first appearance
  double every_s = 1;         // one appearance per this many seconds across all cameras; 0: nobody appears
  double appearance_s = 1.5;  // how long a person is in view
  int cameras = 1;
  double fps = 10;  // of the clips, as of the cameras
};

// A photo of the script and its walk-past clip.
struct AppearancePhoto {
  std::string path;
  std::string person;
  firmware::JpegSet clip;  // round(appearance_s * fps) frames, at least one
};

struct AppearanceScript {
  AppearanceOptions options;
  std::vector<AppearancePhoto> photos;  // in the order of the file; empty: nobody appears
  firmware::JpegSet backgrounds;        // served in turn while a camera shows nobody
  uint64_t start_us = 0;                // the run's start on the cameras' monotonic clock (steady_clock)

  // True when anybody appears.
  bool scheduled() const { return options.every_s > 0 && !photos.empty(); }
  // When appearance k begins, on the cameras' monotonic clock.
  uint64_t StartUs(uint64_t k) const;
};

// Builds a script from `tsv_path` (lines photo_path<TAB>person_name, a JPEG of one person each; blank lines are
// skipped; an empty file, or an empty path that reads none, makes a script where nobody appears): encodes each
// photo's clip (MakeWalkPast, once per distinct path) and `background_count` background frames (MakeBackgrounds),
// with `noise` levels of sensor noise. Returns false and sets `*error` when the options make no schedule (negative
// times, appearance_s <= 0, or appearances on one camera that would overlap: every_s * cameras < appearance_s while
// anybody appears) or a line or photo is unusable. The caller sets start_us when the run starts.
bool MakeAppearanceScript(const std::string& tsv_path, const AppearanceOptions& options, const SceneOptions& scene,
                          int background_count, int noise, AppearanceScript* script, std::string* error);

// One appearance as a camera showed it.
struct AppearanceRecord {
  uint64_t index = 0;  // k of the schedule
  size_t photo = 0;    // into AppearanceScript::photos
  // Wall clock (ms since the epoch) at the first Grab that returned one of its clip frames; when no Grab fell in
  // its window (the camera was waiting for an answer all along), its scheduled start.
  int64_t start_ms = 0;
  uint64_t frames_sent = 0;  // its clip frames grabbed
};

// Camera `index`'s view of the script: the clip frame matching the time since its current appearance began, else
// the background frames in turn. At each Grab it appends to `log` every appearance of this camera that has begun
// since the last one (so one that begins after the camera's last Grab is not logged). REQUIRES: the script has
// backgrounds and start_us set; the script, `clock` and `log` outlive the camera; `clock` is a SteadyClock.
class AppearanceCamera final : public firmware::Camera {
 public:
  AppearanceCamera(const AppearanceScript& script, int index, firmware::Clock& clock,
                   std::vector<AppearanceRecord>* log);
  bool Grab(firmware::FrameView* frame) override;
  void Release() override {}

 private:
  const AppearanceScript& script_;
  firmware::Clock& clock_;
  std::vector<AppearanceRecord>* log_;
  uint64_t next_;      // k of this camera's next appearance not logged yet
  size_t background_;  // the background frame the next Grab serves if nobody is in view
};

}  // namespace iotstream::sim
