#include "app/app.h"

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "api/access.h"
#include "api/api.h"
#include "api/audit.h"
#include "api/auth_api.h"
#include "api/footage_api.h"
#include "api/recognition_api.h"
#include "api/webhooks_api.h"
#include "app/version.h"
#include "auth/auth.h"
#include "cluster/cluster.h"
#include "cluster/pg_outbox.h"
#include "cluster/shared_state.h"
#include "core/clock.h"
#include "core/event.h"
#include "core/frame_sink.h"
#include "core/work_pool.h"
#include "events/events.h"
#include "events/schema.h"
#include "store/records.h"
#include "vision/pool.h"

namespace iotstream::app {
namespace {

// Offers frames to the store; on the stream path the answer waits for the commit.
class StoreSink final : public FrameSink {
 public:
  explicit StoreSink(store::Store& store) : store_(store) {}
  void Offer(const FramePtr& frame, FramePath, DoneCallback done) override {
    (void)store_.Enqueue(frame, std::move(done));
  }

 private:
  store::Store& store_;
};

// Offers fast-path frames to background recognition (sampled). A stream-path frame is left out here: the
// stream handler asks the pool for that frame's own result once it is stored.
class RecognitionSink final : public FrameSink {
 public:
  explicit RecognitionSink(vision::RecognitionPool& pool) : pool_(pool) {}
  void Offer(const FramePtr& frame, FramePath path, DoneCallback) override {
    if (path == FramePath::kFast) (void)pool_.OfferFrame(frame);
  }

 private:
  vision::RecognitionPool& pool_;
};

// One BLAS thread per recognition worker: the pool already keeps the cores busy, and OpenBLAS's own threads
// would fight it. Looked up at run time because libblas.so.3 may be another implementation.
void LimitBlasThreads() {
  using SetThreads = void (*)(int);
  if (auto* set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) set(1);
}

// What the once-a-second storage check remembers between calls.
struct StorageWatch {
  uint64_t dropped = 0;       // the store's drop count at the last check
  uint64_t write_errors = 0;  // its failed writes at the last check
  bool at_budget = false;     // the footage filled its disk budget at the last check
};

// storage_pressure when frames were dropped since the last check (queue_full: the queue was full; write_failed: the
// disk refused them, full, read-only or its folder gone), and when the footage comes to fill 95 % of its disk budget
// (retention is evicting the oldest frames). A full budget is the steady state of a busy box, so it is reported on
// reaching it, again only after it fell below 90 %.
void ReportStoragePressure(const store::Store& store, const store::StoreOptions& options, events::EventHub& events,
                           StorageWatch* watch, int64_t now_ms) {
  const auto st = store.stats();
  if (st.dropped > watch->dropped) {
    events.OnStoragePressure("queue_full", st.dropped - watch->dropped, st.bytes, options.retention_max_bytes, now_ms);
  }
  watch->dropped = st.dropped;
  if (st.write_errors > watch->write_errors) {
    events.OnStoragePressure("write_failed", st.write_errors - watch->write_errors, st.bytes,
                             options.retention_max_bytes, now_ms);
  }
  watch->write_errors = st.write_errors;
  const uint64_t percent = options.retention_max_bytes / 100;
  if (!watch->at_budget && st.bytes >= percent * 95) {
    events.OnStoragePressure("disk_budget", 0, st.bytes, options.retention_max_bytes, now_ms);
  }
  watch->at_budget = st.bytes >= percent * (watch->at_budget ? 90 : 95);
}

// Every connection, viewer and open segment holds a descriptor, and the usual soft limit (1,024) is far below
// --max-connections: it is raised to the hard limit, which only an administrator can raise further.
void RaiseOpenFileLimit(uint64_t wanted) {
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) != 0) return;
  if (files.rlim_cur < files.rlim_max && files.rlim_max != RLIM_INFINITY) {
    const rlim_t was = files.rlim_cur;
    files.rlim_cur = files.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &files) != 0) return;
    IOT_LOG(kInfo) << "open files: limit raised from " << was << " to " << files.rlim_cur;
  }
  if (files.rlim_cur < wanted) {
    IOT_LOG(kWarn) << "open files: the limit (" << files.rlim_cur << ") is below the " << wanted
                   << " that --max-connections needs; connections past it wait until others close";
  }
}

std::string HostName() {
  char name[256] = {};
  return gethostname(name, sizeof name - 1) == 0 ? std::string(name) : std::string();
}

// Where Home Assistant finds a camera's MJPEG and snapshot: the bind address, or this host's name when it binds all.
std::string HttpBaseUrl(const http::ServerOptions& server) {
  std::string host = server.bind_address;
  if (host == "0.0.0.0" || host == "::") {
    const std::string name = HostName();
    if (!name.empty()) host = name;
  }
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return (server.tls ? "https://" : "http://") + host + ":" + std::to_string(server.port);
}

// --tls-self-signed: the certificate in the data folder (made on first start), loaded into both servers' options.
Status UseSelfSignedCertificate(const std::string& data_dir, http::ServerOptions* main_server,
                                http::ServerOptions* recognition_server) {
  auto files = http::EnsureSelfSignedCertificate(data_dir, HostName());
  if (!files.ok()) return files.status();
  auto tls = http::TlsContext::Load(files.value().cert_file, files.value().key_file);
  if (!tls.ok()) {
    return Status::InvalidArgument(tls.status().message() + " (remove both files to have new ones made)");
  }
  std::printf("tls: %s self-signed certificate %s\n", files.value().created ? "made a" : "reusing the",
              files.value().cert_file.c_str());
  main_server->tls = tls.value();
  recognition_server->tls = tls.value();
  return Status::Ok();
}

// The MQTT output, with the start-up snapshots and frame reads it asks for on its own thread.
Result<std::unique_ptr<notify::MqttPublisher>> StartMqtt(const Config& config, const http::ServerOptions& main_server,
                                                         const ingest::DeviceRegistry& registry,
                                                         store::Records& records, store::Store& store,
                                                         Metrics& metrics) {
  notify::MqttOptions options = *config.mqtt;
  options.http_base_url = HttpBaseUrl(main_server);
  options.sw_version = kVersion;
  notify::MqttCallbacks callbacks;
  callbacks.cameras = [&registry] {
    std::vector<notify::CameraInfo> cameras;
    for (const auto& d : registry.List(NowMs())) {
      cameras.push_back({d.record.id, d.record.name, d.record.location, d.online});
    }
    return cameras;
  };
  callbacks.people = [&records] {
    std::vector<std::string> names;
    auto people = records.ListPeople();
    if (!people.ok()) {
      IOT_LOG(kWarn) << "mqtt: cannot list people: " << people.status().ToString();
      return names;
    }
    for (const auto& p : people.value()) names.push_back(p.name);
    return names;
  };
  callbacks.frame = [&store](uint64_t frame_id) { return store.ReadFrame(frame_id, nullptr); };
  return notify::MqttPublisher::Start(std::move(options), std::move(callbacks), metrics);
}

// Loads the gallery from `records` into a fresh table and swaps it in whole.
Status LoadGallery(store::Records& records, vision::Gallery& gallery) {
  auto entries = records.LoadGallery();
  if (!entries.ok()) return entries.status();
  vision::Gallery fresh;
  for (const auto& e : entries.value()) {
    const vision::Descriptor d = vision::ToDescriptor(e.descriptor);
    Status st = e.negative ? fresh.AddNegative(e.person_id, e.face_id, d) : fresh.AddFace(e.person_id, e.name, e.face_id, d);
    if (!st.ok()) IOT_LOG(kWarn) << "gallery: face " << e.face_id << ": " << st.ToString();
  }
  gallery.ReplaceWith(fresh);
  return Status::Ok();
}

// The other nodes' changes: the gallery reloaded when any node changed it (and after a reconnect, which may have
// missed some), and their events pushed to this node's live viewers. MQTT and webhooks are not given them: the node
// that logged an event publishes it to MQTT, and the shared outbox delivers webhooks.
std::unique_ptr<cluster::ChangeListener> ListenToTheCluster(const Config& config, store::Records& records,
                                                           vision::Gallery& gallery, live::LiveHub& hub,
                                                           Metrics& metrics) {
  if (config.database_url.empty()) return nullptr;
  auto reload = [&records, &gallery] {
    if (Status st = LoadGallery(records, gallery); !st.ok()) {
      IOT_LOG(kWarn) << "cluster: cannot reload the gallery: " << st.ToString();
    }
  };
  cluster::ChangeCallbacks callbacks;
  callbacks.on_connected = reload;
  callbacks.gallery_changed = reload;
  callbacks.event_logged = [&records, &hub](int64_t event_id) {
    auto event = records.GetEvent(event_id);
    if (!event.ok()) {
      IOT_LOG(kWarn) << "cluster: cannot read event " << event_id << ": " << event.status().ToString();
      return;
    }
    hub.Publish(events::ToEvent(event.value()));
  };
  return std::make_unique<cluster::ChangeListener>(config.database_url, config.node_id, std::move(callbacks),
                                                   metrics);
}

// A camera new to this node that another node held (it moved there after a failure) keeps the name, location and
// schedule given to it there: its row in the cluster's devices table.
void AdoptClusterRecord(const cluster::Membership& membership, ingest::DeviceRegistry& registry, const std::string& id,
                        const std::string& self) {
  const std::optional<cluster::DeviceRow> row = membership.DeviceRowOf(id);
  if (!row || row->node_id == self) return;
  const DeviceRecord& r = row->record;
  ingest::DeviceUpdate update;
  if (!r.name.empty()) update.name = r.name;
  if (!r.location.empty()) update.location = r.location;
  update.sparse = r.sparse;
  if (r.expected_interval_ms > 0) update.expected_interval_ms = r.expected_interval_ms;
  if (Status st = registry.Update(id, update); !st.ok()) {
    IOT_LOG(kWarn) << "cluster: cannot take over the record of camera '" << id << "': " << st.ToString();
    return;
  }
  IOT_LOG(kInfo) << "cluster: camera '" << id << "' came from node '" << row->node_id << "' and keeps its record";
}

// The node's membership, its figures read from ingest: the cameras that sent lately, and the frames accepted.
std::unique_ptr<cluster::Membership> MakeMembership(const Config& config, const ingest::DeviceRegistry& registry,
                                                    const ingest::Ingestor& ingestor, Metrics& metrics) {
  cluster::MembershipCallbacks callbacks;
  callbacks.recent_cameras = [&registry](int64_t since_ms) {
    std::vector<std::string> ids;
    for (const auto& d : registry.List(NowMs())) {
      if (d.record.last_seen_ms >= since_ms) ids.push_back(d.record.id);
    }
    return ids;
  };
  callbacks.frames_accepted = [&ingestor] { return ingestor.stats().accepted; };
  callbacks.describe_cameras = [&registry](const std::vector<std::string>& ids) {
    std::vector<std::string> described;
    const int64_t now = NowMs();
    for (const auto& id : ids) {
      const auto device = registry.Get(id, now);
      described.push_back(device ? events::DeviceJson(*device).dump() : "{}");
    }
    return described;
  };
  cluster::MembershipOptions options;
  options.database_url = config.database_url;
  options.node_id = config.node_id;
  options.version = kVersion;
  return std::make_unique<cluster::Membership>(std::move(options), std::move(callbacks), metrics);
}

void Announce(const char* what, const std::string& address, unsigned port) {
  std::printf("%s %s:%u\n", what, address.c_str(), port);
}

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
  // Past RLIMIT_FSIZE a write fails with EFBIG, as on a full disk, instead of killing the process.
  signal(SIGXFSZ, SIG_IGN);
  // The camera port's connections (the recognition port's clients are few), and room for the store's files.
  RaiseOpenFileLimit(config.main_server.max_connections + 256);

  http::ServerOptions main_options = config.main_server;
  http::ServerOptions recognition_options = config.recognition_server;
  if (config.tls_self_signed) {
    if (Status st = UseSelfSignedCertificate(config.store.data_dir, &main_options, &recognition_options); !st.ok()) {
      IOT_LOG(kError) << "--tls-self-signed: " << st.ToString();
      return 1;
    }
  }
  if (main_options.tls) {
    // On stdout, for people to compare with what a browser or `openssl s_client` shows, and to pin.
    std::printf("tls: certificate SHA-256 fingerprint %s\n", main_options.tls->fingerprint().c_str());
  }

  Metrics metrics;
  auto opened = store::Store::Open(config.store, metrics);
  if (!opened.ok()) {
    IOT_LOG(kError) << "cannot open the store: " << opened.status().ToString();
    return 1;
  }
  std::unique_ptr<store::Store> store = std::move(opened).value();
  // The gallery and the event log: the node's SQLite, or with --database the cluster's PostgreSQL.
  std::unique_ptr<store::Records> records;
  if (config.database_url.empty()) {
    auto records_opened = store::Records::Open(config.store.data_dir);
    if (!records_opened.ok()) {
      IOT_LOG(kError) << "cannot open the records: " << records_opened.status().ToString();
      return 1;
    }
    records = std::move(records_opened).value();
  } else {
    records = cluster::OpenPgRecords(config.database_url, config.node_id);
  }
  // Accounts likewise: auth.db in the data folder, or the cluster's PostgreSQL.
  const auth::AuthOptions auth_options{.data_dir = config.store.data_dir};
  auto auth_opened = config.database_url.empty() ? auth::AuthStore::Open(auth_options)
                                                 : cluster::OpenPgAuthStore(config.database_url, auth_options);
  if (!auth_opened.ok()) {
    IOT_LOG(kError) << "cannot open the accounts: " << auth_opened.status().ToString();
    return 1;
  }
  std::unique_ptr<auth::AuthStore> accounts = std::move(auth_opened).value();
  if (config.access.enabled) {
    auto admin = accounts->BootstrapAdmin();
    if (!admin.ok()) {
      IOT_LOG(kError) << "cannot create the first admin account: " << admin.status().ToString();
      return 1;
    }
    if (admin.value()) {
      // stdout only, once: the log may be kept, and the password is stored nowhere in clear.
      std::printf("first start: created user 'admin' with password %s (shown once; change it with "
                  "'iotstream user passwd admin')\n", admin.value()->c_str());
      IOT_LOG(kWarn) << "first start: created user 'admin'; its password was printed on stdout, once";
    }
  } else {
    IOT_LOG(kWarn) << "--auth off: anyone who reaches the ports can watch every camera, delete footage and enrol faces";
  }
  ingest::DeviceRegistry registry(config.devices);
  auto devices = store->LoadDevices();
  if (!devices.ok()) {
    IOT_LOG(kError) << "cannot load devices: " << devices.status().ToString();
    return 1;
  }
  registry.Restore(std::move(devices).value());

  vision::Gallery gallery;
  if (Status st = LoadGallery(*records, gallery); !st.ok()) {
    if (config.database_url.empty()) {
      IOT_LOG(kError) << "cannot load the gallery: " << st.ToString();
      return 1;
    }
    // A cluster node may start before its database: the change listener loads the gallery once it connects.
    IOT_LOG(kWarn) << "cluster: cannot load the gallery yet: " << st.ToString();
  }

  // Frames: ingest -> hand-off -> store (the stream path waits for its commit), live view, recognition.
  ingest::Ingestor ingestor(config.ingest, registry, metrics, store->next_frame_id());
  FrameHandOff frames;
  StoreSink store_sink(*store);
  frames.AddSink(&store_sink, /*wait_on_stream=*/true);

  // Events: producers (device changes, recognition) -> bus -> every output (/ws viewers).
  EventBus bus;
  live::LiveHub hub(config.live, metrics,
                    live::LiveCallbacks{
                        .hello = [&registry] { return events::HelloMessage(registry.List(NowMs())); },
                        .device_known = [&registry](const std::string& id) { return registry.Get(id, 0).has_value(); },
                    });
  frames.AddSink(&hub, /*wait_on_stream=*/false);
  bus.AddPublisher(&hub);
  const std::unique_ptr<cluster::ChangeListener> listener = ListenToTheCluster(config, *records, gallery, hub, metrics);
  std::unique_ptr<notify::MqttPublisher> mqtt;
  if (config.mqtt) {
    auto started = StartMqtt(config, main_options, registry, *records, *store, metrics);
    if (!started.ok()) {
      IOT_LOG(kError) << started.status().ToString();
      store->Close();
      return 1;
    }
    mqtt = std::move(started).value();
    bus.AddPublisher(mqtt.get());
  }
  // Webhooks: declared before the event hub, so that they take the events it still publishes as it stops.
  // In a cluster the outbox is the database's, shared by every node's publisher: each event goes once.
  Result<std::unique_ptr<notify::WebhookPublisher>> webhooks_started = Status::Internal("not started");
  if (config.database_url.empty()) {
    webhooks_started = notify::WebhookPublisher::Start(config.webhooks, config.store.data_dir, *records, metrics);
  } else {
    auto outbox = cluster::OpenPgOutbox(
        {.database_url = config.database_url, .node_id = config.node_id, .first_cursor = -1});
    webhooks_started = outbox.ok() ? notify::WebhookPublisher::Start(config.webhooks, std::move(outbox).value(),
                                                                     *records, metrics)
                                   : Result<std::unique_ptr<notify::WebhookPublisher>>(outbox.status());
  }
  if (!webhooks_started.ok()) {
    IOT_LOG(kError) << "cannot start the webhooks: " << webhooks_started.status().ToString();
    store->Close();
    return 1;
  }
  std::unique_ptr<notify::WebhookPublisher> webhooks = std::move(webhooks_started).value();
  bus.AddPublisher(webhooks.get());

  events::EventOptions event_options = config.events;
  if (!config.database_url.empty()) event_options.frame_node = config.node_id;
  events::EventHub event_hub(event_options, *records, gallery, registry, bus, metrics);
  // Declared before the server, so it stops after it: the cluster route reads its snapshot until then.
  const std::unique_ptr<cluster::Membership> membership = MakeMembership(config, registry, ingestor, metrics);
  const bool clustered = !config.database_url.empty();
  if (clustered) {  // every record this node keeps is in the devices table once it has joined
    std::vector<DeviceRecord> kept;
    for (auto& d : registry.List(NowMs())) kept.push_back(std::move(d.record));
    membership->SaveDevices(kept);
  }
  registry.SetStateListener([&event_hub, &registry, &membership, &config, clustered](
                                const std::string& id, ingest::DeviceRegistry::Change change, int64_t ts_ms) {
    if (clustered && change == ingest::DeviceRegistry::Change::kAdded) {
      AdoptClusterRecord(*membership, registry, id, config.node_id);
    }
    event_hub.OnDeviceChange(id, change, ts_ms);
  });

  std::unique_ptr<vision::RecognitionPool> pool;
  std::unique_ptr<RecognitionSink> recognition_sink;
  std::string unavailable = "turned off (--recognition=false)";
  if (config.recognition) {
    LimitBlasThreads();
    const int64_t t0 = MonotonicUs();
    auto engine = vision::FaceEngine::Open(config.engine);
    if (engine.ok()) {
      IOT_LOG(kInfo) << "recognition: models loaded in " << (MonotonicUs() - t0) / 1000 << " ms; "
                     << gallery.person_count() << " people, " << gallery.face_count() << " faces; "
                     << config.pool.workers << " worker(s); BLAS: " << vision::BlasDescription();
      pool = std::make_unique<vision::RecognitionPool>(
          config.pool, std::move(engine).value(), gallery, metrics,
          [&event_hub](const FramePtr& frame, vision::PoolResult r) {
            if (r.recognition.ok()) event_hub.OnRecognition(frame, r.recognition.value());
          });
      recognition_sink = std::make_unique<RecognitionSink>(*pool);
      frames.AddSink(recognition_sink.get(), /*wait_on_stream=*/false);
    } else {
      unavailable = engine.status().ToString();
      IOT_LOG(kError) << "recognition is off: " << unavailable
                      << " (scripts/fetch-models.sh fetches the descriptor weights)";
    }
  }

  int exit_code = 0;
  {
    auto disk_pool = std::make_unique<WorkPool>("api_disk_pool", config.disk_threads, 256, metrics);
    // Footage exports: encoded on the exporter's own worker; its files live in <data-dir>/exports.
    exports::ExporterOptions export_options = config.exports;
    export_options.dir = (std::filesystem::path(config.store.data_dir) / "exports").string();
    auto exporter_started = exports::Exporter::Start(
        export_options, [&store](uint64_t frame_id) { return store->ReadFrame(frame_id, nullptr); }, metrics);
    if (!exporter_started.ok()) {
      IOT_LOG(kError) << "cannot start the exports: " << exporter_started.status().ToString();
      store->Close();
      return 1;
    }
    std::unique_ptr<exports::Exporter> exporter = std::move(exporter_started).value();
    // Password hashing (~0.1 s and 64 MiB each) and auth.db work, off the I/O threads; one thread bounds the memory.
    auto auth_pool = std::make_unique<WorkPool>("auth_pool", 1, 32, metrics);
    api::AuditTrail audit(*accounts, *auth_pool, metrics);
    std::unique_ptr<api::AccessControl> access;
    if (config.access.enabled) access = std::make_unique<api::AccessControl>(config.access, *accounts, metrics);
    api::AuthApiContext auth_ctx{*accounts, access.get(), *auth_pool, audit, main_options.tls != nullptr};
    api::RecognitionContext recognition{pool.get(), unavailable, gallery, *records, event_hub, *disk_pool, kVersion,
                                        NowMs(), &audit};
    recognition.multipart = config.ingest.multipart;
    // Strangers are grouped over the footage's retention age (a week when age is unlimited): they age out with it.
    if (config.store.retention_max_age_ms > 0) recognition.strangers.window_ms = config.store.retention_max_age_ms;
    recognition.multipart_over_limit = &metrics.counter(
        "recognition_multipart_over_limit_total", "recognition uploads refused over the part count or part header limit");
    api::ApiContext ctx{ingestor,   frames, registry, *store,    metrics, *disk_pool,
                        hub,        event_hub, &recognition, kVersion, NowMs()};
    ctx.mqtt = mqtt.get();
    ctx.audit = &audit;
    ctx.cluster = membership.get();
    http::Router router;
    if (access) router.SetGuard(access->Guard());
    if (clustered) router.SetForwarder(api::CameraForwarder(*membership, registry, config.node_id));
    api::AddAuthRoutes(router, auth_ctx);
    api::AddRoutes(router, ctx);
    api::AddRecognitionRoutes(router, recognition, /*with_health=*/false);
    api::AddEventRoutes(router, recognition);
    api::AddWebhookRoutes(router, *webhooks, *disk_pool, audit);
    api::FootageContext footage{*store, registry, *disk_pool, *exporter, config.store.retention_max_age_ms,
                                event_options.frame_node};
    api::AddFootageRoutes(router, footage);
    hub.AddRoutes(router);
    if (Status st = api::AddStaticRoutes(router, config.web_dir); !st.ok()) {
      IOT_LOG(kWarn) << "no dashboard: " << st.ToString();
    }
    auto started = http::Server::Start(main_options, std::move(router), metrics);
    if (!started.ok()) {
      IOT_LOG(kError) << started.status().ToString();
      store->Close();
      return 1;
    }
    std::unique_ptr<http::Server> server = std::move(started).value();
    ctx.server.store(server.get());
    std::unique_ptr<http::Server> recognition_server;
    if (config.recognition_port_enabled) {
      http::Router recognition_router;
      if (access) recognition_router.SetGuard(access->Guard());
      api::AddRecognitionRoutes(recognition_router, recognition, /*with_health=*/true);
      auto r = http::Server::Start(recognition_options, std::move(recognition_router), metrics);
      if (!r.ok()) {
        IOT_LOG(kError) << r.status().ToString();
        server->Stop(std::chrono::milliseconds(0));
        store->Close();
        return 1;
      }
      recognition_server = std::move(r).value();
    }
    // Tests and scripts wait for these exact lines on stdout; "ready" comes last.
    Announce("listening on", config.main_server.bind_address, server->port());
    if (recognition_server) {
      Announce("recognition listening on", config.recognition_server.bind_address, recognition_server->port());
    }
    {
      http::ServerOptions bound = main_options;
      bound.port = server->port();
      membership->Start(config.advertise_url.empty() ? HttpBaseUrl(bound) : config.advertise_url);
      if (!config.database_url.empty()) {
        IOT_LOG(kInfo) << "cluster: node '" << config.node_id << "' joins the cluster (heartbeat every second)";
      }
    }
    std::printf("ready\n");
    std::fflush(stdout);
    IOT_LOG(kInfo) << "iotstream " << kVersion << " serving on " << (main_options.tls ? "https://" : "http://")
                   << config.main_server.bind_address << ':'
                   << server->port() << " (data in " << config.store.data_dir << ")";

    // Wait for a stop signal; once a second persist the devices whose figures changed, and report devices gone
    // offline, appearances ended, people gone and a store under pressure.
    StorageWatch storage_watch;
    storage_watch.dropped = store->stats().dropped;
    int64_t strangers_checked_ms = 0;
    while (true) {
      timespec one_second{1, 0};
      const int sig = sigtimedwait(&stop_signals, nullptr, &one_second);
      if (sig == SIGINT || sig == SIGTERM) {
        IOT_LOG(kInfo) << "signal " << sig << ": stopping";
        break;
      }
      auto changed = registry.TakeDirty();
      membership->SaveDevices(changed);
      store->SaveDevices(std::move(changed));
      const int64_t now = NowMs();
      registry.CheckOffline(now);
      if (pool) {
        for (const auto& end : pool->EndTracks()) {
          event_hub.OnAppearanceEnded(end.device_id, end.track_id, end.person_id, end.first_seen_ms, end.last_seen_ms);
        }
      }
      event_hub.CheckPresence(now);
      ReportStoragePressure(*store, config.store, event_hub, &storage_watch, now);
      // Strangers' faces are kept as long as the footage they were seen in (checked each minute).
      if (config.store.retention_max_age_ms > 0 && now - strangers_checked_ms >= 60'000) {
        strangers_checked_ms = now;
        auto forgotten = records->ForgetStrangerFaces(now - config.store.retention_max_age_ms);
        if (!forgotten.ok()) {
          IOT_LOG(kWarn) << "events: forgetting strangers' faces: " << forgotten.status().ToString();
        } else if (forgotten.value() > 0) {
          IOT_LOG(kInfo) << "events: forgot " << forgotten.value() << " stranger face(s) older than the footage";
        }
      }
      // Tokens, users and sessions changed by `iotstream token|user` while the server runs.
      if (Status st = accounts->Reload(); !st.ok()) IOT_LOG(kWarn) << "accounts: " << st.ToString();
    }
    hub.CloseAll();
    server->Stop(std::chrono::milliseconds(2000));
    if (recognition_server) recognition_server->Stop(std::chrono::milliseconds(500));
    // Work that still holds answers for those connections finishes before the connections go.
    recognition_sink.reset();
    pool.reset();
    disk_pool.reset();
    exporter.reset();
    auth_pool.reset();
  }
  // No event comes after this: send what is queued, say offline, disconnect.
  if (mqtt) mqtt->Stop();
  store->SaveDevices(registry.TakeDirty());
  store->Close();
  IOT_LOG(kInfo) << "stopped cleanly";
  return exit_code;
}

}  // namespace iotstream::app
