#include "core/frame_sink.h"

#include <memory>
#include <mutex>

namespace iotstream {

void FrameHandOff::AddSink(FrameSink* sink, bool wait_on_stream) { sinks_.push_back({sink, wait_on_stream}); }

void FrameHandOff::Publish(const FramePtr& frame) {
  for (const auto& s : sinks_) s.sink->Offer(frame, FramePath::kFast, nullptr);
}

void FrameHandOff::PublishAndWait(const FramePtr& frame, DoneCallback done) {
  struct Join {
    std::mutex mu;
    size_t pending = 0;
    Status first_error;
    DoneCallback done;
  };
  auto join = std::make_shared<Join>();
  for (const auto& s : sinks_) join->pending += s.wait ? 1 : 0;
  if (join->pending == 0) {
    for (const auto& s : sinks_) s.sink->Offer(frame, FramePath::kStream, nullptr);
    done(Status::Ok());
    return;
  }
  join->done = std::move(done);
  for (const auto& s : sinks_) {
    if (!s.wait) {
      s.sink->Offer(frame, FramePath::kStream, nullptr);
      continue;
    }
    s.sink->Offer(frame, FramePath::kStream, [join](Status st) {
      DoneCallback fire;
      Status result;
      {
        std::lock_guard lock(join->mu);
        if (!st.ok() && join->first_error.ok()) join->first_error = st;
        if (--join->pending == 0) {
          fire = std::move(join->done);
          result = join->first_error;
        }
      }
      if (fire) fire(result);
    });
  }
}

}  // namespace iotstream
