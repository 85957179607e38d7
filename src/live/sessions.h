// Private to live/: the WebSocket and MJPEG viewer sessions (Beast chat-multi style: shared_from_this,
// the connection's single-threaded executor as strand, one write in flight, newest frame per camera).
#pragma once

#include <memory>

#include "http/connection.h"
#include "live/viewer.h"

namespace iotstream::live {

class LiveHub;

// /ws (all cameras, or a subscription; binary frames with the LiveFrame header, text JSON events) when
// `device_id` is empty; /ws/devices/{id} (bare JPEG messages of one camera) otherwise.
void StartWebSocketViewer(LiveHub& hub, std::unique_ptr<http::Connection> conn, std::string device_id,
                          std::string remote);
// /api/v1/devices/{id}/mjpeg: multipart/x-mixed-replace over the connection.
void StartMjpegViewer(LiveHub& hub, std::unique_ptr<http::Connection> conn, std::string device_id, std::string remote);
// Answers a taken-over connection with a JSON error and closes it.
void RefuseConnection(std::unique_ptr<http::Connection> conn, int status, const std::string& message);

}  // namespace iotstream::live
