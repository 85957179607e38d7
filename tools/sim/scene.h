// A generated camera scene for iotstream-sim: a fixed background that a face photo walks into, stands in and walks
// out of at set times of a repeating cycle, encoded once into JPEGs (TurboJPEG), so motion and recognition can be
// exercised without a camera. Thread-safety: MakeScene is reentrant; a ClockedCamera belongs to one thread, while
// the JpegSet it serves is immutable and shared.
#pragma once

#include <cstdint>
#include <string>

#include "host/posix_io.h"
#include "uploader/interfaces.h"

namespace iotstream::sim {

struct SceneOptions {
  int width = 640;
  int height = 480;
  int quality = 80;             // JPEG quality of every frame
  double fps = 10;              // frames per second of scene time
  double cycle_s = 10;          // the scene repeats after this long
  // Within a cycle: absent until enter_s, walks in from the left until stand_s, stands in the middle until
  // leave_s, walks out to the right until gone_s, absent after.
  double enter_s = 2;
  double stand_s = 4;
  double leave_s = 6;
  double gone_s = 8;
  int face_height = 300;        // the photo is scaled (aspect kept) to this height, and narrower than the frame
};

// Encodes one cycle of the scene with `face_jpeg` as the walker: round(cycle_s * fps) frames (at least one).
// Returns an empty set and sets `*error` when the photo cannot be decoded or a frame not encoded.
firmware::JpegSet MakeScene(const std::string& face_jpeg, const SceneOptions& options, std::string* error);

// Serves the frame of a JpegSet that matches the time since its construction (frame = elapsed * fps, wrapping,
// shifted by `offset` frames), so a camera that skipped slots still shows the scene on time. REQUIRES: the set is
// not empty; `clock` outlives the camera.
class ClockedCamera final : public firmware::Camera {
 public:
  ClockedCamera(firmware::JpegSet frames, firmware::Clock& clock, double fps, size_t offset);
  bool Grab(firmware::FrameView* frame) override;
  void Release() override {}

 private:
  firmware::JpegSet frames_;
  firmware::Clock& clock_;
  double fps_;
  size_t offset_;
  uint64_t start_us_;
};

}  // namespace iotstream::sim
