// iotstream-sim: simulated ESP32-CAM cameras posting JPEGs to an iotstream server with the firmware's own uploader.
//   iotstream-sim --url http://127.0.0.1:9003 --cameras 20 --fps 10 --duration 10 --frames ../shared/faces
//   iotstream-sim --scene --face photo.jpg --path /api/v1/stream/stream --cameras 2 --fps 2 --duration 30
//   iotstream-sim --appearances people.tsv --cameras 50 --duration 60 --json --appearance-log appearances.json
// A progress line goes to stderr each second; the figures per camera and in total to stdout, as a table or, with
// --json, as one JSON object. "frames" are the frame slots of the run (fps x duration per camera: sent, skipped, or
// left unsent after a last late answer); "within" is the share of them answered 2xx within --slo-ms. With
// --appearances (appearances.h) the JSON also lists each appearance a camera showed, for a benchmark to join with
// the server's events; --scene-still is the same still, noisy background with nobody appearing. The JSON's
// started_ms and ended_ms are the wall clock (ms since the epoch) when the cameras started and when the last one
// finished, after the frames were prepared. Exit status 0 after a run, 2 for bad options or unusable frames.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "appearances.h"
#include "host/posix_io.h"
#include "scene.h"
#include "simulator.h"
#include "uploader/http.h"

namespace {

namespace po = boost::program_options;
using iotstream::firmware::JpegSet;
using iotstream::firmware::UploaderStats;
using nlohmann::json;

// The scripted scene's frames: a person about 260 px high in a 640x480 frame, as one a few metres from a door
// camera; eight background frames with +-3 levels of sensor noise make a still camera's JPEG sizes jitter.
constexpr int kAppearanceFaceHeight = 260;
constexpr int kBackgroundFrames = 8;
constexpr int kSensorNoise = 3;

struct Figures {
  std::string name;
  UploaderStats stats;
  std::vector<uint32_t> latency_us;
  uint64_t frames = 0;
  uint64_t ok_within_slo = 0;
};

void Add(UploaderStats& into, const UploaderStats& s) {
  into.attempts += s.attempts;
  into.ok += s.ok;
  into.non_2xx += s.non_2xx;
  into.timeouts += s.timeouts;
  into.connect_failures += s.connect_failures;
  into.connection_errors += s.connection_errors;
  into.no_frame += s.no_frame;
  into.skipped_slots += s.skipped_slots;
  into.late += s.late;
  into.connections += s.connections;
}

json ToJson(Figures& f, double duration_s) {
  const UploaderStats& s = f.stats;
  const double ms = 1000.0;
  const uint64_t frames = f.frames;
  return {
      {"frames", frames},
      {"sent", s.attempts},
      {"ok", s.ok},
      {"success_rate", s.attempts == 0 ? 0.0 : static_cast<double>(s.ok) / static_cast<double>(s.attempts)},
      {"fps", static_cast<double>(s.ok) / duration_s},
      {"ok_within_slo", f.ok_within_slo},
      {"within_slo", frames == 0 ? 0.0 : static_cast<double>(f.ok_within_slo) / static_cast<double>(frames)},
      {"latency_ms",
       {{"p50", iotstream::sim::Percentile(f.latency_us, 50) / ms},
        {"p99", iotstream::sim::Percentile(f.latency_us, 99) / ms},
        {"max", iotstream::sim::Percentile(f.latency_us, 100) / ms}}},
      {"timeouts", s.timeouts},
      {"non_2xx", s.non_2xx},
      {"connect_failures", s.connect_failures},
      {"connection_errors", s.connection_errors},
      {"skipped", s.skipped_slots},
      {"late", s.late},
      {"connections", s.connections},
  };
}

// The appearances the cameras showed, in schedule order, with the camera's device id and the photo's person and path.
json AppearancesJson(const iotstream::sim::AppearanceScript& script,
                     const std::vector<std::vector<iotstream::sim::AppearanceRecord>>& logs,
                     const std::vector<iotstream::sim::CameraSummary>& cameras) {
  std::vector<std::pair<const iotstream::sim::AppearanceRecord*, size_t>> all;  // record, camera
  for (size_t c = 0; c < logs.size(); ++c) {
    for (const auto& r : logs[c]) all.emplace_back(&r, c);
  }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first->index < b.first->index; });
  json out = json::array();
  for (const auto& [r, c] : all) {
    const iotstream::sim::AppearancePhoto& photo = script.photos[r->photo];
    out.push_back({{"index", r->index},
                   {"device_id", cameras[c].device_id},
                   {"person", photo.person},
                   {"photo", photo.path},
                   {"start_ms", r->start_ms},
                   {"frames_sent", r->frames_sent}});
  }
  return out;
}

void PrintRow(const std::string& name, const json& j) {
  std::printf("%-16s %7llu %7llu %7llu %6.1f%% %7.2f%% %7.1f %8.2f %8.2f %8.2f %8llu %7llu %6llu %7llu %6llu\n",
              name.c_str(), j["frames"].get<unsigned long long>(), j["sent"].get<unsigned long long>(),
              j["ok"].get<unsigned long long>(), 100.0 * j["success_rate"].get<double>(),
              100.0 * j["within_slo"].get<double>(), j["fps"].get<double>(), j["latency_ms"]["p50"].get<double>(),
              j["latency_ms"]["p99"].get<double>(), j["latency_ms"]["max"].get<double>(),
              j["timeouts"].get<unsigned long long>(), j["non_2xx"].get<unsigned long long>(),
              j["connect_failures"].get<unsigned long long>() + j["connection_errors"].get<unsigned long long>(),
              j["skipped"].get<unsigned long long>(), j["late"].get<unsigned long long>());
}

}  // namespace

int main(int argc, char** argv) {
  iotstream::sim::SimOptions options;
  std::string url;
  std::string frames_dir;
  std::string face;
  std::string appearances_tsv;
  std::string appearance_log;
  iotstream::sim::AppearanceOptions appearance;
  po::options_description desc("iotstream-sim: simulated ESP32-CAM cameras (the firmware's uploader) against iotstream");
  desc.add_options()("help", "this text")
      ("url", po::value(&url)->default_value("http://127.0.0.1:9003"), "server, http://host[:port]")
      ("cameras", po::value(&options.cameras)->default_value(1), "number of cameras, each with its own connection")
      ("fps", po::value(&options.fps)->default_value(10), "frames per second per camera (0: as fast as answered)")
      ("duration", po::value(&options.duration_s)->default_value(10), "seconds to run")
      ("frames", po::value(&frames_dir), "folder of JPEGs (searched recursively), sent in turn")
      ("scene", "a generated 640x480 scene with a face walking in and out (needs --face)")
      ("face", po::value(&face), "the face photo (JPEG) for --scene")
      ("appearances", po::value(&appearances_tsv),
       "TSV of photo_path<TAB>person_name (a JPEG of one person each): appearance k walks photo k mod photos past "
       "camera k mod cameras over a still background")
      ("appearance-every", po::value(&appearance.every_s)->default_value(appearance.every_s),
       "seconds between appearances across all cameras (0: nobody appears)")
      ("appearance-s", po::value(&appearance.appearance_s)->default_value(appearance.appearance_s),
       "seconds a person is in view")
      ("first-appearance-s", po::value(&appearance.first_s)->default_value(appearance.first_s),
       "seconds of still background before the first appearance")
      ("appearance-log", po::value(&appearance_log), "also write the appearances shown (JSON array) to this file")
      ("scene-still", "the still background of --appearances with nobody appearing")
      ("path", po::value(&options.path)->default_value("/api/v1/stream/fast"), "upload route")
      ("device-prefix", po::value(&options.device_prefix)->default_value("sim-"), "device ids are prefix + 000, 001, ...")
      ("timeout-ms", po::value(&options.timeout_ms)->default_value(3000), "per request, as on the board")
      ("slo-ms", po::value(&options.slo_ms)->default_value(100),
       "bound for the 'within' figure: share of frame slots answered 2xx within this many ms")
      ("json", "print the figures as JSON")
      ("verbose", "print the uploaders' log lines (failures, backoff)");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "iotstream-sim: " << e.what() << "\n" << desc;
    return 2;
  }
  if (vm.count("help")) {
    std::cout << desc;
    return 0;
  }
  iotstream::firmware::ServerUrl server;
  if (!iotstream::firmware::ParseServerUrl(url, &server)) {
    std::cerr << "iotstream-sim: --url must be http://host[:port]\n";
    return 2;
  }
  if (options.cameras < 1 || options.fps < 0 || options.duration_s <= 0) {
    std::cerr << "iotstream-sim: --cameras >= 1, --fps >= 0 and --duration > 0 please\n";
    return 2;
  }
  options.host = server.host;
  options.port = server.port;
  options.verbose = vm.count("verbose") > 0;
  const bool scene = vm.count("scene") > 0;
  const bool scripted = vm.count("appearances") > 0 || vm.count("scene-still") > 0;
  if (scripted && (scene || !frames_dir.empty() || (vm.count("appearances") > 0 && vm.count("scene-still") > 0))) {
    std::cerr << "iotstream-sim: --appearances and --scene-still go without --frames, --scene and each other\n";
    return 2;
  }
  if (!appearance_log.empty() && !vm.count("appearances")) {
    std::cerr << "iotstream-sim: --appearance-log goes with --appearances\n";
    return 2;
  }

  JpegSet frames;
  const double scene_fps = options.fps > 0 ? options.fps : 10;
  iotstream::sim::AppearanceScript script;
  std::ofstream log_file;
  if (scripted) {
    appearance.cameras = options.cameras;
    appearance.fps = scene_fps;
    std::string error;
    iotstream::sim::SceneOptions so;
    so.fps = scene_fps;
    so.face_height = kAppearanceFaceHeight;
    if (!iotstream::sim::MakeAppearanceScript(appearances_tsv, appearance, so, kBackgroundFrames, kSensorNoise, &script,
                                              &error)) {
      std::cerr << "iotstream-sim: " << error << "\n";
      return 2;
    }
    if (!appearance_log.empty()) {  // opened now, so that a path it cannot write fails before the run
      log_file.open(appearance_log, std::ios::trunc);
      if (!log_file) {
        std::cerr << "iotstream-sim: cannot write " << appearance_log << "\n";
        return 2;
      }
    }
  } else if (scene) {
    if (face.empty()) {
      std::cerr << "iotstream-sim: --scene needs --face PHOTO.jpg\n";
      return 2;
    }
    iotstream::sim::SceneOptions so;
    so.fps = scene_fps;
    std::string error;
    frames = iotstream::sim::MakeScene(iotstream::firmware::LoadJpegFile(face), so, &error);
    if (frames->empty()) {
      std::cerr << "iotstream-sim: " << error << "\n";
      return 2;
    }
  } else {
    if (frames_dir.empty()) {
      std::cerr << "iotstream-sim: give --frames DIR, --scene --face PHOTO.jpg or --appearances PEOPLE.tsv\n";
      return 2;
    }
    frames = iotstream::firmware::LoadJpegFolder(frames_dir);
    if (frames->empty()) {
      std::cerr << "iotstream-sim: no .jpg files under " << frames_dir << "\n";
      return 2;
    }
  }
  // One log per camera, each written by its camera's thread only, merged after the run.
  std::vector<std::vector<iotstream::sim::AppearanceRecord>> logs(static_cast<size_t>(options.cameras));
  const iotstream::sim::CameraFactory make_camera =
      [&](int index, iotstream::firmware::Clock& clock) -> std::unique_ptr<iotstream::firmware::Camera> {
    if (scripted) {
      return std::make_unique<iotstream::sim::AppearanceCamera>(script, index, clock,
                                                                &logs[static_cast<size_t>(index)]);
    }
    const auto offset = static_cast<size_t>(index) * 7;
    if (scene) return std::make_unique<iotstream::sim::ClockedCamera>(frames, clock, scene_fps, offset);
    return std::make_unique<iotstream::firmware::JpegSetCamera>(frames, offset);
  };

  const bool tty = isatty(STDERR_FILENO) != 0;
  const auto progress = [&](const iotstream::sim::LiveTotals& t, double elapsed) {
    std::fprintf(stderr, "%s[%5.1f s] %d cameras: %llu sent, %llu ok, %llu non-2xx, %llu timeouts, %llu errors%s",
                 tty ? "\r" : "", elapsed, options.cameras, static_cast<unsigned long long>(t.sent.load()),
                 static_cast<unsigned long long>(t.ok.load()), static_cast<unsigned long long>(t.non_2xx.load()),
                 static_cast<unsigned long long>(t.timeouts.load()), static_cast<unsigned long long>(t.errors.load()),
                 tty ? "" : "\n");
  };
  iotstream::firmware::SteadyClock clock;
  int64_t started_ms = 0;
  clock.WallMs(&started_ms);
  script.start_us = clock.MonotonicUs();
  std::vector<iotstream::sim::CameraSummary> cameras = iotstream::sim::RunSimulation(options, make_camera, progress);
  int64_t ended_ms = 0;
  clock.WallMs(&ended_ms);
  if (tty) std::fputc('\n', stderr);
  const json appearances = scripted ? AppearancesJson(script, logs, cameras) : json::array();
  if (log_file.is_open()) {
    log_file << appearances.dump(2) << "\n";
    log_file.close();
    if (!log_file) std::cerr << "iotstream-sim: writing " << appearance_log << " failed\n";
  }

  Figures total{"total", {}, {}, 0, 0};
  json per_camera = json::array();
  std::vector<std::pair<std::string, json>> rows;
  for (auto& c : cameras) {
    Figures f{c.device_id, c.stats, std::move(c.latency_us), c.frames, c.ok_within_slo};
    Add(total.stats, f.stats);
    total.frames += f.frames;
    total.ok_within_slo += f.ok_within_slo;
    total.latency_us.insert(total.latency_us.end(), f.latency_us.begin(), f.latency_us.end());
    json j = ToJson(f, options.duration_s);
    j["device_id"] = c.device_id;
    per_camera.push_back(j);
    rows.emplace_back(c.device_id, j);
  }
  const json total_json = ToJson(total, options.duration_s);
  if (vm.count("json")) {
    const char* source = scripted ? (script.scheduled() ? "appearances" : "still") : scene ? "scene" : "frames";
    json out = {{"url", url},
                {"path", options.path},
                {"cameras", options.cameras},
                {"target_fps", options.fps},
                {"duration_s", options.duration_s},
                {"slo_ms", options.slo_ms},
                {"source", source},
                {"started_ms", started_ms},
                {"ended_ms", ended_ms},
                {"expected", static_cast<uint64_t>(options.fps * options.duration_s) * options.cameras},
                {"total", total_json},
                {"per_camera", per_camera}};
    if (scripted) out["appearances"] = appearances;
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  const std::string within = "<=" + std::to_string(options.slo_ms) + "ms";
  std::printf("%-16s %7s %7s %7s %7s %8s %7s %8s %8s %8s %8s %7s %6s %7s %6s\n", "camera", "frames", "sent", "ok",
              "success", within.c_str(), "fps", "p50 ms", "p99 ms", "max ms", "timeouts", "non-2xx", "errors", "skipped",
              "late");
  for (const auto& [name, j] : rows) PrintRow(name, j);
  PrintRow("total", total_json);
  if (scripted) {
    uint64_t shown = 0;
    uint64_t clip_frames = 0;
    for (const auto& a : appearances) {
      shown += a["frames_sent"].get<uint64_t>() > 0 ? 1 : 0;
      clip_frames += a["frames_sent"].get<uint64_t>();
    }
    std::printf("appearances: %zu begun, %llu shown, %llu of their frames sent\n", appearances.size(),
                static_cast<unsigned long long>(shown), static_cast<unsigned long long>(clip_frames));
  }
  return 0;
}
