// Test helpers shared by the suites: temporary folders, the face photo set, a real iotstream process,
// and a small synchronous HTTP client (Beast). Not thread-safe; one per test.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace iotstream::testing {

// A fresh folder under the system temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The labelled face photos: $IOTSTREAM_FACES_DIR, or when it is unset the shared set beside the checkout
// (../shared/faces, fixed at build time), so that a plain `ctest` finds them.
std::filesystem::path FacesDir();
// The descriptor weights: $IOTSTREAM_MODELS_DIR, or when it is unset the checkout's .cache/models.
std::filesystem::path ModelsDir();
// Empty when FacesDir() holds the photo set; otherwise what is missing and how to point the tests at it.
std::string FacesProblem();
std::string ReadFile(const std::filesystem::path& p);
// A photo from the face set, e.g. "ageitgey_face_recognition/examples/obama-480p.jpg". Fails the current
// test (and returns "") when it cannot be read.
std::string FaceJpeg(const std::string& relative);

struct HttpResult {
  int status = 0;  // 0: no answer (connection failed or closed)
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
};

// One keep-alive connection to 127.0.0.1:port (or host:port, host an IP address), reconnecting when the server
// closed it.
class HttpClient {
 public:
  explicit HttpClient(unsigned short port);
  HttpClient(const std::string& host, unsigned short port);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;
  HttpResult Request(const std::string& method, const std::string& target, const std::string& body = "",
                     const std::vector<std::pair<std::string, std::string>>& headers = {});
  HttpResult Get(const std::string& target) { return Request("GET", target); }
  HttpResult PostJpeg(const std::string& target, const std::string& jpeg, const std::string& device_id);

 private:
  struct Impl;
  Impl* impl_;
};

// A WebSocket client, on 127.0.0.1:port unless a host is given. Blocking calls with timeouts.
class WsClient {
 public:
  struct Message {
    bool ok = false;      // false: timeout, error or closed
    bool binary = false;
    std::string data;
  };
  // Connects and handshakes; see connected(). `receive_buffer` > 0 shrinks the socket's receive buffer
  // (SO_RCVBUF), to play a viewer on a slow link that stops reading.
  // `headers` go with the upgrade request (e.g. Origin, Cookie).
  WsClient(unsigned short port, const std::string& path, int receive_buffer = 0,
           const std::vector<std::pair<std::string, std::string>>& headers = {});
  // The same on `host` (a cluster's nodes listen on 127.0.0.2, 127.0.0.3, ...).
  WsClient(const std::string& host, unsigned short port, const std::string& path, int receive_buffer = 0,
           const std::vector<std::pair<std::string, std::string>>& headers = {});
  ~WsClient();
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;
  bool connected() const;
  // The status of the server's answer to the upgrade (101 when it was accepted; 0 when none came).
  int handshake_status() const;
  Message Read(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  bool SendText(const std::string& text);

 private:
  struct Impl;
  Impl* impl_;
};

// Reads messages, skipping binary ones and other text types, until a JSON text message whose "type" is `type`;
// null json when the connection closes or a read waits longer than `per_message`.
nlohmann::json NextEvent(WsClient& ws, const std::string& type,
                         std::chrono::milliseconds per_message = std::chrono::seconds(5));

// A /ws binary frame message, split.
struct WsFrame {
  bool ok = false;
  std::string device_id;
  uint64_t frame_id = 0;
  int64_t capture_ts_ms = 0;
  std::string jpeg;
};
WsFrame ParseWsFrame(const std::string& message);

// A multipart/form-data body; fields are (name, value, filename, content type).
struct FormField {
  std::string name, value, filename, content_type;
};
std::string MultipartBody(const std::string& boundary, const std::vector<FormField>& fields);

// The real iotstream binary ($IOTSTREAM_BIN) on a free port with its own data folder.
class ServerProcess {
 public:
  // Starts it with `args` plus --port 0 --recognition-port 0 --bind 127.0.0.1 (unless `args` has --bind) --data-dir
  // `data_dir` (and --auth off unless `args` has --auth), and waits for its "ready" line. Fails the current test (and leaves port()==0) when it does not come up.
  ServerProcess(const std::filesystem::path& data_dir, std::vector<std::string> args = {});
  ~ServerProcess();  // SIGKILL if still running
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  unsigned short port() const { return port_; }
  // The address it listens on (--bind).
  const std::string& host() const { return host_; }
  // Its process id (-1 when it did not start): for what a test does to the process itself (limits, /proc).
  pid_t pid() const { return pid_; }
  // The recognition API's port (0 when the server runs without it).
  unsigned short recognition_port() const { return recognition_port_; }
  // Sends `sig` and waits for exit; returns the exit status (128+signal when killed by one).
  int Stop(int sig);
  // The process's stderr so far (its log).
  std::string Log() const;
  // What it printed on stdout up to its "ready" line.
  const std::string& Stdout() const { return stdout_; }

 private:
  pid_t pid_ = -1;
  std::string host_ = "127.0.0.1";
  unsigned short port_ = 0;
  unsigned short recognition_port_ = 0;
  std::filesystem::path log_path_;
  std::string stdout_;
};

// A TCP port on `host` that nothing listens on now (bound and released at once), for a program that must be told
// its port in advance.
unsigned short FreePort(const std::string& host = "127.0.0.1");

// Polls `pred` every 10 ms until true or `timeout`; returns its last value.
template <typename Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace iotstream::testing

#include "support/test_support_inl.h"
