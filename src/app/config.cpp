#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <iostream>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/program_options.hpp>

#include "app/app.h"
#include "app/version.h"
#include "cluster/cluster.h"

namespace iotstream::app {
namespace po = boost::program_options;

namespace {

// "max-body-bytes" <-> IOTSTREAM_MAX_BODY_BYTES
std::string EnvToOption(const po::options_description& desc, const std::string& env) {
  static const std::string kPrefix = "IOTSTREAM_";
  if (env.rfind(kPrefix, 0) != 0) return {};
  std::string name = env.substr(kPrefix.size());
  for (auto& c : name) c = c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return desc.find_nothrow(name, false) ? name : std::string();
}

// Boost.Program_options words its errors by replacing placeholders such as %value% with what was given until none
// is left, so an argument or IOTSTREAM_* value that holds one never ends that loop (found by fuzz/config).
bool HoldsPlaceholder(std::string_view text) {
  for (const char* p : {"%canonical_option%", "%option%", "%original_token%", "%value%", "%prefix%", "%invalid_line%"}) {
    if (text.find(p) != std::string_view::npos) return true;
  }
  return false;
}

// "ID=SENSITIVITY" into settings[ID].sensitivity; false when malformed.
bool ParseMotionCamera(const std::string& text, std::unordered_map<std::string, motion::CameraSettings>* cameras,
                       const motion::CameraSettings& defaults) {
  const size_t eq = text.find('=');
  if (eq == 0 || eq == std::string::npos) return false;
  char* end = nullptr;
  const std::string value = text.substr(eq + 1);
  const double sensitivity = std::strtod(value.c_str(), &end);
  if (value.empty() || *end != '\0' || !(sensitivity >= 0 && sensitivity <= 1)) return false;
  cameras->try_emplace(text.substr(0, eq), defaults).first->second.sensitivity = sensitivity;
  return true;
}

// "ID=X,Y,W,H" (fractions of the frame) appended to settings[ID].mask; false when malformed.
bool ParseMotionMask(const std::string& text, std::unordered_map<std::string, motion::CameraSettings>* cameras,
                     const motion::CameraSettings& defaults) {
  const size_t eq = text.find('=');
  if (eq == 0 || eq == std::string::npos) return false;
  double v[4];
  const char* p = text.c_str() + eq + 1;
  for (int i = 0; i < 4; ++i) {
    char* end = nullptr;
    v[i] = std::strtod(p, &end);
    if (end == p || !(v[i] >= 0 && v[i] <= 1) || *end != (i < 3 ? ',' : '\0')) return false;
    p = end + 1;
  }
  if (v[2] <= 0 || v[3] <= 0) return false;
  cameras->try_emplace(text.substr(0, eq), defaults).first->second.mask.push_back({v[0], v[1], v[2], v[3]});
  return true;
}

std::string HostName() {
  char name[256] = {};
  return gethostname(name, sizeof name - 1) == 0 ? std::string(name) : std::string();
}

}  // namespace

std::unique_ptr<Config> ParseConfig(int argc, char** argv, int* exit_code) {
  auto cfg = std::make_unique<Config>();
  auto& s = cfg->main_server;
  auto& st = cfg->store;
  int64_t read_timeout_ms = s.read_timeout.count();
  int64_t retention_age_s = st.retention_max_age_ms / 1000;
  int64_t offline_s = cfg->devices.offline_after_ms / 1000;
  std::string log_level = "info";
  cfg->web_dir = kDefaultWebDir;
  cfg->engine.models_dir = kDefaultModelsDir;
  auto& rs = cfg->recognition_server;
  // Ports are read as int and range-checked here: Boost's conversion into unsigned short overflows an int on
  // some long digit strings (UB found by fuzz/config).
  int main_port = s.port;
  int recognition_port = 9001;
  rs.name = "recognition";
  rs.io_threads = 1;
  rs.max_body_bytes = 8 * 1024 * 1024;  // enrolment photos may be larger than camera frames
  auto& pool = cfg->pool;
  pool.workers = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) - 1);
  int64_t recognition_timeout_ms = pool.job_timeout.count();
  int64_t max_frame_age_ms = pool.max_frame_age.count();
  std::string scheduler = "need";
  std::vector<std::string> motion_cameras, motion_masks;
  int64_t dedup_s = cfg->events.dedup_window_ms / 1000;
  int64_t max_export_s = cfg->exports.max_range_ms / 1000;
  int64_t presence_s = cfg->events.presence_timeout_ms / 1000;
  notify::MqttOptions mqtt;
  std::string mqtt_url;
  int64_t webhook_retry_s = cfg->webhooks.retry_ms / 1000;
  std::string auth_mode = "on";
  std::string tls_cert, tls_key;
  int64_t tls_handshake_timeout_ms = s.tls_handshake_timeout.count();
  auto& access = cfg->access;
  cfg->node_id = HostName();
  // The seed's variable names still work (flags and IOTSTREAM_* win).
  const bool seed_sample_rate = std::getenv("RECOGNITION_SAMPLE_RATE") != nullptr;
  if (const char* v = std::getenv("RECOGNITION_SAMPLE_RATE")) pool.sample_rate = std::atof(v);
  if (const char* v = std::getenv("MAX_WORKERS")) pool.workers = std::atoi(v);
  if (const char* v = std::getenv("FACE_RECOGNITION_TIMEOUT")) recognition_timeout_ms = static_cast<int64_t>(std::atof(v) * 1000);

  po::options_description desc(
      "iotstream: camera ingest server.\nEvery flag can also be set as an IOTSTREAM_* environment variable "
      "(--max-body-bytes = IOTSTREAM_MAX_BODY_BYTES); a flag wins over the environment.\n\nOptions");
  desc.add_options()
      ("help,h", "show this help and exit")
      ("version", "print the version and exit")
      ("port", po::value(&main_port)->default_value(main_port), "main HTTP port (0: pick a free one)")
      ("bind", po::value(&s.bind_address)->default_value(s.bind_address), "address to listen on")
      ("io-threads", po::value(&s.io_threads)->default_value(s.io_threads), "HTTP I/O threads (0: one per core)")
      ("max-body-bytes", po::value(&s.max_body_bytes)->default_value(s.max_body_bytes), "largest request body (413 above)")
      ("max-header-bytes", po::value(&s.max_header_bytes)->default_value(s.max_header_bytes),
       "largest request head (431 above)")
      ("read-timeout-ms", po::value(&read_timeout_ms)->default_value(read_timeout_ms),
       "a request must arrive within this; also the keep-alive idle limit")
      ("max-connections", po::value(&s.max_connections)->default_value(s.max_connections),
       "open connections beyond this get 503")
      ("max-multipart-parts", po::value(&cfg->ingest.multipart.max_parts)->default_value(cfg->ingest.multipart.max_parts),
       "parts in one multipart upload (413 above)")
      ("max-part-header-bytes",
       po::value(&cfg->ingest.multipart.max_part_header_bytes)->default_value(cfg->ingest.multipart.max_part_header_bytes),
       "header lines of one multipart part (413 above)")
      ("data-dir", po::value(&st.data_dir)->default_value(st.data_dir), "folder for the database and frames")
      ("store-queue-frames", po::value(&st.queue_max_frames)->default_value(st.queue_max_frames),
       "frames waiting for disk before new ones are dropped")
      ("store-queue-bytes", po::value(&st.queue_max_bytes)->default_value(st.queue_max_bytes),
       "bytes waiting for disk before new frames are dropped")
      ("store-segment-bytes", po::value(&st.segment_max_bytes)->default_value(st.segment_max_bytes),
       "a device's frames go into one file until it holds this much (or the hour turns)")
      ("retention-bytes", po::value(&st.retention_max_bytes)->default_value(st.retention_max_bytes),
       "disk budget for frames of all devices; the oldest go first")
      ("retention-device-bytes", po::value(&st.retention_device_max_bytes)->default_value(st.retention_device_max_bytes),
       "disk budget per device (0: none)")
      ("retention-age-s", po::value(&retention_age_s)->default_value(retention_age_s),
       "frames older than this are removed (0: keep)")
      ("device-offline-s", po::value(&offline_s)->default_value(offline_s),
       "a device with no frame for this long is offline")
      ("web-dir", po::value(&cfg->web_dir)->default_value(cfg->web_dir), "folder with the dashboard's files")
      ("max-viewers", po::value(&cfg->live.max_viewers)->default_value(cfg->live.max_viewers),
       "WebSocket and MJPEG viewers beyond this get 503")
      ("recognition", po::value(&cfg->recognition)->default_value(cfg->recognition),
       "recognise faces (needs the models: scripts/fetch-models.sh)")
      ("recognition-port", po::value(&recognition_port)->default_value(recognition_port),
       "port of the seed's recognition API (0: pick a free one)")
      ("recognition-api", po::value(&cfg->recognition_port_enabled)->default_value(cfg->recognition_port_enabled),
       "serve the recognition API on its own port too")
      ("models-dir", po::value(&cfg->engine.models_dir)->default_value(cfg->engine.models_dir),
       "folder with face_recognition_model-weights_manifest.json and face_recognition_model.bin")
      ("shape-predictor", po::value(&cfg->engine.shape_predictor_path)->default_value(cfg->engine.shape_predictor_path),
       "dlib's 68-point landmark model")
      ("recognition-scheduler", po::value(&scheduler)->default_value(scheduler),
       "need: recognise cameras with motion, unnamed faces first, named and tracked faces now and then, still "
       "cameras not at all; sample: a share of every camera's frames (the earlier scheduler; giving "
       "--recognition-sample-rate or --recognition-fps selects it)")
      ("recognition-sample-rate", po::value(&pool.sample_rate)->default_value(pool.sample_rate),
       "sample scheduler: share of camera frames offered to recognition (also RECOGNITION_SAMPLE_RATE)")
      ("recognition-fps", po::value(&pool.max_fps_per_camera)->default_value(pool.max_fps_per_camera),
       "sample scheduler, > 0: instead of the sample rate, at most this many frames per camera per second")
      ("motion-sensitivity", po::value(&pool.motion.defaults.sensitivity)->default_value(pool.motion.defaults.sensitivity),
       "need scheduler: 0 (only large changes count as motion) to 1 (small ones do), for every camera")
      ("motion-camera", po::value(&motion_cameras)->composing(),
       "ID=SENSITIVITY: one camera's motion sensitivity (repeatable)")
      ("motion-mask", po::value(&motion_masks)->composing(),
       "ID=X,Y,W,H: a region of one camera's picture (fractions of its width and height) where changes are not "
       "motion, e.g. a tree or a TV (repeatable)")
      ("max-workers", po::value(&pool.workers)->default_value(pool.workers),
       "recognition threads (also MAX_WORKERS)")
      ("recognition-timeout-ms", po::value(&recognition_timeout_ms)->default_value(recognition_timeout_ms),
       "jobs waiting longer are dropped; the stream path answers 504 (also FACE_RECOGNITION_TIMEOUT, in s)")
      ("recognition-idle-class", po::value(&pool.idle_class)->default_value(pool.idle_class),
       "camera frames' recognition under SCHED_IDLE, on CPU nothing else wants (false: nice 10 only)")
      ("recognition-max-age-ms", po::value(&max_frame_age_ms)->default_value(max_frame_age_ms),
       "camera frames waiting longer for a worker are dropped unrun (0: only the timeout)")
      ("match-threshold", po::value(&pool.match_threshold)->default_value(pool.match_threshold),
       "largest descriptor distance that still names a person")
      ("detection-width", po::value(&cfg->engine.detection_width)->default_value(cfg->engine.detection_width),
       "wider frames are decoded at a reduced size (DCT scaling) for detection")
      ("hog-upsample", po::value(&cfg->engine.upsample)->default_value(cfg->engine.upsample),
       "image doublings before HOG detection (1 finds faces under ~80 px, ~4x slower)")
      ("hog-threshold", po::value(&cfg->engine.adjust_threshold)->default_value(cfg->engine.adjust_threshold),
       "added to the HOG detection threshold (negative finds more faces)")
      ("max-faces", po::value(&cfg->engine.max_faces)->default_value(cfg->engine.max_faces),
       "faces described per image at most")
      ("event-dedup-s", po::value(&dedup_s)->default_value(dedup_s),
       "one event per person per camera within this window")
      ("presence-timeout-s", po::value(&presence_s)->default_value(presence_s),
       "a person not seen for this long has left (person_left event)")
      ("webhook", po::value(&cfg->webhooks.urls)->composing(),
       "POST every event to this http:// or https:// URL (repeatable; more, with filters and secrets: /api/v1/webhooks)")
      ("webhook-retry-s", po::value(&webhook_retry_s)->default_value(webhook_retry_s),
       "a webhook delivery is retried (backoff 1 s doubling to 5 min) for this long, then given up")
      ("webhook-ca-file", po::value(&cfg->webhooks.ca_file),
       "CA certificates (PEM) that https:// webhooks are verified against (default: the system's)")
      ("disk-threads", po::value(&cfg->disk_threads)->default_value(cfg->disk_threads),
       "threads for frame listing and reads")
      ("max-export-seconds", po::value(&max_export_s)->default_value(max_export_s),
       "longest time range one footage export (MP4 or ZIP) may cover (400 beyond)")
      ("max-exports", po::value(&cfg->exports.max_jobs)->default_value(cfg->exports.max_jobs),
       "footage exports queued or running at once (503 beyond); they encode one at a time")
      ("log-level", po::value(&log_level)->default_value(log_level), "debug, info, warn, error or off")
      ("mqtt-url", po::value(&mqtt_url), "publish events to this MQTT broker: mqtt://[user:password@]host:port, "
       "or mqtts://... (off when unset)")
      ("mqtt-ca-file", po::value(&mqtt.ca_file), "CA certificates for an mqtts:// broker (default: the system's)")
      ("mqtt-prefix", po::value(&mqtt.prefix)->default_value(mqtt.prefix), "MQTT topic prefix")
      ("ha-discovery", po::value(&mqtt.ha_discovery)->default_value(mqtt.ha_discovery),
       "publish Home Assistant MQTT discovery configs (with --mqtt-url)")
      ("ha-prefix", po::value(&mqtt.ha_prefix)->default_value(mqtt.ha_prefix), "Home Assistant's discovery prefix")
      ("auth", po::value(&auth_mode)->default_value(auth_mode),
       "on: every route but camera ingest, /health and the login page needs a token or a login; off: open to all "
       "(manage accounts and tokens with 'iotstream user|token ...')")
      ("camera-auth", po::value(&access.camera_auth)->default_value(access.camera_auth)->implicit_value(true),
       "camera uploads need a camera (or admin) token too")
      ("allowed-origin", po::value(&access.allowed_origins)->composing(),
       "a foreign origin (e.g. https://ha.example:8123) whose pages may send the session cookie and read answers "
       "(CORS) (repeatable)")
      ("auth-max-failures", po::value(&access.limiter.max_failures)->default_value(access.limiter.max_failures),
       "wrong credentials from one address within a minute before it gets 429 for a while")
      ("tls-cert", po::value(&tls_cert), "serve HTTPS and WSS (both ports) with this PEM certificate (chain); "
       "plain HTTP is then refused")
      ("tls-key", po::value(&tls_key), "the PEM private key of --tls-cert")
      ("tls-self-signed", po::value(&cfg->tls_self_signed)->default_value(false)->implicit_value(true),
       "serve HTTPS with a self-signed certificate made once and kept in the data folder (tls-cert.pem); "
       "its SHA-256 fingerprint is printed at start")
      ("tls-handshake-timeout-ms", po::value(&tls_handshake_timeout_ms)->default_value(tls_handshake_timeout_ms),
       "a client must finish its TLS handshake within this")
      ("database", po::value(&cfg->database_url),
       "join a cluster of nodes on this PostgreSQL database: postgresql://user:password@host:port/database "
       "(off when unset: a single node)")
      ("node-id", po::value(&cfg->node_id)->default_value(cfg->node_id),
       "this node's name in the cluster (1-64 of A-Z a-z 0-9 . _ -)")
      ("advertise-url", po::value(&cfg->advertise_url),
       "how the other nodes and HAProxy reach this node, http://host:port (default: the bind address, or the host "
       "name when it binds all, and the port)")
      ("trusted-proxy", po::value(&s.trusted_proxies)->composing(),
       "the IP address of a load balancer in front (HAProxy): its requests are taken as from the client its "
       "X-Forwarded-For names, for logs, the audit log, failed-login limits and cameras without an id (repeatable)");

  for (int i = 1; i < argc; ++i) {
    if (HoldsPlaceholder(argv[i])) {
      std::cerr << "iotstream: argument " << i << " holds a %name% placeholder\n";
      *exit_code = 2;
      return nullptr;
    }
  }
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::string_view(*e).rfind("IOTSTREAM_", 0) == 0 && HoldsPlaceholder(*e)) {
      std::cerr << "iotstream: an IOTSTREAM_* variable holds a %name% placeholder\n";
      *exit_code = 2;
      return nullptr;
    }
  }
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::store(po::parse_environment(desc, [&desc](const std::string& env) { return EnvToOption(desc, env); }), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "iotstream: " << e.what() << "\nTry 'iotstream --help'.\n";
    *exit_code = 2;
    return nullptr;
  }
  if (vm.count("help")) {
    std::cout << desc << '\n';
    *exit_code = 0;
    return nullptr;
  }
  if (vm.count("version")) {
    std::cout << "iotstream " << kVersion << '\n';
    *exit_code = 0;
    return nullptr;
  }
  auto fail = [exit_code](const std::string& msg) {
    std::cerr << "iotstream: " << msg << '\n';
    *exit_code = 2;
    return nullptr;
  };
  if (!ParseLogLevel(log_level, &cfg->log_level)) return fail("--log-level must be debug, info, warn, error or off");
  if (read_timeout_ms <= 0) return fail("--read-timeout-ms must be positive");
  if (main_port < 0 || main_port > 65'535 || recognition_port < 0 || recognition_port > 65'535) {
    return fail("--port and --recognition-port must be 0 to 65535");
  }
  s.port = static_cast<uint16_t>(main_port);
  rs.port = static_cast<uint16_t>(recognition_port);
  if (s.max_body_bytes == 0 || s.max_header_bytes < 1024) return fail("body and header limits are too small");
  if (st.queue_max_frames == 0) return fail("--store-queue-frames must be positive");
  if (cfg->ingest.multipart.max_parts == 0 || cfg->ingest.multipart.max_part_header_bytes == 0) {
    return fail("--max-multipart-parts and --max-part-header-bytes must be positive");
  }
  if (retention_age_s < 0 || offline_s <= 0) return fail("--retention-age-s and --device-offline-s must be positive");
  if (cfg->disk_threads <= 0) return fail("--disk-threads must be positive");
  if (max_export_s < 1 || max_export_s > 86'400) return fail("--max-export-seconds must be 1 to 86400");
  if (cfg->exports.max_jobs < 1 || cfg->exports.max_jobs > 64) return fail("--max-exports must be 1 to 64");
  cfg->exports.max_range_ms = max_export_s * 1000;
  cfg->exports.max_frames = static_cast<size_t>(max_export_s) * 30;  // 30 fps over the longest range
  if (pool.sample_rate < 0 || pool.sample_rate > 1) return fail("--recognition-sample-rate must be within 0..1");
  if (scheduler != "need" && scheduler != "sample") return fail("--recognition-scheduler must be need or sample");
  // Whoever set a sample rate or a per-camera rate keeps the scheduler those belong to, unless they chose one.
  const bool sampler_asked = seed_sample_rate || !vm["recognition-sample-rate"].defaulted() ||
                             !vm["recognition-fps"].defaulted();
  pool.scheduler = scheduler == "sample" || (sampler_asked && vm["recognition-scheduler"].defaulted())
                       ? vision::Scheduler::kSample
                       : vision::Scheduler::kNeed;
  if (!(pool.motion.defaults.sensitivity >= 0 && pool.motion.defaults.sensitivity <= 1)) {
    return fail("--motion-sensitivity must be within 0..1");
  }
  for (const auto& c : motion_cameras) {
    if (!ParseMotionCamera(c, &pool.motion.cameras, pool.motion.defaults)) {
      return fail("--motion-camera must be ID=SENSITIVITY with a sensitivity within 0..1, not '" + c + "'");
    }
  }
  for (const auto& m : motion_masks) {
    if (!ParseMotionMask(m, &pool.motion.cameras, pool.motion.defaults)) {
      return fail("--motion-mask must be ID=X,Y,W,H with fractions within 0..1 (W and H above 0), not '" + m + "'");
    }
  }
  if (pool.workers <= 0 || recognition_timeout_ms <= 0 || dedup_s < 0) {
    return fail("--max-workers and --recognition-timeout-ms must be positive");
  }
  if (presence_s <= 0) return fail("--presence-timeout-s must be positive");
  if (auth_mode != "on" && auth_mode != "off") return fail("--auth must be on or off");
  access.enabled = auth_mode == "on";
  if (access.camera_auth && !access.enabled) return fail("--camera-auth needs --auth on");
  if (access.limiter.max_failures < 1) return fail("--auth-max-failures must be positive");
  for (const auto& o : access.allowed_origins) {
    const size_t host = o.find("://");
    if ((o.rfind("http://", 0) != 0 && o.rfind("https://", 0) != 0) || o.size() == host + 3 ||
        o.find('/', host + 3) != std::string::npos) {
      return fail("--allowed-origin must be an origin like https://host:port (no path), not '" + o + "'");
    }
  }
  cfg->main_server.cors_origins = access.allowed_origins;
  cfg->recognition_server.cors_origins = access.allowed_origins;
  // Each doubling quadruples the detector's image: 4 would turn a VGA frame into 10240 x 7680 (found by fuzz/config).
  if (cfg->engine.upsample < 0 || cfg->engine.upsample > 3) return fail("--hog-upsample must be 0 to 3");
  if (webhook_retry_s < 0) return fail("--webhook-retry-s must not be negative");
  cfg->webhooks.retry_ms = webhook_retry_s * 1000;
  if (!cfg->webhooks.ca_file.empty() && !std::filesystem::is_regular_file(cfg->webhooks.ca_file)) {
    return fail("--webhook-ca-file: no such file: " + cfg->webhooks.ca_file);
  }
  pool.job_timeout = std::chrono::milliseconds(recognition_timeout_ms);
  if (max_frame_age_ms < 0) return fail("--recognition-max-age-ms must not be negative");
  pool.max_frame_age = std::chrono::milliseconds(max_frame_age_ms);
  cfg->events.dedup_window_ms = dedup_s * 1000;
  cfg->events.presence_timeout_ms = presence_s * 1000;
  if (!mqtt_url.empty()) {
    auto url = notify::ParseMqttUrl(mqtt_url);
    if (!url.ok()) return fail("--mqtt-url: " + url.status().message());
    mqtt.url = url.value();
    if (!mqtt.ca_file.empty() && !mqtt.url.tls) return fail("--mqtt-ca-file needs an mqtts:// URL");
    if (!mqtt.ca_file.empty() && !std::filesystem::is_regular_file(mqtt.ca_file)) {
      return fail("--mqtt-ca-file: no such file: " + mqtt.ca_file);
    }
    for (const std::string* prefix : {&mqtt.prefix, &mqtt.ha_prefix}) {
      if (prefix->empty() || prefix->find_first_of("+#") != std::string::npos || prefix->front() == '/' ||
          prefix->back() == '/') {
        return fail("--mqtt-prefix and --ha-prefix must be topic names without + # or a leading or trailing /");
      }
    }
    cfg->mqtt = std::move(mqtt);
  }
  if (tls_cert.empty() != tls_key.empty()) return fail("--tls-cert and --tls-key go together");
  if (!tls_cert.empty() && cfg->tls_self_signed) return fail("--tls-self-signed or --tls-cert/--tls-key, not both");
  if (tls_handshake_timeout_ms <= 0) return fail("--tls-handshake-timeout-ms must be positive");
  if (!tls_cert.empty()) {
    auto tls = http::TlsContext::Load(tls_cert, tls_key);
    if (!tls.ok()) return fail("--tls-cert/--tls-key: " + tls.status().message());
    s.tls = tls.value();
    rs.tls = tls.value();
  }
  s.tls_handshake_timeout = std::chrono::milliseconds(tls_handshake_timeout_ms);
  if (vm.count("database")) {
    if (Status bad = cluster::CheckDatabaseUrl(cfg->database_url); !bad.ok()) return fail("--database " + bad.message());
  }
  if (Status bad = cluster::CheckNodeId(cfg->node_id); !bad.ok()) {
    return fail("--node-id must be a name for this node: " + bad.message() + ", not '" + cfg->node_id + "'");
  }
  if (vm.count("advertise-url")) {
    if (Status bad = cluster::CheckAdvertiseUrl(cfg->advertise_url); !bad.ok()) {
      return fail("--advertise-url " + bad.message());
    }
  }
  for (const auto& proxy : s.trusted_proxies) {
    unsigned char bytes[16];
    if (inet_pton(AF_INET, proxy.c_str(), bytes) != 1 && inet_pton(AF_INET6, proxy.c_str(), bytes) != 1) {
      return fail("--trusted-proxy must be an IP address, not '" + proxy + "'");
    }
  }
  rs.trusted_proxies = s.trusted_proxies;
  rs.tls_handshake_timeout = s.tls_handshake_timeout;
  rs.bind_address = s.bind_address;
  rs.read_timeout = std::chrono::milliseconds(read_timeout_ms);
  s.read_timeout = std::chrono::milliseconds(read_timeout_ms);
  st.retention_max_age_ms = retention_age_s * 1000;
  cfg->devices.offline_after_ms = offline_s * 1000;
  s.name = "main";
  return cfg;
}

}  // namespace iotstream::app
