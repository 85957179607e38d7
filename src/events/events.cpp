#include "events/events.h"

#include <algorithm>
#include <cmath>

#include "core/clock.h"
#include "core/log.h"
#include "events/schema.h"
#include "vision/thumbnail.h"

namespace iotstream::events {

EventHub::EventHub(EventOptions options, store::Records& records, vision::Gallery& gallery, const EventBus& bus,
                   Metrics& metrics)
    : options_(options),
      records_(records),
      gallery_(gallery),
      bus_(bus),
      recognised_(metrics.counter("events_person_recognised_total", "person_recognised events recorded")),
      unknown_(metrics.counter("events_unknown_face_total", "unknown_face events recorded")),
      suppressed_(metrics.counter("events_deduplicated_total", "face sightings folded into an earlier event")),
      errors_(metrics.counter("events_store_errors_total", "events that could not be stored")),
      frame_to_event_(metrics.histogram("events_frame_to_event_seconds",
                                        "from a frame's arrival to its event being published")) {}

void EventHub::OnRecognition(const FramePtr& frame, const vision::Recognition& recognition) {
  for (const auto& rf : recognition.faces) {
    const bool known = rf.match.person_id.has_value();
    const std::string key = frame->device_id() + "\n" + (known ? std::to_string(*rf.match.person_id) : "?");
    const int64_t now = NowMs();
    {
      std::lock_guard lock(mu_);
      auto [it, inserted] = last_event_ms_.try_emplace(key, now);
      if (!inserted && now - it->second < options_.dedup_window_ms) {
        suppressed_.Add();
        continue;
      }
      it->second = now;
    }
    store::EventRecord e;
    e.type = known ? type::kPersonRecognised : type::kUnknownFace;
    e.ts_ms = now;
    e.device_id = frame->device_id();
    e.frame_id = frame->id();
    if (known) {
      e.person_id = rf.match.person_id;
      e.name = rf.match.name;
    } else if (rf.match.nearest_person_id >= 0) {
      e.person_id = rf.match.nearest_person_id;  // the nearest, for the record; not a match
    }
    e.distance = std::isfinite(rf.match.distance) ? std::round(static_cast<double>(rf.match.distance) * 1e4) / 1e4 : -1.0;
    e.box_x = rf.face.box.x;
    e.box_y = rf.face.box.y;
    e.box_w = rf.face.box.w;
    e.box_h = rf.face.box.h;
    e.descriptor.assign(rf.face.descriptor.begin(), rf.face.descriptor.end());
    auto thumb = vision::FaceThumbnail(rf.face);
    if (Status st = records_.AppendEvent(&e, thumb.ok() ? std::string_view(thumb.value()) : std::string_view());
        !st.ok()) {
      errors_.Add();
      IOT_LOG(kWarn) << "events: cannot store " << e.type << " of " << e.device_id << ": " << st.ToString();
      continue;
    }
    (known ? recognised_ : unknown_).Add();
    bus_.Publish(RecognitionEvent(e, frame->meta().received_ts_ms));
    frame_to_event_.Record((NowMs() - frame->meta().received_ts_ms) * 1000);
  }
}

Status EventHub::Feedback(int64_t event_id, bool correct) {
  auto event = records_.GetEvent(event_id);
  if (!event.ok()) return event.status();
  if (Status st = records_.SetFeedback(event_id, correct); !st.ok()) return st;
  const auto& e = event.value();
  if (correct || e.type != type::kPersonRecognised || !e.person_id) return Status::Ok();
  auto negative = records_.AddNegative(*e.person_id, e.descriptor);
  if (!negative.ok()) return negative.status();
  vision::Descriptor d{};
  std::copy_n(e.descriptor.begin(), std::min(e.descriptor.size(), d.size()), d.begin());
  return gallery_.AddNegative(*e.person_id, negative.value().face_id, d);
}

}  // namespace iotstream::events
