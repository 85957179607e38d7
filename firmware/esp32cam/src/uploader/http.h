// The small piece of HTTP/1.1 a camera needs, written by hand so the board carries no HTTP library: the server
// URL, the head of a JPEG upload, and an incremental parser for the answer. Portable C++17, no I/O.
// Thread-compatible: a ResponseParser is used by one thread; the free functions are stateless.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace iotstream::firmware {

struct ServerUrl {
  std::string host;
  uint16_t port = 80;
  std::string path;  // "" when the URL has none
};

// Parses "http://host[:port][/path]". Returns false and leaves `*out` untouched for anything else (https is not
// spoken: the board has no TLS budget at 10 fps).
bool ParseServerUrl(const std::string& url, ServerUrl* out);

struct UploadHead {
  std::string path;        // e.g. "/api/v1/stream/fast"
  std::string host;        // the Host header, with ":port" added when not 80
  uint16_t port = 80;
  std::string device_id;   // X-Device-ID
  std::string api_key;     // X-API-Key when not empty
  bool has_timestamp = false;
  int64_t timestamp_ms = 0;  // X-Frame-Timestamp when has_timestamp
  size_t content_length = 0;
};

// The request line and headers of a keep-alive `POST` with `Content-Type: image/jpeg`, ending in the blank line;
// the JPEG follows as the body.
std::string BuildUploadHead(const UploadHead& head);

// Reads one HTTP/1.1 response as its bytes arrive. Understands a Content-Length body, a body that ends when the
// connection closes, and no body (1xx, 204, 304); a chunked body is reported as an error (iotstream never sends
// one). Keeps at most `max_body_bytes` of the body (the rest is read and dropped, see body_truncated()).
class ResponseParser {
 public:
  enum class State { kIncomplete, kComplete, kError };

  explicit ResponseParser(size_t max_body_bytes = 8192);

  // Starts over for the next response on the same connection.
  void Reset();
  // Takes the next bytes of the connection. Bytes after a complete response are ignored (the uploader never
  // pipelines, so a server has nothing more to say); the state stays kComplete.
  State Feed(const uint8_t* data, size_t size);
  // The connection closed: completes a close-delimited body, and is an error for anything still incomplete.
  State FeedEof();

  State state() const { return state_; }
  // Why the state is kError (for the log); "" otherwise.
  const char* error() const { return error_; }
  int status() const { return status_; }
  // False when the server said `Connection: close`, or spoke HTTP/1.0 without `keep-alive`.
  bool keep_alive() const { return keep_alive_; }
  // `Retry-After` in seconds, or -1 when absent or not a number of seconds (an HTTP date).
  long retry_after_s() const { return retry_after_s_; }
  const std::string& body() const { return body_; }
  bool body_truncated() const { return body_truncated_; }

 private:
  State Fail(const char* why);
  bool ParseHead();
  void TakeBody(const uint8_t* data, size_t size);

  size_t max_body_bytes_;
  State state_ = State::kIncomplete;
  const char* error_ = "";
  std::string head_;
  bool in_body_ = false;
  bool until_close_ = false;
  size_t body_remaining_ = 0;
  int status_ = 0;
  bool keep_alive_ = true;
  long retry_after_s_ = -1;
  std::string body_;
  bool body_truncated_ = false;
};

}  // namespace iotstream::firmware
