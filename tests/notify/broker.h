// A real MQTT broker for tests (Debian's mosquitto, on a free loopback port, with its own config and log in a
// temporary folder) and a real subscriber (libmosquitto) that keeps every message it receives, per topic.
// Not thread-safe unless said; one of each per test.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

struct mosquitto;
struct mosquitto_message;

namespace iotstream::testing {

// The mosquitto binary ($IOTSTREAM_MOSQUITTO, else on PATH, else /usr/sbin/mosquitto); empty when there is none.
std::string MosquittoBinary();

class Broker {
 public:
  // `dir`: where its config, log (and with `persistent` its database) go. Persistent: subscriptions of
  // clean_session=false clients and their queued messages survive Restart(). With `tls`, a second listener on
  // tls_port() speaks MQTT over TLS with a certificate for 127.0.0.1 signed by a test CA (ca_file()), both made
  // here with the openssl command. Fails the test (and leaves port()==0) when mosquitto or openssl is missing or
  // the broker does not come up.
  Broker(const std::filesystem::path& dir, bool persistent = false, bool tls = false);
  ~Broker();  // SIGKILL if running
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  unsigned short port() const { return port_; }
  std::string url() const { return "mqtt://127.0.0.1:" + std::to_string(port_); }
  unsigned short tls_port() const { return tls_port_; }
  std::string tls_url() const { return "mqtts://127.0.0.1:" + std::to_string(tls_port_); }
  std::filesystem::path ca_file() const { return dir_ / "ca.pem"; }
  // SIGTERM (mosquitto saves its database) and waits for the exit.
  void Stop();
  // Starts it again on the same port; false (and a test failure) when it does not come up.
  bool Start();
  std::string Log() const;

 private:
  std::filesystem::path dir_;
  unsigned short port_ = 0;
  unsigned short tls_port_ = 0;
  pid_t pid_ = -1;
};

struct MqttReceived {
  std::string topic;
  std::string payload;
  bool retained = false;
};

// Subscribes to `topic_filter` at QoS 1 and keeps every message; can publish too. Reconnects by itself (every
// second) after a broker restart. Thread-safe: the accessors may be called while messages arrive.
class Subscriber {
 public:
  // `client_id` non-empty: a persistent session (clean_session=false) under that id.
  Subscriber(unsigned short port, const std::string& topic_filter = "#", const std::string& client_id = "");
  ~Subscriber();
  Subscriber(const Subscriber&) = delete;
  Subscriber& operator=(const Subscriber&) = delete;

  // Publishes `payload` on `topic` (QoS 1); false when the library refuses it.
  bool Publish(const std::string& topic, const std::string& payload, bool retain = false);
  // True once the broker has confirmed the subscription (of the current connection).
  bool subscribed() const;
  std::vector<MqttReceived> All() const;
  // Payloads received on `topic`, oldest first.
  std::vector<std::string> On(const std::string& topic) const;
  // The newest payload on `topic`, if any.
  std::optional<std::string> Last(const std::string& topic) const;
  // Topics (with their newest payload) under `prefix`.
  std::map<std::string, std::string> Under(const std::string& prefix) const;

 private:
  static void OnConnect(mosquitto* m, void* self, int rc);
  static void OnSubscribe(mosquitto* m, void* self, int mid, int count, const int* granted);
  static void OnMessage(mosquitto* m, void* self, const mosquitto_message* msg);

  std::string filter_;
  mosquitto* mosq_ = nullptr;
  mutable std::mutex mu_;
  std::vector<MqttReceived> received_;  // guarded by mu_
  bool subscribed_ = false;             // guarded by mu_
};

}  // namespace iotstream::testing
