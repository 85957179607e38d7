// Private to src/http: relaying a request to an Upstream (Router::Forwarder) and its answer back.
#pragma once

#include <string>

#include "core/metrics.h"
#include "http/connection.h"

namespace iotstream::http {

struct ForwardCounters {
  Counter& forwarded;  // requests relayed to an upstream that accepted the connection
  Counter& failed;     // upstreams that could not be reached: answered 502
};

// The request as the upstream receives it: `msg`'s request line and fields, with hop-by-hop fields replaced
// (Connection: close, or Upgrade for a WebSocket handshake), `client_address` appended to X-Forwarded-For,
// kForwardedByHeader set to `via`, and `body` (the request's, read whole) with its Content-Length.
std::string ForwardedRequest(const boost::beast::http::request<RequestBody>& msg, const std::string& body,
                             const std::string& client_address, const std::string& via);

// Takes the client's connection over: connects to `to` (resolving its host off the I/O thread, 3 s for both),
// writes `head` (ForwardedRequest) and any bytes read past the request (`leftover`), then relays bytes both ways
// until the upstream ends its answer, then ends the client's connection. A request that is not a WebSocket
// handshake is relayed as one exchange (its connection closes after the answer, so a kept-alive client connection
// never carries another request to the wrong server). When the upstream cannot be reached, the client gets
// 502 {"error": ...} naming `to.label`, logged once per failure. REQUIRES: called on the stream's executor.
template <class Stream>
void StartForward(Stream client, boost::beast::flat_buffer leftover, std::string head, Upstream to, bool upgrade,
                  ForwardCounters counters);

extern template void StartForward<TcpStream>(TcpStream, boost::beast::flat_buffer, std::string, Upstream, bool,
                                             ForwardCounters);
extern template void StartForward<TlsStream>(TlsStream, boost::beast::flat_buffer, std::string, Upstream, bool,
                                             ForwardCounters);

}  // namespace iotstream::http
