// The recognition API: the seed's routes (port 9001, and the same paths on 9003) plus the event log.
//
//   POST   /api/v1/recognize                                  image -> faces with names
//   POST   /api/v1/recognition/add-permitted-face             multipart image + name -> enrolled
//   GET    /api/v1/recognition/permitted-faces                people with their faces
//   PATCH  /api/v1/recognition/permitted-faces/{person_id}    {"name": "..."} -> renamed
//   DELETE /api/v1/recognition/permitted-faces/{person_id}    forget a person
//   DELETE /api/v1/recognition/permitted-faces/{person_id}/faces/{face_id}
//   GET    /api/v1/recognition/faces/{face_id}/thumbnail.jpg
//   GET    /api/v1/events, /api/v1/events/{id}, /api/v1/events/{id}/thumbnail.jpg (main port only)
//   POST   /api/v1/events/{id}/feedback                       {"correct": false}
//   POST   /api/v1/events/{id}/enrol                          {"name": "..."}: "this is ..." (main port only)
//   GET    /api/v1/recognition/strangers                      unnamed faces grouped by identity (main port only)
//   POST   /api/v1/recognition/strangers/{id}/enrol           {"name": "..."}: enrol the group's best faces
//
// Inference runs on the RecognitionPool, disk work on the WorkPool: handlers never block an I/O thread.
// Lifetime: everything referenced must outlive the servers the routes are given to.
#pragma once

#include <cstdint>
#include <string>

#include "api/audit.h"
#include "core/metrics.h"
#include "core/work_pool.h"
#include "events/events.h"
#include "events/strangers.h"
#include "http/http.h"
#include "ingest/multipart.h"
#include "store/records.h"
#include "vision/pool.h"
#include "vision/vision.h"

namespace iotstream::api {

struct RecognitionContext {
  vision::RecognitionPool* pool = nullptr;  // null: recognition unavailable (see unavailable_reason)
  std::string unavailable_reason;
  vision::Gallery& gallery;
  store::Records& records;
  events::EventHub& events;
  WorkPool& disk_pool;
  std::string version;
  int64_t started_ms = 0;
  AuditTrail* audit = nullptr;  // enrolments, deletions and feedback are recorded here; REQUIRES: set before routes run
  ingest::MultipartLimits multipart{};            // bounds of an uploaded multipart body (413 beyond them)
  Counter* multipart_over_limit = nullptr;        // counts those 413s when set
  events::StrangerOptions strangers{};            // which unnamed faces GET .../strangers groups
};

// JSON of a recognition as /api/v1/recognize answers it.
std::string RecognitionJson(const vision::Recognition& r);

// The seed's recognition routes; `with_health` adds GET /health (for the recognition port).
void AddRecognitionRoutes(http::Router& router, RecognitionContext& ctx, bool with_health);
// The event log routes (main port).
void AddEventRoutes(http::Router& router, RecognitionContext& ctx);

}  // namespace iotstream::api
