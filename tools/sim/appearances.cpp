#include "appearances.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>

#include "host/posix_io.h"

namespace iotstream::sim {

namespace {

// A number of seconds as the options are written: "1.5", not "1.500000".
std::string Seconds(double s) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", s);
  return text;
}

// Reads the TSV's lines into photos without their clips.
bool ReadPhotoList(const std::string& tsv_path, std::vector<AppearancePhoto>* photos, std::string* error) {
  std::ifstream in(tsv_path);
  if (!in) {
    *error = "cannot read " + tsv_path;
    return false;
  }
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const size_t tab = line.find('\t');
    if (tab == std::string::npos || tab == 0 || tab + 1 == line.size()) {
      *error = tsv_path + " line " + std::to_string(number) + ": expected photo_path<TAB>person_name";
      return false;
    }
    photos->push_back({line.substr(0, tab), line.substr(tab + 1), nullptr});
  }
  return true;
}

}  // namespace

uint64_t AppearanceScript::StartUs(uint64_t k) const {
  return start_us + static_cast<uint64_t>((options.first_s + static_cast<double>(k) * options.every_s) * 1e6);
}

bool MakeAppearanceScript(const std::string& tsv_path, const AppearanceOptions& options, const SceneOptions& scene,
                          int background_count, int noise, AppearanceScript* script, std::string* error) {
  if (options.first_s < 0 || options.every_s < 0 || options.appearance_s <= 0) {
    *error = "--first-appearance-s >= 0, --appearance-every >= 0 and --appearance-s > 0 please";
    return false;
  }
  script->options = options;
  if (!tsv_path.empty() && !ReadPhotoList(tsv_path, &script->photos, error)) return false;
  if (script->scheduled() && options.every_s * options.cameras < options.appearance_s) {
    *error = "appearances on one camera would overlap: each camera shows one every --appearance-every x --cameras = " +
             Seconds(options.every_s * options.cameras) + " s, less than --appearance-s " +
             Seconds(options.appearance_s) + " s; give a larger --appearance-every or more cameras";
    return false;
  }
  script->backgrounds = MakeBackgrounds(scene, background_count, noise, error);
  if (script->backgrounds->empty()) return false;
  const int clip_frames = std::max(1, static_cast<int>(std::lround(options.appearance_s * options.fps)));
  std::map<std::string, firmware::JpegSet> clips;  // a photo listed twice is encoded once
  for (AppearancePhoto& photo : script->photos) {
    firmware::JpegSet& clip = clips[photo.path];
    if (!clip) {
      const std::string jpeg = firmware::LoadJpegFile(photo.path);
      if (jpeg.empty()) {
        *error = "cannot read " + photo.path;
        return false;
      }
      clip = MakeWalkPast(jpeg, scene, clip_frames, noise, error);
      if (clip->empty()) {
        *error = photo.path + ": " + *error;
        return false;
      }
    }
    photo.clip = clip;
  }
  return true;
}

AppearanceCamera::AppearanceCamera(const AppearanceScript& script, int index, firmware::Clock& clock,
                                   std::vector<AppearanceRecord>* log)
    : script_(script),
      clock_(clock),
      log_(log),
      next_(static_cast<uint64_t>(index)),
      background_(static_cast<size_t>(index)) {}

bool AppearanceCamera::Grab(firmware::FrameView* frame) {
  const uint64_t now = clock_.MonotonicUs();
  int64_t wall_ms = 0;
  clock_.WallMs(&wall_ms);
  const std::string* bytes = nullptr;
  if (script_.scheduled()) {
    const auto cameras = static_cast<uint64_t>(script_.options.cameras);
    // Every appearance of this camera that began since the last Grab; one that also ended in between was never
    // shown and keeps its scheduled start.
    for (uint64_t start = script_.StartUs(next_); start <= now; start = script_.StartUs(next_)) {
      log_->push_back({next_, next_ % script_.photos.size(), wall_ms - static_cast<int64_t>((now - start) / 1000), 0});
      next_ += cameras;
    }
    if (!log_->empty()) {
      AppearanceRecord& current = log_->back();
      const uint64_t since_us = now - script_.StartUs(current.index);
      if (static_cast<double>(since_us) < script_.options.appearance_s * 1e6) {
        const std::vector<std::string>& clip = *script_.photos[current.photo].clip;
        const auto i = static_cast<size_t>(static_cast<double>(since_us) * script_.options.fps / 1e6);
        bytes = &clip[std::min(i, clip.size() - 1)];
        if (current.frames_sent++ == 0) current.start_ms = wall_ms;
      }
    }
  }
  if (bytes == nullptr) bytes = &(*script_.backgrounds)[background_++ % script_.backgrounds->size()];
  frame->data = reinterpret_cast<const uint8_t*>(bytes->data());
  frame->size = bytes->size();
  return true;
}

}  // namespace iotstream::sim
