// Connection: a connection handed over by the HTTP server to a route that speaks its own protocol on it
// (WebSocket, MJPEG), over plain TCP or TLS. Includes Beast and Asio's OpenSSL streams: only subsystems that
// take connections over include this header.
//
// Code that speaks over a connection is written once, as a template over the stream type (TcpStream or
// TlsStream: both are Beast AsyncStreams whose lowest layer is a TcpStream), and instantiated for both by
// visiting Connection::stream.
//
// Ownership: the handler owns it and moves the stream into its own session. The stream's executor is the
// connection's single-threaded io_context: handlers on it never overlap (it acts as the strand).
#pragma once

#include <chrono>
#include <memory>
#include <variant>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "http/http.h"
#include "http/request_body.h"

namespace iotstream::http {

using Executor = boost::asio::io_context::executor_type;
using TcpStream = boost::beast::basic_stream<boost::asio::ip::tcp, Executor>;
// TLS over a TcpStream: its timeouts (expires_after on the lowest layer) bound the TLS records' reads and writes.
using TlsStream = boost::beast::ssl_stream<TcpStream>;

class Connection {
 public:
  using Stream = std::variant<TcpStream, TlsStream>;

  Connection(Stream s, boost::beast::flat_buffer b, boost::beast::http::request<RequestBody> r)
      : stream(std::move(s)), buffer(std::move(b)), request(std::move(r)) {}

  Stream stream;                     // with no deadline set (expires_never)
  boost::beast::flat_buffer buffer;  // bytes read past the request (e.g. an early WebSocket frame), decrypted
  boost::beast::http::request<RequestBody> request;  // headers as received (for the upgrade)
};

// Ends a connection whose last answer has been written: TCP sends its FIN; TLS first sends its close_notify
// and waits at most `timeout` for the peer's. `owner` (whatever owns the stream) is kept until that is done.
// REQUIRES: called on the stream's executor, with no write in flight.
void EndConnection(TcpStream& stream, std::shared_ptr<void> owner, std::chrono::milliseconds timeout);
void EndConnection(TlsStream& stream, std::shared_ptr<void> owner, std::chrono::milliseconds timeout);

}  // namespace iotstream::http
