#include "events/strangers.h"

#include <algorithm>
#include <map>

#include "events/schema.h"

namespace iotstream::events {

Result<std::vector<Stranger>> FindStrangers(store::Records& records, const vision::Gallery& gallery,
                                            const StrangerOptions& options, int64_t now_ms) {
  store::EventQuery unknown;
  unknown.from_ms = std::max<int64_t>(0, now_ms - options.window_ms);
  unknown.to_ms = now_ms;
  unknown.types = {type::kUnknownFace};
  unknown.limit = options.max_faces;
  store::EventQuery wrong = unknown;
  wrong.types = {type::kPersonRecognised};
  wrong.feedback_correct = false;
  std::vector<store::EventRecord> faces;
  for (const auto* q : {&unknown, &wrong}) {
    auto list = records.ListEvents(*q);
    if (!list.ok()) return list.status();
    for (auto& e : list.value()) {
      if (e.descriptor.size() != vision::kDescriptorSize) continue;
      faces.push_back(std::move(e));
    }
  }
  std::sort(faces.begin(), faces.end(), [](const auto& a, const auto& b) { return a.id > b.id; });
  if (faces.size() > options.max_faces) faces.resize(options.max_faces);

  std::vector<vision::Descriptor> descriptors;
  std::vector<const store::EventRecord*> kept;
  for (const auto& e : faces) {
    const vision::Descriptor d = vision::ToDescriptor(e.descriptor);
    if (gallery.Identify(d, options.match_threshold).person_id) continue;  // enrolled since
    descriptors.push_back(d);
    kept.push_back(&e);
  }
  const std::vector<size_t> labels = vision::ClusterFaces(descriptors, options.link_distance);
  size_t groups = 0;
  for (size_t l : labels) groups = std::max(groups, l + 1);
  std::vector<Stranger> strangers(groups);
  std::vector<std::map<std::string, size_t>> cameras(groups);
  std::vector<std::vector<const store::EventRecord*>> members(groups);
  for (size_t i = 0; i < kept.size(); ++i) {  // newest first, so each group's lists are too
    const auto& e = *kept[i];
    Stranger& s = strangers[labels[i]];
    s.event_ids.push_back(e.id);
    s.id = e.id;  // ends as the oldest
    s.last_seen_ms = std::max(s.last_seen_ms, e.ts_ms);
    s.first_seen_ms = s.first_seen_ms == 0 ? e.ts_ms : std::min(s.first_seen_ms, e.ts_ms);
    ++cameras[labels[i]][e.device_id];
    members[labels[i]].push_back(&e);
  }
  for (size_t g = 0; g < groups; ++g) {
    auto& m = members[g];
    std::stable_sort(m.begin(), m.end(), [](const auto* a, const auto* b) {
      return int64_t{a->box_w} * a->box_h > int64_t{b->box_w} * b->box_h;
    });
    for (size_t i = 0; i < m.size() && i < options.best_faces; ++i) strangers[g].best_event_ids.push_back(m[i]->id);
    strangers[g].cameras.assign(cameras[g].begin(), cameras[g].end());
    std::stable_sort(strangers[g].cameras.begin(), strangers[g].cameras.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
  }
  std::stable_sort(strangers.begin(), strangers.end(),
                   [](const Stranger& a, const Stranger& b) { return a.last_seen_ms > b.last_seen_ms; });
  return strangers;
}

}  // namespace iotstream::events
