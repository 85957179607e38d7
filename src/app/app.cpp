#include "app/app.h"

#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <ctime>

#include "api/api.h"
#include "app/version.h"
#include "core/clock.h"
#include "core/work_pool.h"

namespace iotstream::app {
namespace {

// Offers frames to the store; on the stream path the answer waits for the commit.
class StoreSink final : public ingest::FrameSink {
 public:
  explicit StoreSink(store::Store& store) : store_(store) {}
  void Offer(const FramePtr& frame, ingest::DoneCallback done) override { (void)store_.Enqueue(frame, std::move(done)); }

 private:
  store::Store& store_;
};

}  // namespace

int Run(const Config& config) {
  SetLogLevel(config.log_level);
  // Every thread started below inherits this mask, so the signals reach only sigtimedwait here.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  Metrics metrics;
  auto opened = store::Store::Open(config.store, metrics);
  if (!opened.ok()) {
    IOT_LOG(kError) << "cannot open the store: " << opened.status().ToString();
    return 1;
  }
  std::unique_ptr<store::Store> store = std::move(opened).value();
  ingest::DeviceRegistry registry(config.devices);
  auto devices = store->LoadDevices();
  if (!devices.ok()) {
    IOT_LOG(kError) << "cannot load devices: " << devices.status().ToString();
    return 1;
  }
  registry.Restore(std::move(devices).value());

  ingest::Ingestor ingestor({}, registry, metrics, store->next_frame_id());
  StoreSink store_sink(*store);
  ingestor.AddSink(&store_sink, /*wait_on_stream=*/true);

  live::LiveHub hub(
      config.live, metrics, [&registry] { return R"({"type":"hello",)" + api::DevicesJson(registry, NowMs()).substr(1); },
      [&registry](const std::string& id) { return registry.Get(id, 0).has_value(); });
  ingestor.AddSink(&hub, /*wait_on_stream=*/false);

  int exit_code = 0;
  {
    WorkPool disk_pool("api_disk_pool", config.disk_threads, 256, metrics);
    api::ApiContext ctx{ingestor, registry, *store, metrics, disk_pool, hub, kVersion, NowMs()};
    http::Router router;
    api::AddRoutes(router, ctx);
    hub.AddRoutes(router);
    if (Status st = api::AddStaticRoutes(router, config.web_dir); !st.ok()) {
      IOT_LOG(kWarn) << "no dashboard: " << st.ToString();
    }
    auto started = http::Server::Start(config.main_server, std::move(router), metrics);
    if (!started.ok()) {
      IOT_LOG(kError) << started.status().ToString();
      store->Close();
      return 1;
    }
    std::unique_ptr<http::Server> server = std::move(started).value();
    // Tests and scripts wait for this exact line on stdout.
    std::printf("listening on %s:%u\n", config.main_server.bind_address.c_str(), server->port());
    std::fflush(stdout);
    IOT_LOG(kInfo) << "iotstream " << kVersion << " serving on http://" << config.main_server.bind_address << ':'
                   << server->port() << " (data in " << config.store.data_dir << ")";

    // Wait for a stop signal; once a second persist the devices whose figures changed.
    while (true) {
      timespec one_second{1, 0};
      const int sig = sigtimedwait(&stop_signals, nullptr, &one_second);
      if (sig == SIGINT || sig == SIGTERM) {
        IOT_LOG(kInfo) << "signal " << sig << ": stopping";
        break;
      }
      store->SaveDevices(registry.TakeDirty());
      hub.CheckOffline(NowMs());
    }
    hub.CloseAll();
    server->Stop(std::chrono::milliseconds(2000));
  }  // disk pool drains and joins here, after the last request is answered
  store->SaveDevices(registry.TakeDirty());
  store->Close();
  IOT_LOG(kInfo) << "stopped cleanly";
  return exit_code;
}

}  // namespace iotstream::app
