#include "events/events.h"

#include <algorithm>
#include <chrono>
#include <optional>

#include "core/clock.h"
#include "core/log.h"
#include "events/schema.h"
#include "vision/thumbnail.h"

namespace iotstream::events {
namespace {

// How long an enrolment's answer waits for its person_added to be logged.
constexpr std::chrono::seconds kEnrolmentLogWait{5};

}  // namespace

EventHub::EventHub(EventOptions options, store::Records& records, vision::Gallery& gallery,
                   const ingest::DeviceRegistry& devices, const EventBus& bus, Metrics& metrics)
    : options_(options),
      records_(records),
      gallery_(gallery),
      devices_(devices),
      bus_(bus),
      recognised_(metrics.counter("events_person_recognised_total", "person_recognised events recorded")),
      unknown_(metrics.counter("events_unknown_face_total", "unknown_face events recorded")),
      suppressed_(metrics.counter("events_deduplicated_total", "face sightings folded into an earlier event")),
      errors_(metrics.counter("events_store_errors_total", "events that could not be stored")),
      dropped_(metrics.counter("events_dropped_total", "events dropped because the event log's queue was full")),
      better_faces_(metrics.counter("events_better_faces_total",
                                    "events whose face was replaced by a better one of the same appearance")),
      frame_to_event_(metrics.histogram("events_frame_to_event_seconds",
                                        "from a frame's arrival to its event being published")),
      writer_([this] { Write(); }) {}

EventHub::~EventHub() {
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  writer_.join();
}

void EventHub::OnRecognition(const FramePtr& frame, const vision::Recognition& recognition) {
  for (const auto& rf : recognition.faces) {
    const bool known = rf.match.person_id.has_value();
    const std::string key = frame->device_id() + "\n" + (known ? std::to_string(*rf.match.person_id) : "?");
    const std::string appearance = rf.track_id != 0 ? frame->device_id() + "\n" + std::to_string(rf.track_id) : "";
    const int64_t now = NowMs();
    Pending p;
    {
      std::lock_guard lock(mu_);
      if (known) presence_[*rf.match.person_id] = Presence{rf.match.name, frame->device_id(), now, false};
      auto seen = appearance.empty() ? appearances_.end() : appearances_.find(appearance);
      if (rf.continued) {  // the same appearance as an earlier recognition of this camera: its event is out
        suppressed_.Add();
        // Its event gets this face when it is clearly better than the ones before.
        if (!rf.better || seen == appearances_.end() || !seen->second.has_event) continue;
        p.better_face = true;
        p.generation = seen->second.generation;
      } else {
        if (!appearance.empty() && seen == appearances_.end()) {
          if (appearances_.size() >= kMaxAppearances) appearances_.clear();
          seen = appearances_.emplace(appearance, Appearance{}).first;
        }
        auto [it, inserted] = last_event_ms_.try_emplace(key, now);
        const bool folded = !inserted && now - it->second < options_.dedup_window_ms;
        if (!folded) it->second = now;
        if (seen != appearances_.end()) {
          Appearance& a = seen->second;
          a = Appearance{rf.match.person_id, rf.match.name, a.generation + 1, !folded, std::nullopt};
          p.generation = a.generation;
        }
        if (folded) {
          suppressed_.Add();
          continue;
        }
      }
    }
    p.appearance = appearance;
    store::EventRecord& e = p.record;
    e.descriptor.assign(rf.face.descriptor.begin(), rf.face.descriptor.end());
    if (auto thumb = vision::FaceThumbnail(rf.face); thumb.ok()) p.thumbnail = std::move(thumb).value();
    if (p.better_face) {
      Queue(std::move(p));
      continue;
    }
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
    e.distance = static_cast<double>(rf.match.distance);
    e.box_x = rf.face.box.x;
    e.box_y = rf.face.box.y;
    e.box_w = rf.face.box.w;
    e.box_h = rf.face.box.h;
    const auto device = devices_.Get(frame->device_id(), now);
    CompleteRecognitionEvent(&e, frame->meta(), device ? &*device : nullptr, options_.frame_node);
    p.frame_received_ms = frame->meta().received_ts_ms;
    Queue(std::move(p));
  }
}

void EventHub::OnAppearanceEnded(const std::string& device_id, uint64_t track_id, std::optional<int64_t> person_id,
                                 int64_t first_seen_ms, int64_t last_seen_ms) {
  Pending p;
  p.appearance = device_id + "\n" + std::to_string(track_id);
  std::string name;
  {
    std::lock_guard lock(mu_);
    const auto it = appearances_.find(p.appearance);
    if (it == appearances_.end()) return;  // never reached the hub
    if (person_id) {
      if (auto seen = presence_.find(*person_id); seen != presence_.end() && seen->second.last_seen_ms < last_seen_ms) {
        seen->second.last_seen_ms = last_seen_ms;
      }
    }
    name = it->second.name;
    p.generation = it->second.generation;
    // A stranger's appearance whose sighting was folded into an earlier event ends silently, as it began.
    if (!person_id && !it->second.has_event) {
      appearances_.erase(it);
      return;
    }
  }
  const int64_t now = NowMs();
  const auto device = devices_.Get(device_id, now);
  p.record = AppearanceEndedEvent(device_id, device ? &*device : nullptr, person_id, name, first_seen_ms,
                                  last_seen_ms, now);
  Queue(std::move(p));
}

void EventHub::OnDeviceChange(const std::string& device_id, ingest::DeviceRegistry::Change change, int64_t ts_ms) {
  using Change = ingest::DeviceRegistry::Change;
  const char* t = change == Change::kAdded    ? type::kDeviceAdded
                  : change == Change::kOnline ? type::kDeviceOnline
                                              : type::kDeviceOffline;
  const auto device = devices_.Get(device_id, ts_ms);
  Queue({DeviceEvent(t, device_id, ts_ms, device ? &*device : nullptr)});
}

void EventHub::OnDeviceUpdated(const std::string& device_id, int64_t ts_ms) {
  if (const auto device = devices_.Get(device_id, ts_ms)) Queue({DeviceUpdatedEvent(*device, ts_ms)});
}

void EventHub::OnDeviceRemoved(const std::string& device_id, int64_t ts_ms) {
  Queue({DeviceEvent(type::kDeviceRemoved, device_id, ts_ms, nullptr)});
}

void EventHub::OnPersonAdded(int64_t person_id, const std::string& name, int64_t ts_ms) {
  Queue({PersonEvent(type::kPersonAdded, person_id, name, "", ts_ms)});
}

void EventHub::Logged::Set(bool logged) {
  {
    std::lock_guard lock(mu);
    if (result) return;
    result = logged;
  }
  cv.notify_all();
}

bool EventHub::LogPersonAdded(int64_t person_id, const std::string& name, int64_t ts_ms,
                              std::chrono::milliseconds timeout) {
  auto logged = std::make_shared<Logged>();
  Pending p{PersonEvent(type::kPersonAdded, person_id, name, "", ts_ms)};
  p.logged = logged;
  Queue(std::move(p));
  std::unique_lock lock(logged->mu);
  return logged->cv.wait_for(lock, timeout, [&] { return logged->result.has_value(); }) && *logged->result;
}

void EventHub::OnPersonRenamed(int64_t person_id, const std::string& previous_name, const std::string& name,
                               int64_t ts_ms) {
  {
    std::lock_guard lock(mu_);
    if (auto it = presence_.find(person_id); it != presence_.end()) it->second.name = name;
  }
  Queue({PersonEvent(type::kPersonUpdated, person_id, name, previous_name, ts_ms)});
}

void EventHub::OnPersonRemoved(int64_t person_id, const std::string& name, int64_t ts_ms) {
  {
    std::lock_guard lock(mu_);
    presence_.erase(person_id);
  }
  Queue({PersonEvent(type::kPersonRemoved, person_id, name, "", ts_ms)});
}

void EventHub::OnStoragePressure(const std::string& reason, uint64_t frames_dropped, uint64_t bytes,
                                 uint64_t budget_bytes, int64_t ts_ms) {
  {
    std::lock_guard lock(mu_);
    auto [it, inserted] = last_pressure_.try_emplace(reason, ts_ms);
    if (!inserted && ts_ms - it->second < options_.pressure_interval_ms) return;
    it->second = ts_ms;
  }
  Queue({StoragePressureEvent(reason, frames_dropped, bytes, budget_bytes, ts_ms)});
}

void EventHub::CheckPresence(int64_t now_ms) {
  std::vector<store::EventRecord> left;
  {
    std::lock_guard lock(mu_);
    for (auto& [person_id, p] : presence_) {
      if (p.left || now_ms - p.last_seen_ms <= options_.presence_timeout_ms) continue;
      p.left = true;
      left.push_back(PersonLeftEvent(person_id, p.name, p.device_id, p.last_seen_ms, now_ms));
    }
  }
  for (auto& e : left) Queue({std::move(e)});
}

void EventHub::Queue(Pending pending) {
  {
    std::lock_guard lock(queue_mu_);
    if (!stopping_ && queue_.size() < options_.max_queued) {
      queue_.push_back(std::move(pending));
      queue_cv_.notify_one();
      return;
    }
  }
  dropped_.Add();
  IOT_LOG(kWarn) << "events: the log's queue is full, " << pending.record.type << " dropped";
  if (pending.logged) pending.logged->Set(false);
}

void EventHub::Write() {
  // An event the log refused (a full or read-only disk) is tried again each second before anything newer, so a
  // storage_pressure about that very disk goes out once the log takes it again; on stop it is tried once more.
  std::optional<Pending> refused;
  while (true) {
    Pending p;
    bool stopping = false;
    {
      std::unique_lock lock(queue_mu_);
      if (refused) {
        queue_cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; });
        p = std::move(*refused);
        refused.reset();
      } else {
        queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, and everything queued is written
        p = std::move(queue_.front());
        queue_.pop_front();
      }
      stopping = stopping_;
    }
    store::EventRecord& e = p.record;
    if (p.better_face) {
      // Not an event: nothing waits on it, so a refusal is logged and the event keeps its first face.
      if (const auto id = AppearanceEvent(p, /*forget=*/false)) {
        if (Status st = records_.ReplaceEventFace(*id, e.descriptor, p.thumbnail); st.ok()) {
          better_faces_.Add();
        } else {
          IOT_LOG(kWarn) << "events: cannot keep a better face for event " << *id << ": " << st.ToString();
        }
      }
      continue;
    }
    if (e.type == type::kAppearanceEnded) {
      if (const auto id = AppearanceEvent(p, /*forget=*/true)) SetAppearanceEvent(&e, *id);
    }
    if (Status st = records_.AppendEvent(&e, p.thumbnail); !st.ok()) {
      if (!p.refused) {
        errors_.Add();
        IOT_LOG(kWarn) << "events: cannot store " << e.type << " of '" << e.device_id << "': " << st.ToString()
                       << (stopping ? "" : "; trying again each second");
      }
      if (stopping) {
        if (p.logged) p.logged->Set(false);
        continue;
      }
      if (p.logged) p.logged->Set(false);  // the caller is not kept waiting through an outage; it is tried again
      p.refused = true;
      refused = std::move(p);
      continue;
    }
    if (p.refused) IOT_LOG(kInfo) << "events: the log takes events again (" << e.type << " stored)";
    if (p.logged) p.logged->Set(true);
    if (!p.appearance.empty() && e.type != type::kAppearanceEnded) {
      std::lock_guard lock(mu_);
      auto it = appearances_.find(p.appearance);
      if (it != appearances_.end() && it->second.generation == p.generation) it->second.event_id = e.id;
    }
    if (e.type == type::kPersonRecognised) recognised_.Add();
    if (e.type == type::kUnknownFace) unknown_.Add();
    bus_.Publish(ToEvent(e));
    if (p.frame_received_ms > 0) frame_to_event_.Record((NowMs() - p.frame_received_ms) * 1000);
  }
}

std::optional<int64_t> EventHub::AppearanceEvent(const Pending& p, bool forget) {
  std::lock_guard lock(mu_);
  auto it = appearances_.find(p.appearance);
  if (it == appearances_.end()) return std::nullopt;
  const std::optional<int64_t> id = it->second.generation == p.generation ? it->second.event_id : std::nullopt;
  if (forget) appearances_.erase(it);
  return id;
}

Status EventHub::Feedback(int64_t event_id, bool correct) {
  auto event = records_.GetEvent(event_id);
  if (!event.ok()) return event.status();
  return ApplyFeedback(event.value(), correct);
}

Status EventHub::ApplyFeedback(const store::EventRecord& e, bool correct) {
  if (Status st = records_.SetFeedback(e.id, correct); !st.ok()) return st;
  if (correct || e.type != type::kPersonRecognised || !e.person_id) return Status::Ok();
  auto negative = records_.AddNegative(*e.person_id, e.descriptor);
  if (!negative.ok()) return negative.status();
  // Conflict: a cluster's gallery reload took the row in already.
  const Status st = gallery_.AddNegative(*e.person_id, negative.value().face_id, vision::ToDescriptor(e.descriptor));
  return st.IsConflict() ? Status::Ok() : st;
}

Result<store::GalleryEntry> EventHub::EnrolFromEvent(int64_t event_id, const std::string& name) {
  if (name.empty() || name.size() > 128) return Status::InvalidArgument("name must be 1-128 bytes");
  auto event = records_.GetEvent(event_id);
  if (!event.ok()) return event.status();
  const auto& e = event.value();
  if (e.descriptor.size() != vision::kDescriptorSize) {
    return Status::InvalidArgument("event " + std::to_string(event_id) + " (" + e.type + ") holds no face");
  }
  const bool right = e.name == name;
  if (e.type == type::kPersonRecognised && e.feedback_correct != right) {
    // NotFound: the person it named was deleted since, and with them any need of a negative example.
    if (Status st = ApplyFeedback(e, right); !st.ok() && !st.IsNotFound()) return st;
  }
  auto thumbnail = records_.ReadEventThumbnail(event_id);  // none: the face is enrolled without a picture
  auto added = records_.AddFace(name, e.descriptor,
                                thumbnail.ok() ? std::string_view(thumbnail.value()) : std::string_view());
  if (!added.ok()) return added.status();
  const auto& entry = added.value();
  const vision::Descriptor d = vision::ToDescriptor(e.descriptor);
  if (Status st = gallery_.AddFace(entry.person_id, entry.name, entry.face_id, d); !st.ok() && !st.IsConflict()) {
    return st;
  }
  if (entry.new_person && !LogPersonAdded(entry.person_id, entry.name, NowMs(), kEnrolmentLogWait)) {
    IOT_LOG(kWarn) << "events: person_added of '" << entry.name << "' is not in the log yet; the enrolment stands";
  }
  return added;
}

}  // namespace iotstream::events
