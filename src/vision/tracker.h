// FaceTracker: the faces of one camera from one recognition to the next, so that a person standing in view is
// described (the descriptor is most of a recognition's CPU) only when their face is clearly better than before, and
// produces one event per appearance rather than one per recognition.
//
// A face continues a track when its box overlaps the track's last box (intersection over union >= min_overlap); the
// pool then reuses the track's descriptor unless the face is larger by `better_area` (nearer, more frontal) or the
// track is not settled yet: unnamed, and either described fewer than `settle_after` times or younger than
// `give_up_us` (a face at a poor angle is often named a few frames later; a stranger is let be after that). A described face whose descriptor
// is far from its track's (another person stepped into the same place) starts a new track. Tracks not seen for
// `timeout_us` end, and Expire reports them: the end of an appearance.
//
// Thread-safety: none; one tracker per camera, used by one thread at a time (the pool runs one job per camera).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "vision/vision.h"

namespace iotstream::vision {

struct TrackerOptions {
  double min_overlap = 0.3;        // intersection over union that makes a face its track's
  double better_area = 1.25;       // a face this much larger than the track's best is described again
  int settle_after = 3;            // an unnamed track is settled after this many descriptors ...
  int64_t give_up_us = 2'000'000;  // ... and this long
  float same_person = 0.6f;        // descriptor distance above which a described face leaves its track
  int64_t timeout_us = 2'000'000;  // a track not seen for this long has ended
};

class FaceTracker {
 public:
  explicit FaceTracker(TrackerOptions options = {}) : options_(options) {}

  // What to do with each face of a new recognition: the track it continues (or none), and whether it needs its own
  // descriptor. Ends the tracks not seen for timeout_us first (Expire reports them). Does not change the tracks
  // otherwise.
  struct Step {
    std::optional<size_t> track;
    bool describe = true;
  };
  std::vector<Step> Plan(const std::vector<Face>& faces, int64_t now_us);

  // The track's descriptor, for a face Plan said to reuse it. REQUIRES: `track` came from the last Plan.
  const Descriptor& descriptor(size_t track) const { return tracks_[track].descriptor; }

  // Records the recognition Plan was made for: every face's box, descriptor and match (faces[i] pairs with
  // steps[i]). Sets faces[i].track_id; continued when it continues a track that already had that identity, and
  // better when it was described for being clearly larger than the track's best face. Faces not described keep
  // their track's descriptor; a described face far from its track's starts a new one.
  void Commit(const std::vector<Step>& steps, std::vector<RecognizedFace>* faces, int64_t now_us);

  // A track that ended: its id, the identity it had last, and when it was first and last seen (the times given
  // to Plan and Commit).
  struct Ended {
    uint64_t track_id = 0;
    std::optional<int64_t> person_id;
    int64_t first_seen_us = 0;
    int64_t last_seen_us = 0;
  };
  // Ends the tracks not seen for timeout_us and returns them with those Plan ended since the last call, each once.
  std::vector<Ended> Expire(int64_t now_us);

  // Whether every live track is named or has been given up on (see above), and there is at least one: its camera
  // then needs recognising only now and then. Tracks past their timeout do not count.
  bool Settled(int64_t now_us) const;
  // Whether a track is live (seen within timeout_us), and the box around every live track's last box.
  bool Live(int64_t now_us) const;
  std::optional<Box> LiveRegion(int64_t now_us) const;
  size_t size() const { return tracks_.size(); }

 private:
  struct Track {
    uint64_t id = 0;
    Box box;
    Descriptor descriptor{};
    std::optional<int64_t> person_id;
    int64_t best_area = 0;
    int described = 0;
    int64_t first_seen_us = 0;
    int64_t last_seen_us = 0;
  };
  bool TrackSettled(const Track& t, int64_t now_us) const {
    return t.person_id.has_value() ||
           (t.described >= options_.settle_after && now_us - t.first_seen_us >= options_.give_up_us);
  }

  // Moves the tracks past their timeout to ended_.
  void EndStale(int64_t now_us);

  TrackerOptions options_;
  std::vector<Track> tracks_;
  std::vector<Ended> ended_;  // ended, not yet reported by Expire
  uint64_t next_id_ = 1;
};

}  // namespace iotstream::vision
