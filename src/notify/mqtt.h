// MqttPublisher: the event output to an MQTT broker (libmosquitto), with Home Assistant discovery and per-person
// presence. An EventPublisher: register it on the EventBus beside the live hub.
//
// Topics (P = MqttOptions::prefix):
//   P/available                 online | offline, retained; offline is the last will, online is sent on every connect
//   P/events                    every event's JSON
//   P/events/recognition        {"event_type": type, ...the event} of each person_recognised / unknown_face
//   P/<camera>/state            online | offline, retained (device_online / device_offline)
//   P/<camera>/person           the name recognised, or "unknown", retained
//   P/<camera>/occupancy        ON while a face was seen within occupancy_ms, else OFF, retained
//   P/<camera>/image            the JPEG of the newest recognition's frame, retained
//   P/<camera>/attributes       {"mjpeg_url","snapshot_url","name","location"}, retained
//   P/person/<slug>/state       the location (else the id) of the camera that last saw them, or not_home on a
//                               person_left event (the events layer's presence, --presence-timeout-s)
//   P/person/<slug>/last_seen   ISO 8601 time of the last sighting, retained
// plus Home Assistant discovery configs under <ha_prefix>/<component>/iotstream_<id>/<object>/config
// (home_assistant.h), re-sent on every connect and when <ha_prefix>/status says online.
//
// Delivery: QoS 1. Publish() never blocks: events wait in a bounded queue for the publisher's worker thread, which
// turns them into messages in a bounded outbox (outbox.h); what does not fit is dropped and counted
// (notify_mqtt_dropped_total). While the broker is away messages wait and go out in order when it returns
// (libmosquitto reconnects with exponential backoff, reconnect_min_s .. reconnect_max_s). A message may arrive
// twice after a reconnect (at least once). Blocking work (the start-up snapshots, frame reads) runs on the worker.
// libmosquitto's own network thread stops retrying after a TLS or protocol error (it logs one): restart to retry.
//
// Thread-safety: Publish() and stats() from any thread; Stop() from one thread. Lifetime: the callbacks and
// everything passed to Start() must outlive the publisher; the publisher must outlive the EventBus's last Publish.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/event.h"
#include "core/metrics.h"
#include "core/status.h"

namespace iotstream::notify {

// A parsed --mqtt-url: mqtt://[user[:password]@]host[:port] (1883) or mqtts://... (8883). User and password may be
// percent-encoded; an IPv6 host goes in brackets.
struct MqttUrl {
  bool tls = false;
  std::string host;
  int port = 1883;
  std::string user;      // empty: no credentials
  std::string password;
};
// InvalidArgument, saying what is wrong, for anything else.
Result<MqttUrl> ParseMqttUrl(std::string_view url);

struct MqttOptions {
  MqttUrl url;
  std::string ca_file;                    // mqtts: the CA certificates; empty: the system's (/etc/ssl/certs)
  std::string prefix = "iotstream";       // topic prefix
  bool ha_discovery = true;               // publish Home Assistant discovery configs
  std::string ha_prefix = "homeassistant";
  int64_t occupancy_ms = 10'000;          // a camera's occupancy is ON this long after a face
  std::string http_base_url;              // for the cameras' MJPEG and snapshot URLs, e.g. http://host:9003
  std::string sw_version;                 // in the discovery configs' origin
  // Behaviour
  int keepalive_s = 30;
  int reconnect_min_s = 1;                // libmosquitto's backoff: min * (attempt^2), at most max
  int reconnect_max_s = 30;
  int64_t stop_timeout_ms = 2'000;        // Stop() waits this long for queued messages and the offline message
  // Bounds
  size_t max_pending_events = 1'024;      // events waiting for the worker
  size_t max_queued_messages = 10'000;    // messages waiting for the broker (or its ack)
  size_t max_queued_bytes = 32u << 20;    // their topic and payload bytes
  size_t max_in_flight = 16;              // sent, not yet acknowledged (below libmosquitto's default of 20)
};

// A camera as the start-up snapshot gives it.
struct CameraInfo {
  std::string id;
  std::string name;      // empty: the id
  std::string location;  // empty: unknown
  bool online = false;
};

// What the publisher asks the rest of the server, always on its worker thread (so they may block on the disk).
// Any may be empty.
struct MqttCallbacks {
  std::function<std::vector<CameraInfo>()> cameras;            // once, at start
  std::function<std::vector<std::string>()> people;            // enrolled names, once, at start
  std::function<Result<std::string>(uint64_t frame_id)> frame;  // a stored frame's JPEG; NotFound: not (yet) stored
};

class MqttPublisher final : public EventPublisher {
 public:
  // Starts the worker and libmosquitto's network thread and begins connecting (a broker that is away is not an
  // error: it is retried). InvalidArgument when libmosquitto refuses the options (e.g. an unreadable CA file).
  static Result<std::unique_ptr<MqttPublisher>> Start(MqttOptions options, MqttCallbacks callbacks,
                                                      Metrics& metrics, const Clock& clock = SystemClock());
  ~MqttPublisher() override;  // Stop()s
  MqttPublisher(const MqttPublisher&) = delete;
  MqttPublisher& operator=(const MqttPublisher&) = delete;

  // Never blocks; after Stop() or with max_pending_events waiting the event is dropped and counted.
  void Publish(const EventPtr& event) override;

  // Sends what is queued (for up to stop_timeout_ms while connected), publishes offline to P/available,
  // disconnects and joins the threads. Idempotent.
  void Stop();

  struct Stats {
    bool connected = false;
    uint64_t queued = 0;     // events and messages waiting, or sent and not yet acknowledged
    uint64_t dropped = 0;    // events and messages dropped by the bounds
    uint64_t published = 0;  // messages the broker acknowledged
  };
  Stats stats() const;

  class Impl;  // defined in mqtt.cpp

 private:
  explicit MqttPublisher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace iotstream::notify
