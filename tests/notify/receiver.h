// Receiver: a real HTTP/1.1 server (Boost.Beast) on a free loopback port for the webhook tests, plain or HTTPS. It
// records every request it reads and answers each with the status it is told (200 at first), keeping the
// connection open for the next request unless told to close after each answer; it counts the TCP connections it
// accepted, can drop every open connection (as a receiver's idle timeout or restart would), or stop listening so
// that connections are refused.
// Thread-safe: every method may be called from any test thread; the server runs on its own thread and serves any
// number of connections at once.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace iotstream::testing {

class Receiver {
 public:
  struct Request {
    std::string method, target, body;
    std::map<std::string, std::string> headers;  // lower-case names
  };
  struct Options {
    std::string cert_file;  // with key_file: HTTPS with this certificate (PEM); empty: plain HTTP
    std::string key_file;
    bool close_each = false;  // answer every request with Connection: close and close the connection
  };

  Receiver();  // plain HTTP, kept-alive connections; listening, or the current test has failed
  explicit Receiver(Options options);
  ~Receiver();
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  unsigned short port() const;
  // http://127.0.0.1:<port><path>, https:// for an HTTPS receiver.
  std::string Url(const std::string& path = "/hook") const;
  // The status code the next answers carry.
  void Answer(int status);
  // true: requests read from now on get no answer (their connection stays open until the client closes it), as
  // from a receiver that hangs; false: answered again.
  void Hold(bool hold);
  // Stops listening and closes every open connection: connections are refused until Listen(). Returns once done.
  void Refuse();
  // Listens again, on the same port. Returns once it listens.
  void Listen();
  // Closes every open connection (the listening socket stays). Returns once they are closed.
  void CloseConnections();
  // The requests answered 2xx so far, oldest first (all requests read, answered or not: Seen()).
  std::vector<Request> Accepted() const;
  size_t Seen() const;
  // TCP connections accepted so far.
  size_t Connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace iotstream::testing
