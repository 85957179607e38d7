// Micro-benchmarks of the per-frame ingest work done on an I/O thread: JPEG header validation, multipart
// parsing, and the whole Accept() of a raw upload. Run: build/bench/micro/ingest_bench (reads
// $IOTSTREAM_FACES_DIR, default ../shared/faces).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/clock.h"
#include "ingest/ingest.h"
#include "ingest/jpeg.h"
#include "ingest/multipart.h"

namespace {

std::string Photo() {
  const char* dir = std::getenv("IOTSTREAM_FACES_DIR");
  std::ifstream in(std::string(dir ? dir : "../shared/faces") + "/ageitgey_face_recognition/examples/obama-480p.jpg",
                   std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void BM_InspectJpeg(benchmark::State& state) {
  const std::string jpeg = Photo();
  for (auto _ : state) benchmark::DoNotOptimize(iotstream::ingest::InspectJpeg(jpeg));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * jpeg.size()));
}
BENCHMARK(BM_InspectJpeg);

void BM_ParseMultipart(benchmark::State& state) {
  const std::string body = "--b\r\nContent-Disposition: form-data; name=\"device_id\"\r\n\r\ncam\r\n"
                           "--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"f.jpg\"\r\n"
                           "Content-Type: image/jpeg\r\n\r\n" + Photo() + "\r\n--b--\r\n";
  for (auto _ : state) benchmark::DoNotOptimize(iotstream::ingest::ParseMultipart(body, "b"));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_ParseMultipart);

void BM_AcceptRawUpload(benchmark::State& state) {
  iotstream::Metrics metrics;
  iotstream::ingest::DeviceRegistry registry({});
  iotstream::ingest::Ingestor ingestor({}, registry, metrics, 1);
  const std::string jpeg = Photo();
  for (auto _ : state) {
    iotstream::ingest::Upload u;
    u.body = jpeg;  // the copy stands in for the HTTP read
    u.content_type = "image/jpeg";
    u.header_device_id = "cam-1";
    benchmark::DoNotOptimize(ingestor.Accept(std::move(u), iotstream::NowMs()));
  }
}
BENCHMARK(BM_AcceptRawUpload);

}  // namespace

BENCHMARK_MAIN();
