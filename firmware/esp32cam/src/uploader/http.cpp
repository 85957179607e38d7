#include "http.h"

#include <cstdlib>
#include <cstring>

namespace iotstream::firmware {
namespace {

// A response head larger than this is not from a server we talk to.
constexpr size_t kMaxHeadBytes = 8192;

bool EqualsNoCase(const std::string& a, const char* b) {
  const size_t n = std::strlen(b);
  if (a.size() != n) return false;
  for (size_t i = 0; i < n; ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

bool ContainsNoCase(const std::string& haystack, const char* needle) {
  const size_t n = std::strlen(needle);
  for (size_t at = 0; at + n <= haystack.size(); ++at) {
    if (EqualsNoCase(haystack.substr(at, n), needle)) return true;
  }
  return false;
}

std::string Trim(const std::string& s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r')) --e;
  return s.substr(b, e - b);
}

// A decimal number of at most 18 digits and nothing else; -1 otherwise.
long long ParseDecimal(const std::string& s) {
  if (s.empty() || s.size() > 18) return -1;
  long long v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

}  // namespace

bool ParseServerUrl(const std::string& url, ServerUrl* out) {
  const std::string scheme = "http://";
  if (url.compare(0, scheme.size(), scheme) != 0) return false;
  const size_t host_begin = scheme.size();
  size_t authority_end = url.find('/', host_begin);
  if (authority_end == std::string::npos) authority_end = url.size();
  const std::string authority = url.substr(host_begin, authority_end - host_begin);
  ServerUrl parsed;
  const size_t colon = authority.rfind(':');
  if (colon == std::string::npos) {
    parsed.host = authority;
  } else {
    parsed.host = authority.substr(0, colon);
    const long long port = ParseDecimal(authority.substr(colon + 1));
    if (port <= 0 || port > 65535) return false;
    parsed.port = static_cast<uint16_t>(port);
  }
  if (parsed.host.empty()) return false;
  parsed.path = url.substr(authority_end);
  *out = parsed;
  return true;
}

std::string BuildUploadHead(const UploadHead& head) {
  std::string s;
  s.reserve(256);
  s += "POST ";
  s += head.path;
  s += " HTTP/1.1\r\nHost: ";
  s += head.host;
  if (head.port != 80) {
    s += ':';
    s += std::to_string(head.port);
  }
  s += "\r\nContent-Type: image/jpeg\r\nContent-Length: ";
  s += std::to_string(head.content_length);
  s += "\r\nX-Device-ID: ";
  s += head.device_id;
  if (head.has_timestamp) {
    s += "\r\nX-Frame-Timestamp: ";
    s += std::to_string(head.timestamp_ms);
  }
  if (!head.api_key.empty()) {
    s += "\r\nX-API-Key: ";
    s += head.api_key;
  }
  s += "\r\nConnection: keep-alive\r\n\r\n";
  return s;
}

ResponseParser::ResponseParser(size_t max_body_bytes) : max_body_bytes_(max_body_bytes) {}

void ResponseParser::Reset() {
  state_ = State::kIncomplete;
  error_ = "";
  head_.clear();
  in_body_ = false;
  until_close_ = false;
  body_remaining_ = 0;
  status_ = 0;
  keep_alive_ = true;
  retry_after_s_ = -1;
  body_.clear();
  body_truncated_ = false;
}

ResponseParser::State ResponseParser::Fail(const char* why) {
  state_ = State::kError;
  error_ = why;
  return state_;
}

ResponseParser::State ResponseParser::Feed(const uint8_t* data, size_t size) {
  if (state_ != State::kIncomplete) return state_;
  if (!in_body_) {
    // The head ends at the first blank line; it may arrive split anywhere, so look across the old tail too.
    const size_t old = head_.size();
    head_.append(reinterpret_cast<const char*>(data), size);
    const size_t from = old >= 3 ? old - 3 : 0;
    const size_t end = head_.find("\r\n\r\n", from);
    if (end == std::string::npos) {
      if (head_.size() > kMaxHeadBytes) return Fail("response head too large");
      return state_;
    }
    const std::string rest = head_.substr(end + 4);
    head_.resize(end + 2);
    if (!ParseHead()) return state_;
    in_body_ = true;
    if (!until_close_ && body_remaining_ == 0) {
      state_ = State::kComplete;
      return state_;
    }
    TakeBody(reinterpret_cast<const uint8_t*>(rest.data()), rest.size());
    return state_;
  }
  TakeBody(data, size);
  return state_;
}

ResponseParser::State ResponseParser::FeedEof() {
  if (state_ != State::kIncomplete) return state_;
  if (in_body_ && until_close_) {
    state_ = State::kComplete;
    keep_alive_ = false;
    return state_;
  }
  return Fail(in_body_ ? "connection closed inside the body" : "connection closed before an answer");
}

void ResponseParser::TakeBody(const uint8_t* data, size_t size) {
  size_t take = size;
  if (!until_close_ && take > body_remaining_) take = body_remaining_;
  const size_t room = body_.size() < max_body_bytes_ ? max_body_bytes_ - body_.size() : 0;
  const size_t keep = take < room ? take : room;
  body_.append(reinterpret_cast<const char*>(data), keep);
  if (keep < take) body_truncated_ = true;
  if (until_close_) return;
  body_remaining_ -= take;
  if (body_remaining_ == 0) state_ = State::kComplete;
}

bool ResponseParser::ParseHead() {
  // Status line: "HTTP/1.x SSS reason".
  size_t line_end = head_.find("\r\n");
  const std::string status_line = head_.substr(0, line_end);
  if (status_line.compare(0, 7, "HTTP/1.") != 0 || status_line.size() < 12 || status_line[8] != ' ') {
    Fail("not an HTTP/1.x status line");
    return false;
  }
  const bool http10 = status_line[7] == '0';
  const long long status = ParseDecimal(status_line.substr(9, 3));
  if (status < 100 || status > 599) {
    Fail("bad status code");
    return false;
  }
  status_ = static_cast<int>(status);
  keep_alive_ = !http10;
  long long content_length = -1;
  bool chunked = false;
  size_t at = line_end + 2;
  while (at < head_.size()) {
    line_end = head_.find("\r\n", at);
    const std::string line = head_.substr(at, line_end - at);
    at = line_end + 2;
    const size_t colon = line.find(':');
    if (colon == std::string::npos || colon == 0) {
      Fail("malformed header line");
      return false;
    }
    const std::string name = line.substr(0, colon);
    const std::string value = Trim(line.substr(colon + 1));
    if (EqualsNoCase(name, "content-length")) {
      content_length = ParseDecimal(value);
      if (content_length < 0) {
        Fail("bad Content-Length");
        return false;
      }
    } else if (EqualsNoCase(name, "connection")) {
      if (ContainsNoCase(value, "close")) keep_alive_ = false;
      if (ContainsNoCase(value, "keep-alive")) keep_alive_ = true;
    } else if (EqualsNoCase(name, "retry-after")) {
      const long long s = ParseDecimal(value);
      retry_after_s_ = s >= 0 ? static_cast<long>(s) : -1;
    } else if (EqualsNoCase(name, "transfer-encoding")) {
      chunked = ContainsNoCase(value, "chunked");
    }
  }
  if (chunked) {
    Fail("chunked answers are not supported");
    return false;
  }
  const bool no_body = status_ < 200 || status_ == 204 || status_ == 304;
  if (no_body) {
    body_remaining_ = 0;
  } else if (content_length >= 0) {
    body_remaining_ = static_cast<size_t>(content_length);
  } else {
    until_close_ = true;
    keep_alive_ = false;
  }
  return true;
}

}  // namespace iotstream::firmware
