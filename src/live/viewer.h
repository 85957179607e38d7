// Private to live/: the viewer interface the hub fans out to, and the frame as viewers send it.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "core/frame.h"
#include "http/connection.h"

namespace iotstream::live {

// A frame plus its /ws binary header, built once per frame and shared by every viewer.
// Header layout (all integers big-endian): u16 header length H | u8 version (1) | u8 device id length L |
// u64 frame id | i64 capture time (ms since epoch) | L bytes device id; the JPEG follows at offset H.
struct LiveFrame {
  FramePtr frame;
  std::string ws_header;
};
using LiveFramePtr = std::shared_ptr<const LiveFrame>;

LiveFramePtr MakeLiveFrame(FramePtr frame);

// One connected viewer. Post* and Close may be called from any thread; the work happens on the viewer's
// own executor. Wants() is thread-safe.
class Viewer {
 public:
  virtual ~Viewer() = default;
  // The single-threaded executor the viewer's work runs on (its strand).
  virtual http::Executor executor() const = 0;
  virtual void PostFrame(const LiveFramePtr& frame) = 0;
  // PostFrame's work, done now: a frame it does not want is ignored. REQUIRES: called on executor().
  virtual void DeliverFrame(const LiveFramePtr& frame) = 0;
  // Queues an event for the viewer; false when this kind of viewer carries no events (MJPEG, per-device sockets).
  virtual bool PostEvent(const std::shared_ptr<const std::string>& json) = 0;
  virtual void Close() = 0;
  virtual bool Wants(const std::string& device_id) const = 0;
  virtual nlohmann::json Describe() const = 0;
};

}  // namespace iotstream::live
