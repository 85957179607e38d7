// Receiver: a real HTTP server on a free loopback port for the webhook tests. It records every request it reads
// and answers each with the status it is told (200 at first), or stops listening so that connections are refused.
// Thread-safe; one connection at a time, on its own thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace iotstream::testing {

class Receiver {
 public:
  struct Request {
    std::string method, target, body;
    std::map<std::string, std::string> headers;  // lower-case names
  };

  Receiver();  // listening; fails the current test when it cannot
  ~Receiver();
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  unsigned short port() const { return port_; }
  std::string Url(const std::string& path = "/hook") const;
  // The status code the next answers carry.
  void Answer(int status);
  // Closes the listening socket: connections are refused until Listen(). Returns once it is closed.
  void Refuse();
  // Listens again, on the same port. Returns once it listens.
  void Listen();
  // The requests answered 2xx so far, oldest first (all requests read, answered or not: Seen()).
  std::vector<Request> Accepted() const;
  size_t Seen() const;

 private:
  void Loop();
  bool OpenSocket();
  void Serve(int fd);

  unsigned short port_ = 0;
  int listen_fd_ = -1;  // used by the loop thread only once it runs
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int status_ = 200;            // guarded by mu_
  bool want_listening_ = true;  // guarded by mu_
  bool listening_ = false;      // guarded by mu_
  bool stopping_ = false;       // guarded by mu_
  std::vector<Request> accepted_;  // guarded by mu_
  size_t seen_ = 0;                // guarded by mu_
  std::thread thread_;
};

}  // namespace iotstream::testing
