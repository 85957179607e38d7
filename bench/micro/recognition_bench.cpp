// Recognition micro-benchmarks (issue 5), single-threaded, one FaceEngine:
//   BM_Recognize/<input>: FaceEngine::Recognize on a JPEG, per stage (decode, detect, align, describe, match) from
//     its StageTiming: the mean of each stage as user counters (ms), and after the run a table of median and p99
//     per stage over the iterations (a fixed number: RECOGNITION_BENCH_ITERS, default 40).
//     Inputs, made in the setup from ../shared/faces photos, letterboxed (scaled to fit, black bars) to exactly
//     640x480 and 1280x720 and re-encoded as JPEG q85 with TurboJPEG:
//       one face:      ageitgey_face_recognition/examples/obama-480p.jpg (853x480) and obama-720p.jpg (1280x720)
//       several faces: whichever of two_people.jpg / knn_examples/test/obama_and_biden.jpg shows more faces to
//                      the detector at that size
//     The gallery the match stage reads holds Obama (from obama.jpg, a different photo) and 9 random faces.
//   BM_Detector/<0|1>: the face detector alone on the 640x480 one-face frame in grey (as the engine detects):
//     0 = dlib's own frontal_face_detector (built here with src/vision's flags), 1 = the engine's FhogScanner,
//     which finds the same faces faster. dlib's own time is the reference for how fast this machine is running
//     at the moment (a shared VM's speed moves by tens of percent); printed as median / p99 after the run.
//   BM_GalleryIdentify/<faces>/<hit>: Gallery::Identify with 10, 1,000 and 100,000 enrolled faces (random
//     descriptors of norm ~1); hit=1: the query is an enrolled face plus noise (distance ~0.2), hit=0: a fresh
//     random descriptor (nothing below the threshold). Manual p50/p99 printed after the run.
//
// Run: build/bench/micro/recognition_bench (source scripts/blas-env.sh first: it picks the OpenBLAS kernel).
//   It re-executes itself with OPENBLAS_NUM_THREADS=1 unless that is already set to 1.
// Env: IOTSTREAM_MODELS_DIR (default <repo>/.cache/models), IOTSTREAM_FACES_DIR (default <repo>/../shared/faces),
//   RECOGNITION_BENCH_ITERS (40).
// Extra flags (before Google Benchmark's own): --export-inputs=DIR writes the generated JPEGs (and the enrolment
//   photo) into DIR, --export-only exits after that (bench/recognition.sh posts the same frames to the server).
#include <benchmark/benchmark.h>
#include <turbojpeg.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <dlib/image_processing/frontal_face_detector.h>

#include "vision/decode.h"
#include "vision/fhog_scanner.h"
#include "vision/vision.h"

#ifndef IOTSTREAM_SOURCE_DIR
#define IOTSTREAM_SOURCE_DIR "."
#endif

namespace {

namespace vision = iotstream::vision;
using Clock = std::chrono::steady_clock;

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return (v != nullptr && *v != '\0') ? std::string(v) : fallback;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "recognition_bench: cannot read %s\n", path.c_str());
    std::exit(2);
  }
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// ---------------------------------------------------------------------------------------------- input frames
struct Rgb {
  int w = 0, h = 0;
  std::vector<uint8_t> px;  // w*h*3
};

Rgb DecodeRgb(const std::string& jpeg) {
  tjhandle tj = tjInitDecompress();
  int w = 0, h = 0, sub = 0, cs = 0;
  Rgb out;
  if (tjDecompressHeader3(tj, reinterpret_cast<const unsigned char*>(jpeg.data()), jpeg.size(), &w, &h, &sub, &cs) ==
      0) {
    out.w = w;
    out.h = h;
    out.px.resize(static_cast<size_t>(w) * h * 3);
    if (tjDecompress2(tj, reinterpret_cast<const unsigned char*>(jpeg.data()), jpeg.size(), out.px.data(), w, 0, h,
                      TJPF_RGB, TJFLAG_ACCURATEDCT) != 0) {
      out = {};
    }
  }
  tjDestroy(tj);
  if (out.px.empty()) {
    std::fprintf(stderr, "recognition_bench: cannot decode a JPEG (%s)\n", tjGetErrorStr());
    std::exit(2);
  }
  return out;
}

std::string EncodeJpeg(const Rgb& img, int quality) {
  tjhandle tj = tjInitCompress();
  unsigned char* buf = nullptr;
  unsigned long size = 0;  // NOLINT: TurboJPEG's type
  std::string out;
  if (tjCompress2(tj, img.px.data(), img.w, 0, img.h, TJPF_RGB, &buf, &size, TJSAMP_420, quality, 0) == 0) {
    out.assign(reinterpret_cast<const char*>(buf), size);
  }
  tjFree(buf);
  tjDestroy(tj);
  if (out.empty()) {
    std::fprintf(stderr, "recognition_bench: cannot encode a JPEG\n");
    std::exit(2);
  }
  return out;
}

// Scales `src` to fit inside W x H keeping its aspect ratio (area averaging when shrinking, bilinear when
// enlarging), centred on black.
Rgb Letterbox(const Rgb& src, int W, int H) {
  const double s = std::min(static_cast<double>(W) / src.w, static_cast<double>(H) / src.h);
  const int w = std::max(1, static_cast<int>(std::lround(src.w * s)));
  const int h = std::max(1, static_cast<int>(std::lround(src.h * s)));
  const int ox = (W - w) / 2, oy = (H - h) / 2;
  Rgb out;
  out.w = W;
  out.h = H;
  out.px.assign(static_cast<size_t>(W) * H * 3, 0);
  auto at = [&](int x, int y, int c) { return static_cast<double>(src.px[(static_cast<size_t>(y) * src.w + x) * 3 + c]); };
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      double v[3] = {0, 0, 0};
      if (s < 1.0) {  // box filter over the source pixels this one covers
        const int x0 = static_cast<int>(x / s), x1 = std::max(x0 + 1, std::min(src.w, static_cast<int>((x + 1) / s)));
        const int y0 = static_cast<int>(y / s), y1 = std::max(y0 + 1, std::min(src.h, static_cast<int>((y + 1) / s)));
        for (int yy = y0; yy < y1; ++yy)
          for (int xx = x0; xx < x1; ++xx)
            for (int c = 0; c < 3; ++c) v[c] += at(xx, yy, c);
        const double n = static_cast<double>(x1 - x0) * (y1 - y0);
        for (double& c : v) c /= n;
      } else {  // bilinear
        const double fx = std::clamp((x + 0.5) / s - 0.5, 0.0, src.w - 1.0);
        const double fy = std::clamp((y + 0.5) / s - 0.5, 0.0, src.h - 1.0);
        const int x0 = static_cast<int>(fx), y0 = static_cast<int>(fy);
        const int x1 = std::min(x0 + 1, src.w - 1), y1 = std::min(y0 + 1, src.h - 1);
        const double ax = fx - x0, ay = fy - y0;
        for (int c = 0; c < 3; ++c)
          v[c] = (1 - ay) * ((1 - ax) * at(x0, y0, c) + ax * at(x1, y0, c)) +
                 ay * ((1 - ax) * at(x0, y1, c) + ax * at(x1, y1, c));
      }
      uint8_t* d = &out.px[(static_cast<size_t>(y + oy) * W + (x + ox)) * 3];
      for (int c = 0; c < 3; ++c) d[c] = static_cast<uint8_t>(std::clamp(std::lround(v[c]), 0L, 255L));
    }
  }
  return out;
}

struct Input {
  std::string name;     // e.g. "640x480_1face"
  std::string source;   // photo it was made from
  std::string jpeg;
  int faces = 0;        // faces the engine finds in it
};

// ---------------------------------------------------------------------------------------------- shared state
std::unique_ptr<vision::FaceEngine> g_engine;
vision::Gallery g_small_gallery;  // Obama + 9 random faces, for the match stage of Recognize
std::vector<Input> g_inputs;
std::string g_faces_dir;

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(std::ceil(p * v.size())) - (p > 0 ? 1 : 0));
  return v[i];
}
double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

struct StageSamples {
  std::vector<double> decode, detect, align, describe, match, total;
  int faces = 0;
};
std::map<std::string, StageSamples> g_stage_results;  // the last run of each input

struct IdentifySamples {
  std::vector<double> us;
  size_t faces = 0;
  bool hit = false;
  bool matched = false;
};
std::map<std::string, IdentifySamples> g_identify_results;

vision::Descriptor RandomDescriptor(std::mt19937_64& rng) {
  std::normal_distribution<float> n(0.f, 1.f / std::sqrt(static_cast<float>(vision::kDescriptorSize)));
  vision::Descriptor d{};
  for (float& x : d) x = n(rng);
  return d;
}

// ---------------------------------------------------------------------------------------------- benchmarks
void BM_Recognize(benchmark::State& state, const Input* input) {
  StageSamples s;
  const auto* data = reinterpret_cast<const uint8_t*>(input->jpeg.data());
  for (auto _ : state) {
    const auto t0 = Clock::now();
    auto r = g_engine->Recognize(data, input->jpeg.size(), &g_small_gallery);
    const double total = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if (!r.ok()) {
      state.SkipWithError(r.status().ToString().c_str());
      return;
    }
    const auto& t = r.value().timing;
    s.decode.push_back(t.decode_ms);
    s.detect.push_back(t.detect_ms);
    s.align.push_back(t.align_ms);
    s.describe.push_back(t.describe_ms);
    s.match.push_back(t.match_ms);
    s.total.push_back(total);
    s.faces = static_cast<int>(r.value().faces.size());
  }
  auto mean = [](const std::vector<double>& v) {
    double sum = 0;
    for (double x : v) sum += x;
    return v.empty() ? 0.0 : sum / v.size();
  };
  state.counters["faces"] = s.faces;
  state.counters["decode_ms"] = mean(s.decode);
  state.counters["detect_ms"] = mean(s.detect);
  state.counters["align_ms"] = mean(s.align);
  state.counters["describe_ms"] = mean(s.describe);
  state.counters["match_ms"] = mean(s.match);
  state.counters["total_p50_ms"] = Median(s.total);
  state.counters["total_p99_ms"] = Percentile(s.total, 0.99);
  g_stage_results[input->name] = std::move(s);
}

struct DetectorSamples {
  std::vector<double> ms;
  std::vector<dlib::rect_detection> dets;
};
std::map<int, DetectorSamples> g_detector_results;  // 0: dlib's detector, 1: FhogScanner

void BM_Detector(benchmark::State& state) {
  static dlib::frontal_face_detector reference = dlib::get_frontal_face_detector();
  static vision::FhogScanner scanner(reference);
  const std::string& jpeg = g_inputs.at(0).jpeg;
  vision::DecodedImage decoded;
  if (iotstream::Status st = vision::DecodeImage(reinterpret_cast<const uint8_t*>(jpeg.data()), jpeg.size(), 0, &decoded);
      !st.ok()) {
    state.SkipWithError(st.ToString().c_str());
    return;
  }
  dlib::array2d<unsigned char> grey;  // the engine's detection image
  vision::ToGray(decoded.rgb, &grey);
  DetectorSamples s;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    if (state.range(0) == 0) {
      reference(grey, s.dets, 0.0);
    } else {
      scanner.Detect(grey, 0.0, &s.dets);
    }
    s.ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  state.counters["faces"] = static_cast<double>(s.dets.size());
  g_detector_results[static_cast<int>(state.range(0))] = std::move(s);
}

vision::Gallery* GalleryOf(size_t n) {
  static std::map<size_t, std::unique_ptr<vision::Gallery>> galleries;
  auto& g = galleries[n];
  if (!g) {
    g = std::make_unique<vision::Gallery>();
    std::mt19937_64 rng(42 + n);
    for (size_t i = 0; i < n; ++i) {
      // 5 faces per person, as with a few enrolment photos each
      const int64_t person = static_cast<int64_t>(i / 5) + 1;
      (void)g->AddFace(person, "person-" + std::to_string(person), static_cast<int64_t>(i) + 1, RandomDescriptor(rng));
    }
  }
  return g.get();
}

void BM_GalleryIdentify(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  const bool hit = state.range(1) != 0;
  const vision::Gallery* g = GalleryOf(n);
  // The query: face n/2 as enrolled (regenerated from the same seed) plus noise, or a fresh random descriptor.
  std::mt19937_64 rng(42 + n);
  vision::Descriptor target{};
  for (size_t i = 0; i <= n / 2; ++i) target = RandomDescriptor(rng);
  vision::Descriptor q{};
  if (hit) {
    std::mt19937_64 noise_rng(7);
    std::normal_distribution<float> noise(0.f, 0.2f / std::sqrt(static_cast<float>(vision::kDescriptorSize)));
    for (int i = 0; i < vision::kDescriptorSize; ++i) q[i] = target[i] + noise(noise_rng);
  } else {
    std::mt19937_64 other(999);
    q = RandomDescriptor(other);
  }
  IdentifySamples s;
  s.faces = n;
  s.hit = hit;
  s.us.reserve(1 << 16);
  vision::Match m;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    m = g->Identify(q);
    const auto t1 = Clock::now();
    benchmark::DoNotOptimize(m);
    if (s.us.size() < (1u << 20)) s.us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  s.matched = m.person_id.has_value();
  state.counters["matched"] = s.matched ? 1 : 0;
  state.counters["distance"] = m.distance;
  state.counters["p50_us"] = Median(s.us);
  state.counters["p99_us"] = Percentile(s.us, 0.99);
  g_identify_results[std::to_string(n) + (hit ? " near" : " far")] = std::move(s);
}

// ---------------------------------------------------------------------------------------------- setup
int CountFaces(const std::string& jpeg) {
  auto r = g_engine->DetectAndAlign(reinterpret_cast<const uint8_t*>(jpeg.data()), jpeg.size());
  return r.ok() ? static_cast<int>(r.value().size()) : -1;
}

Input MakeInput(const std::string& name, const std::vector<std::string>& candidates, int W, int H) {
  Input best;
  for (const auto& rel : candidates) {
    Input in;
    in.name = name;
    in.source = rel;
    const Rgb src = DecodeRgb(ReadFile(g_faces_dir + "/" + rel));
    in.jpeg = (src.w == W && src.h == H) ? EncodeJpeg(src, 85) : EncodeJpeg(Letterbox(src, W, H), 85);
    in.faces = CountFaces(in.jpeg);
    if (best.jpeg.empty() || in.faces > best.faces) best = std::move(in);
  }
  return best;
}

void Setup(const std::string& export_dir) {
  const std::string repo = IOTSTREAM_SOURCE_DIR;
  g_faces_dir = EnvOr("IOTSTREAM_FACES_DIR", repo + "/../shared/faces");
  vision::EngineOptions o;
  o.models_dir = EnvOr("IOTSTREAM_MODELS_DIR", repo + "/.cache/models");
  auto engine = vision::FaceEngine::Open(o);
  if (!engine.ok()) {
    std::fprintf(stderr, "recognition_bench: cannot open the models in %s: %s (scripts/fetch-models.sh)\n",
                 o.models_dir.c_str(), engine.status().ToString().c_str());
    std::exit(2);
  }
  g_engine = std::move(engine).value();

  const std::string ex = "ageitgey_face_recognition/examples/";
  const std::vector<std::string> several = {ex + "two_people.jpg", ex + "knn_examples/test/obama_and_biden.jpg"};
  g_inputs.push_back(MakeInput("640x480_1face", {ex + "obama-480p.jpg"}, 640, 480));
  g_inputs.push_back(MakeInput("1280x720_1face", {ex + "obama-720p.jpg"}, 1280, 720));
  g_inputs.push_back(MakeInput("640x480_several", several, 640, 480));
  g_inputs.push_back(MakeInput("1280x720_several", several, 1280, 720));

  // The gallery of the match stage: Obama from another photo, and 9 random people.
  const std::string enrol = ReadFile(g_faces_dir + "/" + ex + "obama.jpg");
  auto faces = g_engine->Analyze(reinterpret_cast<const uint8_t*>(enrol.data()), enrol.size());
  if (!faces.ok() || faces.value().size() != 1) {
    std::fprintf(stderr, "recognition_bench: obama.jpg should show exactly one face\n");
    std::exit(2);
  }
  (void)g_small_gallery.AddFace(1, "obama", 1, faces.value()[0].descriptor);
  std::mt19937_64 rng(1);
  for (int i = 2; i <= 10; ++i) (void)g_small_gallery.AddFace(i, "random-" + std::to_string(i), i, RandomDescriptor(rng));

  std::printf("BLAS: %s\n", vision::BlasDescription().c_str());
  std::printf("OPENBLAS_NUM_THREADS=%s OPENBLAS_CORETYPE=%s\n", EnvOr("OPENBLAS_NUM_THREADS", "(unset)").c_str(),
              EnvOr("OPENBLAS_CORETYPE", "(unset)").c_str());
  std::printf("models: %s  detection_width=%d upsample=%d\n", o.models_dir.c_str(), o.detection_width, o.upsample);
  std::printf("inputs (letterboxed, JPEG q85):\n");
  for (const auto& in : g_inputs) {
    std::printf("  %-18s %6zu bytes, %d face(s) found, from %s\n", in.name.c_str(), in.jpeg.size(), in.faces,
                in.source.c_str());
  }
  std::fflush(stdout);

  if (!export_dir.empty()) {
    std::filesystem::create_directories(export_dir);
    for (const auto& in : g_inputs) std::ofstream(export_dir + "/" + in.name + ".jpg", std::ios::binary) << in.jpeg;
    std::ofstream(export_dir + "/enrol_obama.jpg", std::ios::binary) << enrol;
  }
}

void PrintTables() {
  std::printf("\n== per-stage time, ms, over %s iterations each (median / p99); total = wall time of Recognize\n",
              EnvOr("RECOGNITION_BENCH_ITERS", "40").c_str());
  std::printf("%-18s %5s %15s %15s %15s %15s %15s %15s\n", "input", "faces", "decode", "detect", "align", "describe",
              "match", "total");
  for (const auto& in : g_inputs) {
    auto it = g_stage_results.find(in.name);
    if (it == g_stage_results.end()) continue;
    const auto& s = it->second;
    auto cell = [](const std::vector<double>& v) {
      char b[32];
      std::snprintf(b, sizeof b, "%6.2f / %6.2f", Median(v), Percentile(v, 0.99));
      return std::string(b);
    };
    std::printf("%-18s %5d %15s %15s %15s %15s %15s %15s\n", in.name.c_str(), s.faces, cell(s.decode).c_str(),
                cell(s.detect).c_str(), cell(s.align).c_str(), cell(s.describe).c_str(), cell(s.match).c_str(),
                cell(s.total).c_str());
    // machine-readable line for bench/recognition.sh
    std::printf("STAGES name=%s faces=%d decode_p50=%.3f detect_p50=%.3f align_p50=%.3f describe_p50=%.3f "
                "match_p50=%.4f total_p50=%.3f total_p99=%.3f\n",
                in.name.c_str(), s.faces, Median(s.decode), Median(s.detect), Median(s.align), Median(s.describe),
                Median(s.match), Median(s.total), Percentile(s.total, 0.99));
  }
  if (g_detector_results.count(0) && g_detector_results.count(1)) {
    const auto& d = g_detector_results[0];
    const auto& f = g_detector_results[1];
    bool same = d.dets.size() == f.dets.size();
    for (size_t i = 0; same && i < d.dets.size(); ++i) same = d.dets[i].rect == f.dets[i].rect;
    std::printf("\n== detector alone, %s (grey), ms (median / p99)\n", g_inputs.at(0).name.c_str());
    std::printf("  dlib's frontal_face_detector %6.2f / %6.2f   (the machine's speed now)\n", Median(d.ms),
                Percentile(d.ms, 0.99));
    std::printf("  FhogScanner                  %6.2f / %6.2f   same detections: %s\n", Median(f.ms),
                Percentile(f.ms, 0.99), same ? "yes" : "NO");
    std::printf("DETECTOR dlib_p50=%.3f ours_p50=%.3f same=%d\n", Median(d.ms), Median(f.ms), same ? 1 : 0);
  }
  if (!g_identify_results.empty()) {
    std::printf("\n== Gallery::Identify, microseconds per query (median / p99 over the timed calls)\n");
    std::printf("%10s %6s %8s %10s %10s %8s\n", "faces", "query", "matched", "p50_us", "p99_us", "calls");
    for (const auto& [key, s] : g_identify_results) {
      std::printf("%10zu %6s %8s %10.2f %10.2f %8zu\n", s.faces, s.hit ? "near" : "far", s.matched ? "yes" : "no",
                  Median(s.us), Percentile(s.us, 0.99), s.us.size());
      std::printf("IDENTIFY faces=%zu query=%s matched=%d p50_us=%.3f p99_us=%.3f\n", s.faces, s.hit ? "near" : "far",
                  s.matched ? 1 : 0, Median(s.us), Percentile(s.us, 0.99));
    }
  }
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  // OpenBLAS reads its thread count when the library loads: set it and start again if it is not 1.
  const char* threads = std::getenv("OPENBLAS_NUM_THREADS");
  if (threads == nullptr || std::strcmp(threads, "1") != 0) {
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    execv("/proc/self/exe", argv);
    std::perror("recognition_bench: re-exec with OPENBLAS_NUM_THREADS=1 failed; going on");
  }
  std::string export_dir;
  bool export_only = false;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--export-inputs=", 16) == 0) {
      export_dir = argv[i] + 16;
    } else if (std::strcmp(argv[i], "--export-only") == 0) {
      export_only = true;
    } else {
      args.push_back(argv[i]);
    }
  }
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 1;

  Setup(export_dir);
  if (export_only) return 0;

  const int iters = std::max(1, std::atoi(EnvOr("RECOGNITION_BENCH_ITERS", "40").c_str()));
  for (const auto& in : g_inputs) {
    benchmark::RegisterBenchmark(("BM_Recognize/" + in.name).c_str(), BM_Recognize, &in)
        ->Iterations(iters)
        ->Unit(benchmark::kMillisecond);
  }
  benchmark::RegisterBenchmark("BM_Detector", BM_Detector)->Arg(0)->Arg(1)->Iterations(iters)->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_GalleryIdentify", BM_GalleryIdentify)
      ->ArgsProduct({{10, 1000, 100000}, {1, 0}})
      ->ArgNames({"faces", "near"})
      ->Unit(benchmark::kMicrosecond);

  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  PrintTables();
  return 0;
}
