// Home Assistant MQTT discovery: the retained config messages that make iotstream's cameras, people and
// recognitions appear in Home Assistant, and the slugs their ids are made of. Pure functions, thread-safe.
//
// Config topics: <ha_prefix>/<component>/<node>/<object>/config, with node iotstream_<camera slug> per camera,
// iotstream_person_<person slug> per person and iotstream for the server itself. Every config carries unique_id,
// name, object_id (the entity id Home Assistant derives), availability_topic P/available, device {identifiers,
// name, manufacturer "iotstream", model} and origin {name "iotstream", sw_version}.
//   per camera:  binary_sensor occupancy (P/<camera>/occupancy), binary_sensor connectivity (P/<camera>/state),
//                sensor last person (P/<camera>/person), camera (topic P/<camera>/image, attributes
//                P/<camera>/attributes with the MJPEG and snapshot URLs)
//   per person:  device_tracker (P/person/<slug>/state, source_type router), sensor last seen (timestamp)
//   server:      event recognition (P/events/recognition, event_types person_recognised and unknown_face)
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "notify/mqtt.h"
#include "notify/mqtt_outbox.h"

namespace iotstream::notify {

// A person's topic slug: lower case, [a-z0-9_] only (runs of anything else become one '_', none at the ends);
// "person" when nothing is left.
std::string PersonSlug(std::string_view name);
// A camera id as a discovery node id: [A-Za-z0-9_-] only, anything else becomes '_'.
std::string NodeSlug(std::string_view id);

// The configs of `camera` (retained), and its attributes message.
std::vector<MqttMessage> CameraDiscovery(const MqttOptions& options, const CameraInfo& camera);
// Empty retained payloads for every config of camera `id`: Home Assistant removes its entities.
std::vector<MqttMessage> CameraDiscoveryRemoval(const MqttOptions& options, const std::string& id);
// The configs of the person called `name`.
std::vector<MqttMessage> PersonDiscovery(const MqttOptions& options, const std::string& name);
// Empty retained payloads for every config of the person called `name`.
std::vector<MqttMessage> PersonDiscoveryRemoval(const MqttOptions& options, const std::string& name);
// The server's recognition event entity.
MqttMessage RecognitionEventDiscovery(const MqttOptions& options);

}  // namespace iotstream::notify
