#include "notify/mqtt.h"

#include <mosquitto.h>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/log.h"
#include "events/schema.h"
#include "notify/home_assistant.h"
#include "notify/mqtt_outbox.h"

namespace iotstream::notify {
namespace {

using nlohmann::json;

constexpr char kNotHome[] = "not_home";
constexpr int kQos = 1;
constexpr int64_t kFrameRetryUs = 200'000;  // a recognised frame may still be on its way to the disk
constexpr int kFrameTries = 10;
constexpr int64_t kMaxWaitUs = 1'000'000;   // the worker looks at the clock at least this often

// "%XX" decoding; false on a malformed escape.
bool PercentDecode(std::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      *out += in[i];
      continue;
    }
    if (i + 2 >= in.size() || !std::isxdigit(static_cast<unsigned char>(in[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(in[i + 2]))) {
      return false;
    }
    *out += static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16));
    i += 2;
  }
  return true;
}

// 2026-12-01T10:00:00Z
std::string IsoTime(int64_t ms) { return FormatUtc(ms, "%Y-%m-%dT%H:%M:%SZ"); }

}  // namespace

Result<MqttUrl> ParseMqttUrl(std::string_view url) {
  MqttUrl out;
  auto bad = [&url](const std::string& why) {
    return Status::InvalidArgument("bad MQTT URL '" + std::string(url) + "': " + why +
                                   " (expected mqtt://[user:password@]host:port or mqtts://...)");
  };
  std::string_view rest;
  if (url.rfind("mqtt://", 0) == 0) {
    rest = url.substr(7);
  } else if (url.rfind("mqtts://", 0) == 0) {
    rest = url.substr(8);
    out.tls = true;
    out.port = 8883;
  } else {
    return bad("the scheme must be mqtt:// or mqtts://");
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find_first_of("/?#") != std::string_view::npos) return bad("a path, query or fragment is not allowed");
  if (const size_t at = rest.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    const size_t colon = userinfo.find(':');
    if (!PercentDecode(userinfo.substr(0, colon), &out.user) ||
        (colon != std::string_view::npos && !PercentDecode(userinfo.substr(colon + 1), &out.password))) {
      return bad("malformed %-escape in the credentials");
    }
    if (out.user.empty()) return bad("empty user name");
  }
  std::string_view port;
  if (!rest.empty() && rest.front() == '[') {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) return bad("unclosed '[' in the host");
    out.host = std::string(rest.substr(1, close - 1));
    rest = rest.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return bad("junk after the host");
    if (!rest.empty()) port = rest.substr(1);
    if (rest == ":") return bad("empty port");
  } else {
    const size_t colon = rest.find(':');
    out.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = rest.substr(colon + 1);
      if (port.empty()) return bad("empty port");
    }
  }
  if (out.host.empty()) return bad("no host");
  if (!port.empty()) {
    int p = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || p > 65535) return bad("the port must be a number 1-65535");
      p = p * 10 + (c - '0');
    }
    if (p < 1 || p > 65535) return bad("the port must be a number 1-65535");
    out.port = p;
  }
  return out;
}

// Two threads besides the callers': libmosquitto's network thread runs the On* callbacks, which only record what
// happened under mu_ and wake the worker; the worker (Run) owns everything else (the outbox, the cameras and
// people, every mosquitto_publish call), so message ids are recorded before their acks are looked at.
class MqttPublisher::Impl {
 public:
  Impl(MqttOptions options, MqttCallbacks callbacks, Metrics& metrics, const Clock& clock)
      : options_(std::move(options)),
        callbacks_(std::move(callbacks)),
        clock_(clock),
        outbox_(options_.max_queued_messages, options_.max_queued_bytes),
        dropped_(metrics.counter("notify_mqtt_dropped_total",
                                 "events and MQTT messages dropped because the MQTT queues were full")),
        published_(metrics.counter("notify_mqtt_published_total", "MQTT messages the broker acknowledged")),
        errors_(metrics.counter("notify_mqtt_errors_total",
                                "MQTT messages the library refused and recognition frames that could not be read")),
        depth_(metrics.gauge("notify_mqtt_queue_depth", "events and MQTT messages waiting for the broker")),
        connected_gauge_(metrics.gauge("notify_mqtt_connected", "1 while connected to the MQTT broker")),
        event_latency_(metrics.histogram(kEventLatencyMetric, kEventLatencyHelp, {{"output", "mqtt"}})) {}

  ~Impl() {
    Stop();
    if (mosq_ != nullptr) mosquitto_destroy(mosq_);
  }

  Status Open() {
    static std::once_flag lib_init;
    std::call_once(lib_init, [] { mosquitto_lib_init(); });
    mosq_ = mosquitto_new(nullptr, /*clean_session=*/true, this);
    if (mosq_ == nullptr) return Status::Internal("mosquitto_new failed");
    const MqttUrl& url = options_.url;
    const std::string available = options_.prefix + "/available";
    auto check = [](int rc, const char* what) {
      return rc == MOSQ_ERR_SUCCESS
                 ? Status::Ok()
                 : Status::InvalidArgument(std::string("mqtt: ") + what + ": " + mosquitto_strerror(rc));
    };
    if (Status st = check(mosquitto_will_set(mosq_, available.c_str(), 7, "offline", kQos, true), "last will");
        !st.ok()) {
      return st;
    }
    if (!url.user.empty()) {
      if (Status st = check(mosquitto_username_pw_set(mosq_, url.user.c_str(),
                                                      url.password.empty() ? nullptr : url.password.c_str()),
                            "credentials");
          !st.ok()) {
        return st;
      }
    }
    if (url.tls) {
      const int rc = options_.ca_file.empty()
                         ? mosquitto_int_option(mosq_, MOSQ_OPT_TLS_USE_OS_CERTS, 1)
                         : mosquitto_tls_set(mosq_, options_.ca_file.c_str(), nullptr, nullptr, nullptr, nullptr);
      if (Status st = check(rc, "TLS (--mqtt-ca-file)"); !st.ok()) return st;
    }
    if (Status st = check(mosquitto_reconnect_delay_set(mosq_, static_cast<unsigned>(options_.reconnect_min_s),
                                                         static_cast<unsigned>(options_.reconnect_max_s), true),
                          "reconnect delay");
        !st.ok()) {
      return st;
    }
    mosquitto_connect_callback_set(mosq_, &Impl::OnConnect);
    mosquitto_disconnect_callback_set(mosq_, &Impl::OnDisconnect);
    mosquitto_publish_callback_set(mosq_, &Impl::OnPublish);
    mosquitto_message_callback_set(mosq_, &Impl::OnMessage);
    mosquitto_log_callback_set(mosq_, &Impl::OnLog);
    // A broker that is away now is retried by the network thread; only bad arguments are errors here.
    const int rc = mosquitto_connect_async(mosq_, url.host.c_str(), url.port, options_.keepalive_s);
    if (rc == MOSQ_ERR_INVAL) return check(rc, "connect");
    if (rc != MOSQ_ERR_SUCCESS) {
      IOT_LOG(kWarn) << "mqtt: cannot reach " << url.host << ':' << url.port << " yet (" << mosquitto_strerror(rc)
                     << "); retrying";
    }
    if (Status st = check(mosquitto_loop_start(mosq_), "network thread"); !st.ok()) return st;
    loop_started_ = true;
    worker_ = std::thread([this] { Run(); });
    return Status::Ok();
  }

  void Publish(const EventPtr& event) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!stopping_ && events_.size() < options_.max_pending_events) {
        events_.push_back(event);
        depth_.Add(1);
        cv_.notify_one();
        return;
      }
    }
    dropped_.Add();
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      cv_.notify_one();
    }
    if (worker_.joinable()) worker_.join();
    if (loop_started_) {
      mosquitto_disconnect(mosq_);
      mosquitto_loop_stop(mosq_, false);
      loop_started_ = false;
      connected_gauge_.Set(0);
    }
  }

  Stats stats() const {
    return Stats{connected_gauge_.value() == 1, static_cast<uint64_t>(std::max<int64_t>(0, depth_.value())),
                 dropped_.value(), published_.value()};
  }

 private:
  struct Camera {
    std::string name, location;
    bool occupied = false;
    int64_t last_face_us = 0;
  };
  static CameraInfo InfoOf(const std::string& id, const Camera& c) {
    return CameraInfo{.id = id, .name = c.name, .location = c.location};
  }
  struct Person {
    std::string name;
    std::string state;  // the last location published; empty: none yet
    std::string last_camera;
    json person_id;
    int64_t last_seen_us = 0;
    int64_t last_seen_ms = 0;
  };
  struct PendingFrame {
    uint64_t frame_id = 0;
    int tries = 0;
    int64_t due_us = 0;
  };

  // ---- libmosquitto's network thread ----
  static void OnConnect(mosquitto* mosq, void* self_ptr, int rc) {
    auto* self = static_cast<Impl*>(self_ptr);
    if (rc != 0) {
      IOT_LOG(kWarn) << "mqtt: the broker refused the connection: " << mosquitto_connack_string(rc);
      return;
    }
    IOT_LOG(kInfo) << "mqtt: connected to " << self->options_.url.host << ':' << self->options_.url.port;
    if (self->options_.ha_discovery) {
      const std::string status = self->options_.ha_prefix + "/status";
      (void)mosquitto_subscribe(mosq, nullptr, status.c_str(), kQos);
    }
    self->connected_gauge_.Set(1);
    std::lock_guard<std::mutex> lock(self->mu_);
    ++self->connects_;
    self->cv_.notify_one();
  }
  static void OnDisconnect(mosquitto*, void* self_ptr, int rc) {
    auto* self = static_cast<Impl*>(self_ptr);
    if (self->connected_gauge_.value() == 1 && rc != 0) {
      IOT_LOG(kWarn) << "mqtt: connection lost (" << mosquitto_strerror(rc) << "); reconnecting";
    }
    self->connected_gauge_.Set(0);
    std::lock_guard<std::mutex> lock(self->mu_);
    self->cv_.notify_one();
  }
  static void OnPublish(mosquitto*, void* self_ptr, int mid) {
    auto* self = static_cast<Impl*>(self_ptr);
    std::lock_guard<std::mutex> lock(self->mu_);
    self->acks_.push_back(mid);
    self->cv_.notify_one();
  }
  static void OnMessage(mosquitto*, void* self_ptr, const mosquitto_message* m) {
    auto* self = static_cast<Impl*>(self_ptr);
    const std::string_view payload(static_cast<const char*>(m->payload), static_cast<size_t>(m->payloadlen));
    if (payload != "online") return;
    std::lock_guard<std::mutex> lock(self->mu_);
    self->ha_online_ = true;
    self->cv_.notify_one();
  }

  // The library's own errors (a TLS certificate it will not trust, a name that does not resolve) say why no
  // connection comes; each is logged once until another one differs, not on every reconnect attempt.
  static void OnLog(mosquitto*, void* self_ptr, int level, const char* text) {
    if ((level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING)) == 0 || text == nullptr) return;
    auto* self = static_cast<Impl*>(self_ptr);
    std::lock_guard<std::mutex> lock(self->mu_);
    if (self->last_library_error_ == text) return;
    self->last_library_error_ = text;
    IOT_LOG(kWarn) << "mqtt: " << text;
  }

  // ---- the worker ----
  void Run() {
    LoadSnapshot();
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      std::deque<EventPtr> events = std::exchange(events_, {});
      std::vector<int> acks = std::exchange(acks_, {});
      const int connects = connects_;
      const bool ha_online = std::exchange(ha_online_, false);
      const bool stopping = stopping_;
      lock.unlock();

      depth_.Add(-static_cast<int64_t>(events.size()));
      TakeAcks(acks);
      if (connects != connects_seen_) {
        connects_seen_ = connects;
        outbox_.OnReconnect();
        PushSession(SessionMessages());
      }
      if (ha_online && options_.ha_discovery) PushSession(DiscoveryMessages());
      for (const auto& e : events) Handle(*e);
      const int64_t next_due_us = RunTimers();
      SendWhatFits();
      if (stopping) break;

      lock.lock();
      const int64_t wait_us = std::clamp<int64_t>(next_due_us - clock_.MonotonicUs(), 0, kMaxWaitUs);
      cv_.wait_for(lock, std::chrono::microseconds(wait_us), [this, connects] {
        return stopping_ || !events_.empty() || !acks_.empty() || connects_ != connects || ha_online_;
      });
    }
    Drain();
  }

  // Sends what is still queued, then `offline`, each while connected and within stop_timeout_ms.
  void Drain() {
    const int64_t deadline_us = clock_.MonotonicUs() + options_.stop_timeout_ms * 1000;
    auto wait_until = [this, deadline_us](auto done) {
      std::unique_lock<std::mutex> lock(mu_);
      while (!done() && connected_gauge_.value() == 1 && clock_.MonotonicUs() < deadline_us) {
        cv_.wait_for(lock, std::chrono::milliseconds(50), [this] { return !acks_.empty(); });
        std::vector<int> acks = std::exchange(acks_, {});
        lock.unlock();
        TakeAcks(acks);
        SendWhatFits();
        lock.lock();
      }
      return done();
    };
    if (!wait_until([this] { return outbox_.size() == 0; })) {
      IOT_LOG(kWarn) << "mqtt: stopping with " << outbox_.size() << " message(s) not delivered";
    }
    if (connected_gauge_.value() != 1) return;
    const std::string available = options_.prefix + "/available";
    int mid = 0;
    if (mosquitto_publish(mosq_, &mid, available.c_str(), 7, "offline", kQos, true) != MOSQ_ERR_SUCCESS) return;
    offline_mid_ = mid;
    (void)wait_until([this] { return offline_acked_; });
  }

  void TakeAcks(const std::vector<int>& acks) {
    for (int mid : acks) {
      if (std::optional<MqttMessage> acked = outbox_.Ack(mid)) {
        published_.Add();
        depth_.Add(-1);
        if (acked->frame_received_ms > 0) {
          event_latency_.Record(std::max<int64_t>(0, clock_.WallMs() - acked->frame_received_ms) * 1000);
        }
      } else if (offline_mid_ && mid == *offline_mid_) {
        published_.Add();
        offline_acked_ = true;
      }
    }
  }

  void SendWhatFits() {
    if (connected_gauge_.value() != 1) return;
    while (const MqttMessage* m = outbox_.Next(options_.max_in_flight)) {
      int mid = 0;
      const int rc = mosquitto_publish(mosq_, &mid, m->topic.c_str(), static_cast<int>(m->payload.size()),
                                       m->payload.data(), kQos, m->retain);
      if (rc == MOSQ_ERR_SUCCESS || rc == MOSQ_ERR_NO_CONN) {
        // NO_CONN: the connection went just now; libmosquitto keeps the message and re-sends it on reconnect.
        outbox_.MarkSent(mid);
        if (rc == MOSQ_ERR_NO_CONN) return;
      } else {
        IOT_LOG(kWarn) << "mqtt: cannot publish to " << m->topic << ": " << mosquitto_strerror(rc);
        errors_.Add();
        outbox_.DropNext();
        depth_.Add(-1);
      }
    }
  }

  void Push(MqttMessage m) {
    if (outbox_.Push(std::move(m))) {
      depth_.Add(1);
    } else {
      dropped_.Add();
    }
  }
  void PushSession(std::vector<MqttMessage> batch) {
    const size_t before = outbox_.size();
    outbox_.PushSession(std::move(batch));
    depth_.Add(static_cast<int64_t>(outbox_.size()) - static_cast<int64_t>(before));
  }
  // A retained state message, remembered so that every connect re-sends the latest one.
  void SetRetained(const std::string& topic, const std::string& payload) {
    retained_[topic] = payload;
    Push(MqttMessage{topic, payload, /*retain=*/true});
  }
  void ClearRetained(const std::string& topic) {
    retained_.erase(topic);
    Push(MqttMessage{topic, "", /*retain=*/true});
  }

  // Sent ahead of the queue on every connect: online, the discovery configs, the latest retained states.
  std::vector<MqttMessage> SessionMessages() const {
    std::vector<MqttMessage> out;
    out.push_back(MqttMessage{options_.prefix + "/available", "online", /*retain=*/true});
    if (options_.ha_discovery) {
      auto discovery = DiscoveryMessages();
      std::move(discovery.begin(), discovery.end(), std::back_inserter(out));
    }
    for (const auto& [topic, payload] : retained_) out.push_back(MqttMessage{topic, payload, /*retain=*/true});
    return out;
  }
  std::vector<MqttMessage> DiscoveryMessages() const {
    std::vector<MqttMessage> out;
    out.push_back(RecognitionEventDiscovery(options_));
    for (const auto& [id, camera] : cameras_) {
      auto configs = CameraDiscovery(options_, InfoOf(id, camera));
      std::move(configs.begin(), configs.end(), std::back_inserter(out));
    }
    for (const auto& [slug, person] : people_) {
      auto configs = PersonDiscovery(options_, person.name);
      std::move(configs.begin(), configs.end(), std::back_inserter(out));
    }
    return out;
  }

  void LoadSnapshot() {
    if (callbacks_.cameras) {
      for (const CameraInfo& c : callbacks_.cameras()) {
        cameras_[c.id] = Camera{c.name, c.location};
        retained_[Topic(c.id, "state")] = c.online ? "online" : "offline";
      }
    }
    if (callbacks_.people) {
      for (const std::string& name : callbacks_.people()) people_[PersonSlug(name)].name = name;
    }
  }

  std::string Topic(const std::string& camera, const char* leaf) const {
    return options_.prefix + "/" + camera + "/" + leaf;
  }

  // A camera the publisher has not met yet gets its discovery configs.
  Camera& CameraOf(const std::string& id) {
    auto [it, added] = cameras_.try_emplace(id);
    if (added && options_.ha_discovery) PushSession(CameraDiscovery(options_, InfoOf(id, it->second)));
    return it->second;
  }

  void Handle(const Event& e) {
    Push(MqttMessage{.topic = options_.prefix + "/events", .payload = e.json,
                     .frame_received_ms = e.frame_received_ms});
    const json j = json::parse(e.json, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) return;
    if (e.type == events::type::kDeviceAdded) {
      (void)CameraOf(e.device_id);
    } else if (e.type == events::type::kDeviceOnline || e.type == events::type::kDeviceOffline) {
      (void)CameraOf(e.device_id);
      SetRetained(Topic(e.device_id, "state"), e.type == events::type::kDeviceOnline ? "online" : "offline");
    } else if (e.type == events::type::kDeviceUpdated) {
      const json& d = j.value("device", json::object());
      Camera& camera = CameraOf(e.device_id);
      camera.name = d.value("name", "");
      camera.location = d.value("location", "");
      if (options_.ha_discovery) PushSession(CameraDiscovery(options_, InfoOf(e.device_id, camera)));
    } else if (e.type == events::type::kDeviceRemoved) {
      cameras_.erase(e.device_id);
      pending_frames_.erase(e.device_id);
      if (options_.ha_discovery) PushSession(CameraDiscoveryRemoval(options_, e.device_id));
      for (const char* leaf : {"state", "person", "occupancy", "image", "attributes"}) {
        ClearRetained(Topic(e.device_id, leaf));
      }
    } else if (e.type == events::type::kPersonRecognised || e.type == events::type::kUnknownFace) {
      OnRecognition(e, j);
    } else if (e.type == events::type::kPersonAdded || e.type == events::type::kPersonUpdated ||
               e.type == events::type::kPersonRemoved) {
      OnPersonChange(e.type, j.value("name", ""), j.value("previous_name", ""));
    } else if (e.type == events::type::kPersonLeft && j.value("name", json()).is_string()) {
      // The events layer decides presence (--presence-timeout-s); here it becomes the tracker's not_home.
      const std::string slug = PersonSlug(j["name"].get<std::string>());
      Person& p = people_[slug];
      p.name = j["name"].get<std::string>();
      if (p.state != kNotHome) {
        p.state = kNotHome;
        SetRetained(PersonTopic(slug, "state"), kNotHome);
      }
    }
  }

  // An enrolled person's discovery configs and retained topics follow their enrolment, renaming and deletion.
  void OnPersonChange(const std::string& type, const std::string& name, const std::string& previous_name) {
    if (name.empty()) return;
    const std::string slug = PersonSlug(name);
    Person moved;
    const std::string gone = type == events::type::kPersonUpdated ? previous_name
                             : type == events::type::kPersonRemoved ? name
                                                                     : std::string();
    if (!gone.empty()) {
      const std::string old_slug = PersonSlug(gone);
      if (auto it = people_.find(old_slug); it != people_.end()) {
        moved = std::move(it->second);
        people_.erase(it);
      }
      if (old_slug != slug || type == events::type::kPersonRemoved) {
        if (options_.ha_discovery) PushSession(PersonDiscoveryRemoval(options_, gone));
        for (const char* leaf : {"state", "last_seen"}) ClearRetained(PersonTopic(old_slug, leaf));
      }
    }
    if (type == events::type::kPersonRemoved) return;
    Person& p = people_.try_emplace(slug, std::move(moved)).first->second;
    p.name = name;
    if (options_.ha_discovery) PushSession(PersonDiscovery(options_, name));
    if (!p.state.empty()) SetRetained(PersonTopic(slug, "state"), p.state);
    if (p.last_seen_ms > 0) SetRetained(PersonTopic(slug, "last_seen"), IsoTime(p.last_seen_ms));
  }

  void OnRecognition(const Event& e, const json& j) {
    const int64_t now_us = clock_.MonotonicUs();
    Camera& camera = CameraOf(e.device_id);
    const bool known = e.type == events::type::kPersonRecognised && j.contains("name") && j["name"].is_string() &&
                       !j["name"].get<std::string>().empty();
    const std::string name = known ? j["name"].get<std::string>() : "unknown";
    SetRetained(Topic(e.device_id, "person"), name);
    json event = j;
    event["event_type"] = e.type;
    Push(MqttMessage{options_.prefix + "/events/recognition", event.dump()});
    camera.last_face_us = now_us;
    if (!camera.occupied) {
      camera.occupied = true;
      SetRetained(Topic(e.device_id, "occupancy"), "ON");
    }
    if (known) {
      const std::string slug = PersonSlug(name);
      auto [it, added] = people_.try_emplace(slug);
      Person& p = it->second;
      if ((added || p.name != name) && options_.ha_discovery) PushSession(PersonDiscovery(options_, name));
      p.name = name;
      p.person_id = j.value("person_id", json());
      p.last_camera = e.device_id;
      p.last_seen_us = now_us;
      p.last_seen_ms = clock_.WallMs();
      const std::string where = camera.location.empty() ? e.device_id : camera.location;
      if (p.state != where) {
        p.state = where;
        SetRetained(PersonTopic(slug, "state"), where);
      }
      SetRetained(PersonTopic(slug, "last_seen"), IsoTime(p.last_seen_ms));
    }
    if (callbacks_.frame && j.contains("frame_id") && j["frame_id"].is_number_unsigned()) {
      pending_frames_[e.device_id] = PendingFrame{j["frame_id"].get<uint64_t>(), 0, now_us};
    }
  }

  std::string PersonTopic(const std::string& slug, const char* leaf) const {
    return options_.prefix + "/person/" + slug + "/" + leaf;
  }

  // Occupancy going off, recognition frames to fetch. Returns when the next one is due.
  int64_t RunTimers() {
    const int64_t now_us = clock_.MonotonicUs();
    int64_t next_us = now_us + kMaxWaitUs;
    for (auto& [id, camera] : cameras_) {
      if (!camera.occupied) continue;
      const int64_t off_us = camera.last_face_us + options_.occupancy_ms * 1000;
      if (now_us >= off_us) {
        camera.occupied = false;
        SetRetained(Topic(id, "occupancy"), "OFF");
      } else {
        next_us = std::min(next_us, off_us);
      }
    }
    for (auto it = pending_frames_.begin(); it != pending_frames_.end();) {
      PendingFrame& f = it->second;
      if (now_us < f.due_us) {
        next_us = std::min(next_us, f.due_us);
        ++it;
        continue;
      }
      Result<std::string> jpeg = callbacks_.frame(f.frame_id);
      if (jpeg.ok()) {
        Push(MqttMessage{Topic(it->first, "image"), std::move(jpeg).value(), /*retain=*/true});
      } else if (jpeg.status().IsNotFound() && ++f.tries < kFrameTries) {
        f.due_us = now_us + kFrameRetryUs;
        next_us = std::min(next_us, f.due_us);
        ++it;
        continue;
      } else {
        IOT_LOG(kDebug) << "mqtt: no image for frame " << f.frame_id << ": " << jpeg.status().ToString();
        errors_.Add();
      }
      it = pending_frames_.erase(it);
    }
    return next_us;
  }

  const MqttOptions options_;
  const MqttCallbacks callbacks_;
  const Clock& clock_;
  mosquitto* mosq_ = nullptr;
  bool loop_started_ = false;
  std::thread worker_;

  // Shared with the network thread and Publish() callers.
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<EventPtr> events_;  // guarded by mu_
  std::vector<int> acks_;        // guarded by mu_: message ids the broker acknowledged
  int connects_ = 0;             // guarded by mu_: successful connects so far
  bool ha_online_ = false;       // guarded by mu_: Home Assistant said it is (back) online
  bool stopping_ = false;        // guarded by mu_
  std::string last_library_error_;  // guarded by mu_

  // The worker's own.
  MqttOutbox outbox_;
  int connects_seen_ = 0;
  std::map<std::string, Camera> cameras_;
  std::map<std::string, Person> people_;  // by slug
  std::map<std::string, std::string> retained_;  // topic -> latest retained state
  std::map<std::string, PendingFrame> pending_frames_;  // camera -> its newest recognition's frame
  std::optional<int> offline_mid_;
  bool offline_acked_ = false;

  Counter& dropped_;
  Counter& published_;
  Counter& errors_;
  Gauge& depth_;            // events waiting + messages in the outbox
  Gauge& connected_gauge_;  // written by the network thread
  Histogram& event_latency_;
};

Result<std::unique_ptr<MqttPublisher>> MqttPublisher::Start(MqttOptions options, MqttCallbacks callbacks,
                                                             Metrics& metrics, const Clock& clock) {
  auto impl = std::make_unique<Impl>(std::move(options), std::move(callbacks), metrics, clock);
  if (Status st = impl->Open(); !st.ok()) return st;
  return std::unique_ptr<MqttPublisher>(new MqttPublisher(std::move(impl)));
}

MqttPublisher::MqttPublisher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MqttPublisher::~MqttPublisher() = default;
void MqttPublisher::Publish(const EventPtr& event) { impl_->Publish(event); }
void MqttPublisher::Stop() { impl_->Stop(); }
MqttPublisher::Stats MqttPublisher::stats() const { return impl_->stats(); }

}  // namespace iotstream::notify
