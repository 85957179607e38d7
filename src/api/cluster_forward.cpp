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

http::Router::Forwarder CameraForwarder(const cluster::Membership& membership, const ingest::DeviceRegistry& registry) {
  return [&membership, &registry](const http::Request& req,
                                  std::string_view pattern) -> std::optional<http::Upstream> {
    const auto route = std::find_if(kCameraRoutes.begin(), kCameraRoutes.end(),
                                    [pattern](const auto& r) { return r.first == pattern; });
    const bool frames_list = pattern == "/api/v1/devices/{id}/frames";
    if (route == kCameraRoutes.end() && !frames_list) return std::nullopt;
    const cluster::ClusterView view = membership.Snapshot();
    if (!view.clustered) return std::nullopt;
    const auto by_id = [&view](std::string_view id) {
      return std::find_if(view.nodes.begin(), view.nodes.end(), [id](const auto& n) { return n.node_id == id; });
    };
    if (const auto named = req.query_param("node")) {
      if (*named == view.self) return std::nullopt;
      const auto node = by_id(*named);
      return node == view.nodes.end() ? std::nullopt : UpstreamOf(*node, view.self);
    }
    if (frames_list) return std::nullopt;
    const std::string device(req.param(route->second));
    const auto here = registry.Get(device, NowMs());
    if (here && here->online) return std::nullopt;
    auto holder = std::find_if(view.nodes.begin(), view.nodes.end(), [&](const cluster::NodeInfo& n) {
      return n.up && std::binary_search(n.cameras.begin(), n.cameras.end(), device);
    });
    if (holder == view.nodes.end()) {  // nobody has it online: the node that wrote its record last, if up
      const auto row = std::find_if(view.devices.begin(), view.devices.end(),
                                    [&](const cluster::DeviceRow& d) { return d.record.id == device; });
      if (row != view.devices.end()) holder = by_id(row->node_id);
    }
    if (holder == view.nodes.end() || !holder->up || holder->node_id == view.self) return std::nullopt;
    return UpstreamOf(*holder, view.self);
  };
}

}  // namespace iotstream::api
