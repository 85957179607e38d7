// The footage routes: a camera's stored frames as a timeline (frames per minute over the retention window), and
// exports of a time range, as an H.264 MP4 or a ZIP of the JPEGs, run as jobs (exports::Exporter) that a client
// polls for their progress before it downloads the file.
//
//   GET  /api/v1/footage/{device}/timeline[?from=&to=&bucket_s=]   frames per bucket, the first and last frame
//   POST /api/v1/footage/{device}/exports   {"from", "to", "format"}  202 and the job; 400 bad or too long a range,
//                                                                     404 no frames, 503 too many exports under way
//   GET  /api/v1/footage/{device}/exports/{id}                        the job: state, progress
//   GET  /api/v1/footage/{device}/exports/{id}/file                   the file once done (409 before)
//
// Handlers never block: store queries and file reads go to the disk pool, encoding to the exporter's worker.
// Lifetime: everything `ctx` refers to must outlive the router.
#pragma once

#include <cstdint>
#include <string>

#include "core/work_pool.h"
#include "exports/exporter.h"
#include "http/http.h"
#include "ingest/ingest.h"
#include "store/store.h"

namespace iotstream::api {

struct FootageContext {
  store::Store& store;
  ingest::DeviceRegistry& registry;
  WorkPool& disk_pool;
  exports::Exporter& exporter;
  int64_t retention_max_age_ms = 0;  // the timeline's default span back from now; 0: all that is stored
  std::string frame_node{};          // in a cluster, this node's id, named in frame URLs (events::FrameUrl)
};

void AddFootageRoutes(http::Router& router, FootageContext& ctx);

}  // namespace iotstream::api
