// Connection: a TCP connection handed over by the HTTP server to a route that speaks its own protocol on
// it (WebSocket, MJPEG). Includes Beast: only subsystems that take connections over include this header.
//
// Ownership: the handler owns it and moves the stream into its own session. The stream's executor is the
// connection's single-threaded io_context: handlers on it never overlap (it acts as the strand).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>

#include "http/http.h"
#include "http/request_body.h"

namespace iotstream::http {

using Executor = boost::asio::io_context::executor_type;
using TcpStream = boost::beast::basic_stream<boost::asio::ip::tcp, Executor>;

class Connection {
 public:
  Connection(TcpStream s, boost::beast::flat_buffer b, boost::beast::http::request<RequestBody> r)
      : stream(std::move(s)), buffer(std::move(b)), request(std::move(r)) {}

  TcpStream stream;
  boost::beast::flat_buffer buffer;  // bytes read past the request (e.g. an early WebSocket frame)
  boost::beast::http::request<RequestBody> request;  // headers as received (for the upgrade)
};

}  // namespace iotstream::http
