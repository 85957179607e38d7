// MqttOutbox: the MQTT publisher's own ordered queue of messages not yet acknowledged by the broker (QoS 1), so that
// events published while the broker is away wait here, bounded, and go out in order when it returns; libmosquitto
// only ever holds the few messages of the in-flight window.
//
// Messages leave in the order they were pushed, at most `window` unacknowledged at a time. A message stays queued
// until the broker acknowledges it. After a reconnect libmosquitto re-sends the in-flight ones first; the outbox
// holds back new sends until those are acknowledged, so the order survives the reconnect.
// Session messages (availability, discovery, retained state, re-sent on every connect) go ahead of the unsent
// ordinary ones and are exempt from the bounds (their number is bounded by the cameras and people known).
//
// Not thread-safe: owned and used by one thread (the publisher's worker).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <deque>
#include <string>
#include <vector>

namespace iotstream::notify {

struct MqttMessage {
  std::string topic;
  std::string payload;
  bool retain = false;
  bool session = false;  // re-sent on every connect: goes ahead of the queue, replaces an unsent copy
  int64_t frame_received_ms = 0;  // the event's Event::frame_received_ms on its <prefix>/events message, else 0
};

class MqttOutbox {
 public:
  // REQUIRES: max_messages > 0.
  MqttOutbox(size_t max_messages, size_t max_bytes) : max_messages_(max_messages), max_bytes_(max_bytes) {}
  MqttOutbox(const MqttOutbox&) = delete;
  MqttOutbox& operator=(const MqttOutbox&) = delete;

  // Appends `m`. False, leaving the outbox as it was, when it already holds max_messages or `m` would take it
  // past max_bytes: the caller drops `m` and counts it.
  [[nodiscard]] bool Push(MqttMessage m);
  // Puts `batch` right after the messages already sent, in its order, and removes unsent session messages with
  // the same topics. Never refused.
  void PushSession(std::vector<MqttMessage> batch);

  // The next message to send, or nullptr when none is waiting, `window` are in flight, or the in-flight ones of
  // a previous connection are not all acknowledged yet. The pointer is valid until the next non-const call.
  const MqttMessage* Next(size_t window) const;
  // The message Next() returned was handed to the library with message id `mid`.
  void MarkSent(int mid);
  // Sending the message Next() returned failed for good (the library refused it): removes it.
  void DropNext();
  // The broker acknowledged `mid`: removes that message and returns it. Empty when no message in flight has
  // that id.
  std::optional<MqttMessage> Ack(int mid);
  // The connection came back: in-flight messages are re-sent by the library; new sends wait for their acks.
  void OnReconnect() { hold_ = in_flight_ > 0; }

  size_t size() const { return queue_.size(); }   // waiting or in flight
  size_t bytes() const { return bytes_; }
  size_t in_flight() const { return in_flight_; }

 private:
  struct Entry {
    MqttMessage message;
    int mid = -1;  // -1: not sent yet
  };
  static size_t BytesOf(const MqttMessage& m) { return m.topic.size() + m.payload.size(); }

  const size_t max_messages_;
  const size_t max_bytes_;
  std::deque<Entry> queue_;  // the first in_flight_ entries are sent, the rest wait in order
  size_t in_flight_ = 0;
  size_t bytes_ = 0;
  bool hold_ = false;  // no new sends until the in-flight messages of the last connection are acknowledged
};

}  // namespace iotstream::notify
