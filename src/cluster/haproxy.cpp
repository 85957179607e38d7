#include <sstream>

#include "cluster/cluster.h"
#include "core/clock.h"

namespace iotstream::cluster {

Result<std::string> RenderHaproxyConfig(const std::vector<NodeInfo>& nodes, const HaproxyOptions& options) {
  if (nodes.empty()) return Status::InvalidArgument("no nodes are registered: start the nodes with --database first");
  if (options.port < 1 || options.port > 65'535) return Status::InvalidArgument("the port must be 1 to 65535");
  if (options.check_interval_ms < 100) return Status::InvalidArgument("the check interval must be at least 100 ms");
  std::ostringstream servers;
  for (const NodeInfo& n : nodes) {
    if (Status st = CheckNodeId(n.node_id); !st.ok()) {
      return Status::InvalidArgument("node id '" + n.node_id + "' " + st.message());
    }
    auto e = ParseAdvertiseUrl(n.advertise_url);
    if (!e.ok()) return Status::InvalidArgument("node '" + n.node_id + "': " + e.status().message());
    servers << "    server " << n.node_id << ' ' << e.value().host << ':' << e.value().port << " check";
    // An https:// node is checked and spoken to over TLS, its certificate verified against the system's CAs.
    if (e.value().tls) servers << " ssl verify required ca-file @system-ca";
    servers << '\n';
  }
  const int inter = options.check_interval_ms;
  std::ostringstream out;
  out << "# HAProxy configuration for " << nodes.size() << " iotstream node(s), written by\n"
      << "# `iotstream cluster haproxy-config` at " << FormatUtc(NowMs(), "%Y-%m-%d %H:%M:%S") << " UTC from the nodes\n"
      << "# table. A camera's frames go to one node, chosen by consistent hashing on its device id; when that node\n"
      << "# fails two health checks, only its cameras move to the others.\n"
      << "global\n"
      << "    # Each connection takes two descriptors (the client's and the node's): raise both with the descriptor\n"
      << "    # limit (ulimit -n) for more cameras and viewers.\n"
      << "    maxconn 8000\n"
      << "\n"
      << "defaults\n"
      << "    mode http\n"
      << "    timeout connect 5s\n"
      << "    timeout client 60s\n"
      << "    timeout server 60s\n"
      << "    timeout http-request 10s\n"
      << "    timeout http-keep-alive 10s\n"
      << "    # WebSocket (/ws) and MJPEG viewers hold their connection open for as long as they watch.\n"
      << "    timeout tunnel 1h\n"
      << "    # A request sent to a node that died before its checks noticed is tried again, the last time on\n"
      << "    # another node.\n"
      << "    retries 2\n"
      << "    option redispatch\n"
      << "\n"
      << "frontend iotstream\n"
      << "    bind " << options.bind_address << ':' << options.port << '\n'
      << "    # The device id: X-Device-ID, else ?device_id=, else the device segment of the path.\n"
      << "    http-request set-var(txn.device_id) req.hdr(X-Device-ID)\n"
      << "    http-request set-var(txn.device_id) url_param(device_id) if !{ var(txn.device_id) -m found }\n"
      << "    http-request set-var(txn.device_id) path,field(5,/) if !{ var(txn.device_id) -m found } "
         "{ path_beg /api/v1/devices/ /api/v1/footage/ }\n"
      << "    http-request set-var(txn.device_id) path,field(4,/) if !{ var(txn.device_id) -m found } "
         "{ path_beg /ws/devices/ }\n"
      << "    # Without one (the dashboard, scripts): the client's address, so that a browser stays on one node.\n"
      << "    http-request set-var(txn.device_id) src if !{ var(txn.device_id) -m found }\n"
      << "    # The client's address for the nodes' logs, audit and failed-login limits (start them with\n"
      << "    # --trusted-proxy <this HAProxy's address>).\n"
      << "    option forwardfor\n"
      << "    default_backend iotstream_nodes\n"
      << "\n"
      << "backend iotstream_nodes\n"
      << "    balance hash var(txn.device_id)\n"
      << "    hash-type consistent\n"
      << "    option httpchk GET /health\n"
      << "    http-check expect status 200\n"
      << "    # Which node answered, for people and scripts that follow a camera.\n"
      << "    http-response set-header X-Iotstream-Node %s\n"
      << "    default-server inter " << inter << " fastinter " << inter << " downinter " << inter
      << " fall 2 rise 1 on-marked-down shutdown-sessions\n"
      << servers.str();
  return out.str();
}

}  // namespace iotstream::cluster
