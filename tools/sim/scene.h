// Generated camera scenes for iotstream-sim, encoded once into JPEGs (TurboJPEG), so motion and recognition can be
// exercised without a camera: a fixed background that a face photo walks into, stands in and walks out of at set
// times of a repeating cycle (MakeScene); and the pieces of scripted appearances (appearances.h): the background
// alone with sensor noise, and a photo walking past. Thread-safety: the Make functions are reentrant; a
// ClockedCamera belongs to one thread, while the JpegSets are immutable and shared.
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
  int face_height = 300;        // the photo is scaled (aspect kept) to this height, at most 2/3 of the frame wide
};

// Encodes one cycle of the scene with `face_jpeg` as the walker: round(cycle_s * fps) frames (at least one).
// Returns an empty set and sets `*error` when the photo cannot be decoded or a frame not encoded.
firmware::JpegSet MakeScene(const std::string& face_jpeg, const SceneOptions& options, std::string* error);

// Encodes `count` frames of the scene's background alone, each with its own sensor noise (+-`noise` levels per
// pixel and channel, seeded by the frame's index), so that a still camera's JPEGs differ from frame to frame as a
// real one's do. Uses options' width, height and quality. Returns an empty set and sets `*error` when a frame
// cannot be encoded.
firmware::JpegSet MakeBackgrounds(const SceneOptions& options, int count, int noise, std::string* error);

// Encodes `count` frames (at least one) of `photo_jpeg` walking past over the background: scaled as MakeScene's
// walker (options.face_height), it moves at a steady pace from the frame's left edge to its right edge and is fully
// inside the frame in every frame (the one frame of a clip of one is the middle). Each frame has the noise of
// MakeBackgrounds' frame of the same index. Returns an empty set and sets `*error` when the photo cannot be
// decoded or a frame not encoded.
firmware::JpegSet MakeWalkPast(const std::string& photo_jpeg, const SceneOptions& options, int count, int noise,
                               std::string* error);

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
