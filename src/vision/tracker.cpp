#include "vision/tracker.h"

#include <algorithm>
#include <utility>

namespace iotstream::vision {
namespace {

int64_t Area(const Box& b) { return static_cast<int64_t>(b.w) * b.h; }

double Overlap(const Box& a, const Box& b) {
  const int x0 = std::max(a.x, b.x), y0 = std::max(a.y, b.y);
  const int x1 = std::min(a.x + a.w, b.x + b.w), y1 = std::min(a.y + a.h, b.y + b.h);
  if (x1 <= x0 || y1 <= y0) return 0;
  const auto inter = static_cast<double>(static_cast<int64_t>(x1 - x0) * (y1 - y0));
  return inter / static_cast<double>(Area(a) + Area(b) - static_cast<int64_t>(inter));
}

}  // namespace

void FaceTracker::EndStale(int64_t now_us) {
  std::erase_if(tracks_, [&](const Track& t) {
    if (now_us - t.last_seen_us <= options_.timeout_us) return false;
    ended_.push_back(Ended{t.id, t.person_id, t.first_seen_us, t.last_seen_us});
    return true;
  });
}

std::vector<FaceTracker::Ended> FaceTracker::Expire(int64_t now_us) {
  EndStale(now_us);
  return std::exchange(ended_, {});
}

std::vector<FaceTracker::Step> FaceTracker::Plan(const std::vector<Face>& faces, int64_t now_us) {
  EndStale(now_us);
  std::vector<Step> steps(faces.size());
  std::vector<bool> taken(tracks_.size(), false);
  // Greedy by overlap: the best-overlapping pair first, so two people side by side keep their own tracks.
  struct Pair {
    double overlap;
    size_t face, track;
  };
  std::vector<Pair> pairs;
  for (size_t f = 0; f < faces.size(); ++f) {
    for (size_t t = 0; t < tracks_.size(); ++t) {
      const double o = Overlap(faces[f].box, tracks_[t].box);
      if (o >= options_.min_overlap) pairs.push_back({o, f, t});
    }
  }
  std::sort(pairs.begin(), pairs.end(), [](const Pair& a, const Pair& b) { return a.overlap > b.overlap; });
  for (const Pair& p : pairs) {
    if (steps[p.face].track || taken[p.track]) continue;
    taken[p.track] = true;
    const Track& t = tracks_[p.track];
    steps[p.face].track = p.track;
    const bool better = static_cast<double>(Area(faces[p.face].box)) > options_.better_area * static_cast<double>(t.best_area);
    steps[p.face].describe = better || !TrackSettled(t, now_us);
  }
  return steps;
}

void FaceTracker::Commit(const std::vector<Step>& steps, std::vector<RecognizedFace>* faces, int64_t now_us) {
  std::vector<Track> started;
  for (size_t i = 0; i < faces->size() && i < steps.size(); ++i) {
    RecognizedFace& rf = (*faces)[i];
    std::optional<size_t> track = steps[i].track;
    if (track && steps[i].describe && Distance(rf.face.descriptor, tracks_[*track].descriptor) > options_.same_person) {
      track.reset();
    }
    if (!track) {
      Track t;
      t.id = next_id_++;
      rf.track_id = t.id;
      t.box = rf.face.box;
      t.descriptor = rf.face.descriptor;
      t.person_id = rf.match.person_id;
      t.best_area = Area(rf.face.box);
      t.described = 1;
      t.first_seen_us = now_us;
      t.last_seen_us = now_us;
      started.push_back(t);
      continue;
    }
    Track& t = tracks_[*track];
    rf.track_id = t.id;
    rf.continued = t.person_id == rf.match.person_id;
    t.box = rf.face.box;
    t.person_id = rf.match.person_id;
    t.last_seen_us = now_us;
    if (steps[i].describe) {
      const int64_t area = Area(rf.face.box);
      rf.better = rf.continued && static_cast<double>(area) > options_.better_area * static_cast<double>(t.best_area);
      t.descriptor = rf.face.descriptor;
      t.best_area = std::max(t.best_area, area);
      ++t.described;
    }
  }
  tracks_.insert(tracks_.end(), started.begin(), started.end());
}

bool FaceTracker::Live(int64_t now_us) const {
  return std::any_of(tracks_.begin(), tracks_.end(),
                     [&](const Track& t) { return now_us - t.last_seen_us <= options_.timeout_us; });
}

std::optional<Box> FaceTracker::LiveRegion(int64_t now_us) const {
  std::optional<Box> region;
  for (const Track& t : tracks_) {
    if (now_us - t.last_seen_us > options_.timeout_us) continue;
    if (!region) {
      region = t.box;
      continue;
    }
    const int x0 = std::min(region->x, t.box.x), y0 = std::min(region->y, t.box.y);
    const int x1 = std::max(region->x + region->w, t.box.x + t.box.w);
    const int y1 = std::max(region->y + region->h, t.box.y + t.box.h);
    region = Box{x0, y0, x1 - x0, y1 - y0};
  }
  return region;
}

bool FaceTracker::Settled(int64_t now_us) const {
  bool any = false;
  for (const Track& t : tracks_) {
    if (now_us - t.last_seen_us > options_.timeout_us) continue;
    if (!TrackSettled(t, now_us)) return false;
    any = true;
  }
  return any;
}

}  // namespace iotstream::vision
