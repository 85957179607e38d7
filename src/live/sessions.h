// Private to live/: the WebSocket and MJPEG viewer sessions (Beast chat-multi style: shared_from_this,
// the connection's single-threaded executor as strand, one write in flight, newest frame per camera).
#pragma once

#include <memory>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "http/connection.h"
#include "live/viewer.h"

namespace iotstream::live {

class LiveHub;

// The viewers' own I/O thread, below the HTTP threads' CPU priority (LiveOptions::viewer_thread_nice). Every
// viewer session runs on it, so the fan-out writes that follow each frame yield the CPU to cameras' uploads
// and their answers, never the other way round. bench/fanout.sh, 1 camera -> 100 viewers, four 15 s runs a
// side, interleaved: the camera's upload p50 1.8-1.9 -> 1.2-1.3 ms (0 viewers: 1.0-1.2), p99 3.6-6.1 ->
// 3.3-4.9 ms; viewer latency p99 6.7-8.0 -> 6.9-8.8 ms.
// Thread-safety: Adopt() may be called from any thread.
class ViewerThread {
 public:
  explicit ViewerThread(int nice);
  // Stops the thread; handlers still queued are destroyed, and with them their sessions.
  ~ViewerThread();
  ViewerThread(const ViewerThread&) = delete;
  ViewerThread& operator=(const ViewerThread&) = delete;

  // The same connection, its I/O now on this thread. A socket that cannot be moved (already broken) is
  // returned as it was: its session then fails on its first operation where it is.
  http::TcpStream Adopt(http::TcpStream stream);
  // A TLS connection stays on its HTTP I/O thread: Asio's TLS stream keeps timers of the io_context it was made
  // on, and its OpenSSL session with buffered records cannot move to another. Its viewer session runs there,
  // at the HTTP threads' priority (the hub posts it its frames one by one).
  http::TlsStream Adopt(http::TlsStream stream) { return stream; }
  http::Executor executor() { return context_.get_executor(); }

 private:
  boost::asio::io_context context_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
};

// /ws (all cameras, or a subscription; binary frames with the LiveFrame header, text JSON events) when
// `device_id` is empty; /ws/devices/{id} (bare JPEG messages of one camera) otherwise.
void StartWebSocketViewer(LiveHub& hub, std::unique_ptr<http::Connection> conn, std::string device_id,
                          std::string remote);
// /api/v1/devices/{id}/mjpeg: multipart/x-mixed-replace over the connection.
void StartMjpegViewer(LiveHub& hub, std::unique_ptr<http::Connection> conn, std::string device_id, std::string remote);
// Answers a taken-over connection with a JSON error and closes it.
void RefuseConnection(std::unique_ptr<http::Connection> conn, int status, const std::string& message);

}  // namespace iotstream::live
