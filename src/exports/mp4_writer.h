// Mp4Writer: camera JPEGs in, an H.264 MP4 file out (FFmpeg's libavformat/libavcodec with libx264, libswscale,
// and libturbojpeg for the decode). The file plays in browsers and VLC: yuv420p, even dimensions, the index at the
// front (+faststart), variable frame rate: each frame lasts until the next one's time, so the video keeps the pace
// the camera had.
//
// Thread-safety: none; one thread uses a writer. Blocking (CPU and disk): never on an I/O thread. The first Create
// lowers FFmpeg's process-wide log level to warnings.
// Ownership: the writer owns the FFmpeg contexts and the open file; the destructor of an unfinished writer closes
// and removes the file.
// Errors: InvalidArgument for a JPEG that does not decode (the writer stays usable), Unavailable when this
// libavcodec has no H.264 encoder, IOError for the file, Internal for any other FFmpeg failure (the writer is then
// unusable: Finish fails).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace iotstream::exports {

struct Mp4Options {
  int crf = 23;                          // x264 quality: lower is better and bigger
  std::string preset = "veryfast";       // x264 speed preset
  int threads = 1;                       // encoder threads: the box has two cores and cameras come first
};

class Mp4Writer {
 public:
  // A video to be written at `path` (a file there is removed; the new one is created with the first frame). The
  // video's size is the first frame's, rounded down to even numbers; later frames of another size are scaled to it.
  static Result<std::unique_ptr<Mp4Writer>> Create(const std::string& path, const Mp4Options& options);
  ~Mp4Writer();
  Mp4Writer(const Mp4Writer&) = delete;
  Mp4Writer& operator=(const Mp4Writer&) = delete;

  // Appends a frame shown from `time_ms` (the video starts at the first frame's time, whatever its value).
  // REQUIRES: time_ms greater than the previous frame's (a frame with a time not after it is shown 1 ms later).
  Status Add(std::string_view jpeg, int64_t time_ms);
  // Ends the video at `end_ms` (the last frame lasts until then, at least 1 ms), writes the index and closes the
  // file. InvalidArgument when no frame was added. The writer takes no frame after this.
  Status Finish(int64_t end_ms);

  // Frames added, and their video size (0 before the first).
  int64_t frames() const;
  int width() const;
  int height() const;

 private:
  struct Impl;
  explicit Mp4Writer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace iotstream::exports
