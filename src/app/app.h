// App: the wiring. Turns a Config into running subsystems (store -> ingest -> api -> http), and stops them
// in the order that loses nothing: stop accepting, answer what is in flight, write what is queued, close.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/access.h"
#include "core/log.h"
#include "core/status.h"
#include "http/http.h"
#include "ingest/ingest.h"
#include "live/live.h"
#include "events/events.h"
#include "exports/exporter.h"
#include "notify/mqtt.h"
#include "notify/webhooks.h"
#include "vision/pool.h"
#include "vision/vision.h"
#include "store/store.h"

namespace iotstream::app {

struct Config {
  http::ServerOptions main_server;            // port 9003
  http::ServerOptions recognition_server;     // port 9001: the seed's recognition API
  bool recognition_port_enabled = true;
  bool recognition = true;                    // load the models and recognise faces
  vision::EngineOptions engine;
  vision::PoolOptions pool;
  events::EventOptions events;
  store::StoreOptions store;
  ingest::DeviceRegistry::Options devices;
  ingest::Ingestor::Options ingest;           // upload bounds (the recognition API's uploads share them)
  live::LiveOptions live;
  notify::WebhookOptions webhooks;           // --webhook URL... and their retry time
  std::string web_dir;                        // the dashboard's files; default: the source tree's web/
  int disk_threads = 2;                       // threads for store queries and frame reads off the I/O threads
  exports::ExporterOptions exports;           // --max-export-seconds, --max-exports; dir is <data-dir>/exports
  LogLevel log_level = LogLevel::kInfo;
  // MQTT output with Home Assistant discovery (--mqtt-url); off when unset. http_base_url and sw_version are
  // filled in by Run.
  std::optional<notify::MqttOptions> mqtt;
  api::AccessOptions access;                  // --auth (on), --camera-auth, --allowed-origin, --auth-max-failures
  // --tls-self-signed: Run makes (or reuses) a certificate in the data folder and serves HTTPS with it. With
  // --tls-cert/--tls-key instead, ParseConfig loads them into main_server.tls and recognition_server.tls.
  bool tls_self_signed = false;
  // A cluster of nodes on one PostgreSQL database (--database postgresql://...); empty: a single node, nothing of
  // the cluster runs. node_id defaults to the host name; an empty advertise_url is made at start from the bind
  // address (the host name when it binds all) and the port the server got.
  std::string database_url;
  std::string node_id;
  std::string advertise_url;
};

// Parses flags, with IOTSTREAM_* environment variables as fallbacks (flag wins). Returns the config, or
// nullptr after printing --help/--version output (*exit_code 0) or an error (*exit_code 2).
std::unique_ptr<Config> ParseConfig(int argc, char** argv, int* exit_code);

// Whether argv[1] names an administration command ("token", "user") rather than a flag.
bool IsCommand(const char* arg);
// Runs `iotstream token|user ...` (argv[0] is the program) on a data folder; returns the exit code (2: usage).
int RunCommand(int argc, char** argv);

// Runs until SIGINT or SIGTERM. Returns the process exit code. REQUIRES: called from the main thread
// before any other thread exists (it blocks the stop signals for every thread it starts).
int Run(const Config& config);

}  // namespace iotstream::app
