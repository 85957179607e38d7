// Storage thread throughput: frames/s written (file + index row) for 40 KB frames, in a temp folder on
// the same disk as the system temp dir. Run: build/bench/micro/store_bench
#include <benchmark/benchmark.h>

#include <filesystem>
#include <future>
#include <random>

#include "core/clock.h"
#include "store/store.h"

namespace {

void BM_StoreFrames(benchmark::State& state) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("iotstream-bench-" + std::to_string(std::random_device{}()));
  iotstream::Metrics metrics;
  iotstream::store::StoreOptions o;
  o.data_dir = dir.string();
  o.retention_max_bytes = 1ull << 40;
  auto store = iotstream::store::Store::Open(o, metrics).value();
  const int batch = static_cast<int>(state.range(0));
  uint64_t id = 1;
  const std::string bytes(40 * 1024, 'x');
  for (auto _ : state) {
    std::promise<void> last;
    for (int i = 0; i < batch; ++i) {
      iotstream::Frame::Meta m;
      m.id = id++;
      m.device_id = "cam-" + std::to_string(i % 16);
      m.received_ts_ms = m.capture_ts_ms = iotstream::NowMs();
      auto f = std::make_shared<const iotstream::Frame>(std::move(m), bytes, 0, bytes.size());
      store->Enqueue(f, i + 1 == batch ? iotstream::store::StoreCallback([&last](iotstream::Status) { last.set_value(); })
                                       : nullptr);
    }
    last.get_future().wait();
  }
  state.SetItemsProcessed(state.iterations() * batch);
  store->Close();
  fs::remove_all(dir);
}
BENCHMARK(BM_StoreFrames)->Arg(1000)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
