#include "notify/broker.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include <gtest/gtest.h>

#include "support/test_support.h"

extern char** environ;

namespace iotstream::testing {
namespace fs = std::filesystem;

namespace {

bool Accepts(unsigned short port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

}  // namespace

std::string MosquittoBinary() {
  if (const char* v = std::getenv("IOTSTREAM_MOSQUITTO"); v != nullptr && *v != '\0') return v;
  if (const char* path = std::getenv("PATH")) {
    std::string dirs = path;
    for (size_t start = 0; start <= dirs.size();) {
      const size_t end = std::min(dirs.find(':', start), dirs.size());
      const fs::path candidate = fs::path(dirs.substr(start, end - start)) / "mosquitto";
      if (access(candidate.c_str(), X_OK) == 0) return candidate.string();
      start = end + 1;
    }
  }
  return access("/usr/sbin/mosquitto", X_OK) == 0 ? "/usr/sbin/mosquitto" : "";
}

Broker::Broker(const fs::path& dir, bool persistent, bool tls) : dir_(dir) {
  fs::create_directories(dir_);
  // mosquitto started as root drops to its own user: let it write its database here.
  fs::permissions(dir_, fs::perms::all);
  port_ = FreePort();
  std::ofstream conf(dir_ / "mosquitto.conf");
  conf << "listener " << port_ << " 127.0.0.1\nallow_anonymous true\nlog_dest stderr\nlog_type all\n";
  if (persistent) {
    conf << "persistence true\npersistence_location " << dir_.string() << "/\n";
  } else {
    conf << "persistence false\n";
  }
  if (tls) {
    // A test CA and a server certificate for 127.0.0.1; readable by the user mosquitto drops to.
    const std::string d = dir_.string();
    const std::string make =
        "cd '" + d + "' && printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext && "
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem "
        "-days 2 -subj /CN=iotstream-test-ca && "
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr "
        "-subj /CN=127.0.0.1 && "
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 "
        "-extfile san.ext && chmod 644 server.key server.pem ca.pem";
    if (std::system((make + " > openssl.log 2>&1").c_str()) != 0) {
      ADD_FAILURE() << "cannot make the test certificates with openssl (apt-get install openssl):\n"
                    << ReadFile(dir_ / "openssl.log");
      port_ = 0;
      return;
    }
    tls_port_ = FreePort();
    conf << "listener " << tls_port_ << " 127.0.0.1\ncafile " << d << "/ca.pem\ncertfile " << d
         << "/server.pem\nkeyfile " << d << "/server.key\n";
  }
  conf.close();
  if (!Start()) port_ = 0;
}

Broker::~Broker() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

bool Broker::Start() {
  const std::string bin = MosquittoBinary();
  if (bin.empty()) {
    ADD_FAILURE() << "the MQTT broker mosquitto is not installed (apt-get install mosquitto; "
                     "WITH_TEST_TOOLS=1 scripts/setup.sh installs it), or set IOTSTREAM_MOSQUITTO to its path";
    return false;
  }
  std::vector<std::string> args{bin, "-c", (dir_ / "mosquitto.conf").string()};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  const std::string log = (dir_ / "mosquitto.log").string();
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  const int rc = posix_spawn(&pid_, bin.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    pid_ = -1;
    ADD_FAILURE() << "cannot start " << bin;
    return false;
  }
  const unsigned short port = port_;
  if (!WaitFor([port] { return Accepts(port); })) {
    ADD_FAILURE() << "mosquitto did not listen on " << port << "; its log:\n" << Log();
    return false;
  }
  return true;
}

void Broker::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

std::string Broker::Log() const { return ReadFile(dir_ / "mosquitto.log"); }

Subscriber::Subscriber(unsigned short port, const std::string& topic_filter, const std::string& client_id)
    : filter_(topic_filter) {
  mosquitto_lib_init();
  mosq_ = mosquitto_new(client_id.empty() ? nullptr : client_id.c_str(), client_id.empty(), this);
  mosquitto_connect_callback_set(mosq_, &Subscriber::OnConnect);
  mosquitto_subscribe_callback_set(mosq_, &Subscriber::OnSubscribe);
  mosquitto_message_callback_set(mosq_, &Subscriber::OnMessage);
  mosquitto_reconnect_delay_set(mosq_, 1, 1, false);
  if (mosquitto_connect_async(mosq_, "127.0.0.1", port, 30) != MOSQ_ERR_SUCCESS) {
    ADD_FAILURE() << "the subscriber cannot connect to port " << port;
  }
  mosquitto_loop_start(mosq_);
}

Subscriber::~Subscriber() {
  mosquitto_disconnect(mosq_);
  mosquitto_loop_stop(mosq_, false);
  mosquitto_destroy(mosq_);
}

void Subscriber::OnConnect(mosquitto* m, void* self_ptr, int rc) {
  auto* self = static_cast<Subscriber*>(self_ptr);
  {
    std::lock_guard<std::mutex> lock(self->mu_);
    self->subscribed_ = false;
  }
  if (rc == 0) mosquitto_subscribe(m, nullptr, self->filter_.c_str(), 1);
}

void Subscriber::OnSubscribe(mosquitto*, void* self_ptr, int, int, const int*) {
  auto* self = static_cast<Subscriber*>(self_ptr);
  std::lock_guard<std::mutex> lock(self->mu_);
  self->subscribed_ = true;
}

void Subscriber::OnMessage(mosquitto*, void* self_ptr, const mosquitto_message* msg) {
  auto* self = static_cast<Subscriber*>(self_ptr);
  std::lock_guard<std::mutex> lock(self->mu_);
  self->received_.push_back(MqttReceived{msg->topic,
                                         std::string(static_cast<const char*>(msg->payload),
                                                     static_cast<size_t>(msg->payloadlen)),
                                         msg->retain});
}

bool Subscriber::Publish(const std::string& topic, const std::string& payload, bool retain) {
  return mosquitto_publish(mosq_, nullptr, topic.c_str(), static_cast<int>(payload.size()), payload.data(), 1,
                           retain) == MOSQ_ERR_SUCCESS;
}

bool Subscriber::subscribed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return subscribed_;
}

std::vector<MqttReceived> Subscriber::All() const {
  std::lock_guard<std::mutex> lock(mu_);
  return received_;
}

std::vector<std::string> Subscriber::On(const std::string& topic) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& r : received_) {
    if (r.topic == topic) out.push_back(r.payload);
  }
  return out;
}

std::optional<std::string> Subscriber::Last(const std::string& topic) const {
  auto all = On(topic);
  if (all.empty()) return std::nullopt;
  return all.back();
}

std::map<std::string, std::string> Subscriber::Under(const std::string& prefix) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, std::string> out;
  for (const auto& r : received_) {
    if (r.topic.rfind(prefix, 0) == 0) out[r.topic] = r.payload;
  }
  return out;
}

}  // namespace iotstream::testing
