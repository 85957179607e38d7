// FrameSink and FrameHandOff: how an accepted camera frame reaches every consumer (storage, live view,
// recognition) without the producer knowing who they are. `app` registers the sinks; `api` hands each frame off.
#pragma once

#include <functional>
#include <vector>

#include "core/frame.h"
#include "core/status.h"

namespace iotstream {

// How the camera that sent a frame is answered, which decides what the sinks owe it.
enum class FramePath {
  kFast,    // answered before the hand-off: no sink reports back
  kStream,  // answered once every sink registered with wait_on_stream reported through its DoneCallback
};

// Called exactly once, from any thread, when a sink is done with a frame it was asked to report on:
// OK when done (e.g. durably stored), Unavailable when it dropped the frame (e.g. queue full).
using DoneCallback = std::function<void(Status)>;

// A consumer of frames. Implementations are thread-safe and Offer() never blocks: a sink that cannot take a
// frame drops it, counts the drop, and (when `done` is set) reports Unavailable through it.
class FrameSink {
 public:
  virtual ~FrameSink() = default;
  // `done` is set only on FramePath::kStream and only for a sink registered with wait_on_stream; it must then
  // be called exactly once.
  virtual void Offer(const FramePtr& frame, FramePath path, DoneCallback done) = 0;
};

// The fan-out from the upload handlers to the sinks. Thread-safe once the sinks are registered.
class FrameHandOff {
 public:
  // REQUIRES: called before the first Publish; `sink` outlives the hand-off. `wait_on_stream`: a stream-path
  // answer waits for this sink's DoneCallback.
  void AddSink(FrameSink* sink, bool wait_on_stream);

  // The fast path: offers the frame to every sink without waiting.
  void Publish(const FramePtr& frame);
  // The stream path: offers the frame to every sink; `done` runs once every waited-on sink reported, with the
  // first non-OK status among them (or OK), at once when no sink is waited on.
  void PublishAndWait(const FramePtr& frame, DoneCallback done);

 private:
  struct Entry {
    FrameSink* sink;
    bool wait;
  };
  std::vector<Entry> sinks_;
};

}  // namespace iotstream
