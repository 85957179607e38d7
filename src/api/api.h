// The HTTP API: the seed's routes (/api/v1/stream/*, /api/v1/devices, /health, ...) and ours, as handlers
// on an http::Router. Handlers parse, call a subsystem, and answer JSON; disk work goes to a WorkPool.
//
// Lifetime: every referenced object must outlive the server the router is given to.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "api/audit.h"
#include "cluster/cluster.h"
#include "core/frame_sink.h"
#include "core/metrics.h"
#include "core/work_pool.h"
#include "events/events.h"
#include "http/http.h"
#include "ingest/ingest.h"
#include "live/live.h"
#include "notify/mqtt.h"
#include "store/store.h"

namespace iotstream::api {

struct RecognitionContext;

struct ApiContext {
  ingest::Ingestor& ingestor;
  FrameHandOff& frames;     // where accepted frames go (store, live view, recognition)
  ingest::DeviceRegistry& registry;
  store::Store& store;
  Metrics& metrics;
  WorkPool& disk_pool;      // for store queries and frame reads
  live::LiveHub& live;      // forgets deleted devices' latest frames
  events::EventHub& events;  // device changes become events
  RecognitionContext* recognition;  // the stream path answers with its frame's recognition
  std::string version;
  int64_t started_ms = 0;   // wall clock at start, for uptime
  std::atomic<const http::Server*> server{nullptr};  // the main port's server once started, for its figures
  const notify::MqttPublisher* mqtt = nullptr;       // the MQTT output when on, for its figures
  AuditTrail* audit = nullptr;  // device deletions are recorded here; REQUIRES: set before routes run
  cluster::Membership* cluster = nullptr;  // GET /api/v1/cluster, device records; REQUIRES: set before routes run
};

// Adds every route of the main port (9003) to `router`. `ctx` must outlive the router.
void AddRoutes(http::Router& router, ApiContext& ctx);

// In a cluster, where a request about one camera goes when it reaches a node that does not hold the camera: to the
// node that does (an http::Router::Forwarder). The routes: the camera's record (GET, PATCH, DELETE), live view
// (/ws/devices/ID, MJPEG), the snapshot, stored frames, footage timelines and exports. A camera is held here while it is online here, else by the up node whose
// recent cameras include it, else by the node that wrote its record (the devices table) last, if that one is up;
// when none is, the route answers here. `?node=ID` names the node that holds the
// footage asked for (a frame stored before its camera moved; frame URLs in a cluster carry it): forwarded there when
// it is another node, up or not (a node that is down is answered 502 through this one). Forwards nothing when the
// membership is not clustered. `self`: this node's id. Reads in-memory state only (Membership::HolderOf and NodeById,
// no copy of the cluster's view per request). Both must outlive the router.
http::Router::Forwarder CameraForwarder(const cluster::Membership& membership, const ingest::DeviceRegistry& registry,
                                        std::string self);

// Serves every file under `web_dir` (read once, now) at "/" + its relative path, and index.html at "/".
// IOError when the folder cannot be read.
Status AddStaticRoutes(http::Router& router, const std::string& web_dir);

}  // namespace iotstream::api
