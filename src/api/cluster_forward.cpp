#include <algorithm>
#include <array>

#include "api/api.h"
#include "core/clock.h"

namespace iotstream::api {
namespace {

// Routes about one camera whose answer only the node holding it has (its record and live figures too: a rename is
// made where the camera is), and the name of their camera's capture. The frames listing is not here: every node
// answers it, naming the other nodes that hold footage.
constexpr std::array<std::pair<std::string_view, std::string_view>, 9> kCameraRoutes{{
    {"/api/v1/devices/{id}", "id"},
    {"/ws/devices/{id}", "id"},
    {"/api/v1/devices/{id}/mjpeg", "id"},
    {"/api/v1/devices/{id}/snapshot.jpg", "id"},
    {"/api/v1/devices/{id}/frames/{frame_id}", "id"},
    {"/api/v1/footage/{device}/timeline", "device"},
    {"/api/v1/footage/{device}/exports", "device"},
    {"/api/v1/footage/{device}/exports/{id}", "device"},
    {"/api/v1/footage/{device}/exports/{id}/file", "device"},
}};

std::optional<http::Upstream> UpstreamOf(const cluster::NodeInfo& node, const std::string& self) {
  auto endpoint = cluster::ParseAdvertiseUrl(node.advertise_url);
  if (!endpoint.ok() || endpoint.value().tls) return std::nullopt;  // nodes forward to each other over plain HTTP
  std::string host = endpoint.value().host;
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  return http::Upstream{std::move(host), std::to_string(endpoint.value().port), self,
                        "node " + node.node_id + " (" + node.advertise_url + ")"};
}

}  // namespace

http::Router::Forwarder CameraForwarder(const cluster::Membership& membership, const ingest::DeviceRegistry& registry,
                                        std::string self) {
  return [&membership, &registry, self = std::move(self)](const http::Request& req,
                                                         std::string_view pattern) -> std::optional<http::Upstream> {
    const auto route = std::find_if(kCameraRoutes.begin(), kCameraRoutes.end(),
                                    [pattern](const auto& r) { return r.first == pattern; });
    const bool frames_list = pattern == "/api/v1/devices/{id}/frames";
    if (route == kCameraRoutes.end() && !frames_list) return std::nullopt;
    if (const auto named = req.query_param("node")) {
      if (*named == self) return std::nullopt;
      const auto node = membership.NodeById(*named);
      return node ? UpstreamOf(*node, self) : std::nullopt;
    }
    if (frames_list) return std::nullopt;
    const std::string device(req.param(route->second));
    if (const auto here = registry.Get(device, NowMs()); here && here->online) return std::nullopt;
    const auto holder = membership.HolderOf(device);
    return holder ? UpstreamOf(*holder, self) : std::nullopt;
  };
}

}  // namespace iotstream::api
