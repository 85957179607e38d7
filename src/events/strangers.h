// Strangers: the faces the gallery does not name, grouped by identity, so that a household can answer "do you know
// this person?" once per person instead of once per sighting. A stranger is built from the event log: every
// unknown_face event, and every person_recognised event marked wrong, of a recent window, whose face the gallery
// still does not name (a face enrolled since drops out). Bounded by the window and a number of faces; nothing is
// kept beside the log, so strangers age out with the events they come from.
//
// Thread-safety: FindStrangers only reads the log and the gallery (each under its own lock); call it from a disk
// thread, never from an I/O thread (it reads SQLite and clusters up to max_faces faces: ~0.1 s for 2,000).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "store/records.h"
#include "vision/vision.h"

namespace iotstream::events {

struct StrangerOptions {
  int64_t window_ms = 7LL * 24 * 3600 * 1000;  // how far back faces are taken from
  size_t max_faces = 2000;                      // the newest this many faces of the window are grouped
  float link_distance = 0.5f;                   // two faces nearer than this are the same person (vision::ClusterFaces)
  float match_threshold = 0.6f;                 // a face the gallery names within this is no stranger's
  size_t best_faces = 5;                        // faces a stranger is enrolled with: the largest ones
};

struct Stranger {
  int64_t id = 0;                    // the group's oldest event id: stable while that event is in the window
  std::vector<int64_t> event_ids;    // newest first
  std::vector<int64_t> best_event_ids;  // the largest faces first, at most StrangerOptions::best_faces
  int64_t first_seen_ms = 0;
  int64_t last_seen_ms = 0;
  std::vector<std::pair<std::string, size_t>> cameras;  // device id and sightings there, most first
};

// The strangers seen in [now_ms - window_ms, now_ms], the most recently seen first. IOError when the log cannot
// be read.
Result<std::vector<Stranger>> FindStrangers(store::Records& records, const vision::Gallery& gallery,
                                            const StrangerOptions& options, int64_t now_ms);

}  // namespace iotstream::events
