// The HTTP request head and body framing as the server reads them: Beast's request parser with the server's
// default header and body limits and its RequestBody, fed in pieces as a socket delivers them, several requests
// per connection; then each request as the handlers see it: the route match over the server's own patterns,
// percent-decoded captures and query parameters, and the JSON error that quotes the path.
//
// Input: byte 0 sets the piece size (1-256 bytes); the rest is what a client sends on one connection.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <nlohmann/json.hpp>

#include "http/connection.h"
#include "http/http.h"
#include "http/request_body.h"

namespace {

namespace bhttp = boost::beast::http;
using iotstream::http::Method;
using iotstream::http::Request;
using iotstream::http::Response;
using iotstream::http::Router;

// The route patterns of the main port (src/api, src/live), with do-nothing handlers: the match is under test.
const Router& Routes() {
  static const Router* router = [] {
    auto* r = new Router;
    auto none = [](Request&&, iotstream::http::Responder) {};
    for (const char* p : {"/health", "/metrics", "/api/v1/stream/fast", "/api/v1/stream/stream", "/api/v1/devices",
                          "/api/v1/devices/{id}", "/api/v1/devices/{id}/frames", "/api/v1/frames/{frame_id}",
                          "/api/v1/devices/{id}/snapshot.jpg", "/api/v1/recognition/permitted-faces/{person_id}",
                          "/api/v1/recognition/permitted-faces/{person_id}/faces/{face_id}",
                          "/api/v1/events/{id}/feedback", "/api/v1/webhooks/{id}"}) {
      r->Add(Method::kGet, p, none);
      r->Add(Method::kPost, p, none);
    }
    r->AddTakeover(Method::kGet, "/ws/devices/{id}", [](Request&&, std::unique_ptr<iotstream::http::Connection>) {});
    return r;
  }();
  return *router;
}

Method ToMethod(bhttp::verb v) {
  switch (v) {
    case bhttp::verb::get: return Method::kGet;
    case bhttp::verb::head: return Method::kHead;
    case bhttp::verb::post: return Method::kPost;
    case bhttp::verb::delete_: return Method::kDelete;
    default: return Method::kOther;
  }
}

// What a handler does with a request's outside text; aborts when an answer would not be JSON.
void Handle(const bhttp::request<iotstream::http::RequestBody>& msg, const iotstream::http::ServerOptions& options) {
  if (msg.body().size() > options.max_body_bytes) std::abort();  // the body limit did not hold
  Request req;
  req.method = ToMethod(msg.method());
  req.target = std::string(msg.target());
  const size_t q = req.target.find('?');
  req.path = req.target.substr(0, q);
  if (q != std::string::npos) req.query = req.target.substr(q + 1);
  for (const auto& field : msg) req.headers.emplace_back(field.name_string(), field.value());
  req.body = msg.body();
  const Router::Match match = Routes().Find(&req);
  std::string quoted = "no such path: " + req.path;
  for (const auto& [name, value] : req.params) quoted += " '" + value + "'";
  for (const char* key : {"device_id", "timestamp", "from", "limit", "name"}) {
    if (auto v = req.query_param(key)) quoted += " " + *v;
  }
  quoted += std::string(req.header("X-Device-ID"));
  const Response error = Response::Error(match.status == 0 ? 400 : match.status, quoted);
  if (nlohmann::json::parse(error.body, nullptr, false).is_discarded()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t piece = static_cast<size_t>(data[0]) + 1;
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  const iotstream::http::ServerOptions options;  // the server's defaults
  boost::beast::flat_buffer buffer;
  auto feed = [&] {
    if (input.empty()) return false;
    const std::string_view next = input.substr(0, piece);
    input.remove_prefix(next.size());
    auto dst = buffer.prepare(next.size());
    std::memcpy(dst.data(), next.data(), next.size());
    buffer.commit(next.size());
    return true;
  };
  // One parser per request, as the server's session does.
  for (int requests = 0; requests < 64; ++requests) {
    bhttp::request_parser<iotstream::http::RequestBody> parser;
    parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
    parser.body_limit(options.max_body_bytes);
    parser.eager(true);
    boost::beast::error_code ec;
    while (!parser.is_done()) {
      if (buffer.size() == 0 && !feed()) {
        if (!parser.got_some()) return 0;  // closed between requests: the server's read ends with end_of_stream
        parser.put_eof(ec);
        if (ec || !parser.is_done()) return 0;  // the peer closed mid-request
        break;
      }
      const size_t used = parser.put(buffer.data(), ec);
      buffer.consume(used);
      if (ec == bhttp::error::need_more || (!ec && used == 0)) {
        ec = {};
        if (!feed()) {
          if (!parser.got_some()) return 0;
          parser.put_eof(ec);
          if (ec || !parser.is_done()) return 0;
          break;
        }
        continue;
      }
      if (ec) return 0;  // the server answers 400/413/431 and closes
    }
    Handle(parser.get(), options);
    if (!parser.get().keep_alive()) return 0;
  }
  return 0;
}
