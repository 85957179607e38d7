// Event and EventBus: how a thing that happened (a face recognised, a camera came online, ...) reaches every
// output (/ws viewers today; MQTT and webhooks later) without its producer knowing them. The event types and
// their JSON are defined once, in events/schema.h; an Event carries that JSON built once for every output.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace iotstream {

// Immutable once built; shared by every publisher as EventPtr, readable from any thread.
struct Event {
  std::string type;       // one of the names in events/schema.h
  std::string device_id;  // the camera it concerns; empty when none
  std::string json;       // the message: a JSON object whose "type" is `type`
  // Wall-clock ms when the frame the event came from arrived, 0 for events not from a frame: each output measures
  // its event_latency_seconds{output=...} (frame arrival to event out) from it.
  int64_t frame_received_ms = 0;
};
using EventPtr = std::shared_ptr<const Event>;

// The histogram every output registers, labelled {output="ws"|"mqtt"|"webhook"}: frame arrival to event out.
inline constexpr const char* kEventLatencyMetric = "event_latency_seconds";
inline constexpr const char* kEventLatencyHelp =
    "from a frame's arrival to its event leaving through an output (ws: handed to the viewers' sockets, "
    "mqtt: acknowledged by the broker, webhook: answered 2xx)";

// An output of events. Publish() may be called from any thread and never blocks: an output that cannot keep up
// drops (and counts) rather than holding up the producer.
class EventPublisher {
 public:
  virtual ~EventPublisher() = default;
  virtual void Publish(const EventPtr& event) = 0;
};

// The fan-out from event producers to every output. Thread-safe once the publishers are registered.
class EventBus {
 public:
  // REQUIRES: called before the first Publish; `publisher` outlives the bus.
  void AddPublisher(EventPublisher* publisher) { publishers_.push_back(publisher); }
  void Publish(const EventPtr& event) const {
    for (EventPublisher* p : publishers_) p->Publish(event);
  }

 private:
  std::vector<EventPublisher*> publishers_;
};

}  // namespace iotstream
