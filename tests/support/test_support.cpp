#include "support/test_support.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <gtest/gtest.h>

extern char** environ;

namespace iotstream::testing {
namespace fs = std::filesystem;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = boost::asio::ip::tcp;

TempDir::TempDir() {
  std::random_device rd;
  path_ = fs::temp_directory_path() / ("iotstream-test-" + std::to_string(getpid()) + "-" + std::to_string(rd()));
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

namespace {

fs::path EnvOr(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? fs::path(value) : fs::path(fallback).lexically_normal();
}

}  // namespace

fs::path FacesDir() { return EnvOr("IOTSTREAM_FACES_DIR", IOTSTREAM_DEFAULT_FACES_DIR); }
fs::path ModelsDir() { return EnvOr("IOTSTREAM_MODELS_DIR", IOTSTREAM_DEFAULT_MODELS_DIR); }

std::string FacesProblem() {
  if (fs::exists(FacesDir() / "MANIFEST.tsv")) return {};
  return "no face photos at " + FacesDir().string() +
         " (no MANIFEST.tsv): set IOTSTREAM_FACES_DIR to the shared face set (test.sh: FACES_DIR), or put it at " +
         fs::path(IOTSTREAM_DEFAULT_FACES_DIR).lexically_normal().string();
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string FaceJpeg(const std::string& relative) {
  const fs::path file = FacesDir() / relative;
  std::string bytes = ReadFile(file);
  if (bytes.empty()) {
    const std::string problem = FacesProblem();
    ADD_FAILURE() << "cannot read " << file << (problem.empty() ? "" : "; " + problem);
  }
  return bytes;
}

struct HttpClient::Impl {
  Impl(std::string h, unsigned short p) : host(std::move(h)), port(p) {}
  std::string host;
  unsigned short port;
  boost::asio::io_context ioc;
  std::optional<beast::tcp_stream> stream;
  bool connected = false;
  beast::flat_buffer buffer;
};

HttpClient::HttpClient(unsigned short port) : impl_(new Impl("127.0.0.1", port)) {}
HttpClient::HttpClient(const std::string& host, unsigned short port) : impl_(new Impl(host, port)) {}
HttpClient::~HttpClient() { delete impl_; }

HttpResult HttpClient::Request(const std::string& method, const std::string& target, const std::string& body,
                               const std::vector<std::pair<std::string, std::string>>& headers) {
  HttpResult out;
  for (int attempt = 0; attempt < 2; ++attempt) {
    beast::error_code ec;
    if (!impl_->connected) {
      impl_->stream.emplace(impl_->ioc);
      impl_->stream->connect(tcp::endpoint(boost::asio::ip::make_address(impl_->host), impl_->port), ec);
      if (ec) return out;
      impl_->connected = true;
      impl_->buffer.clear();
    }
    bhttp::request<bhttp::string_body> req(bhttp::string_to_verb(method), target, 11);
    req.set(bhttp::field::host, impl_->host);
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    if (!body.empty() || method == "POST" || method == "PATCH" || method == "PUT") req.prepare_payload();
    bhttp::write(*impl_->stream, req, ec);
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    if (method == "HEAD") parser.skip(true);
    if (!ec) bhttp::read(*impl_->stream, impl_->buffer, parser, ec);
    if (ec) {
      impl_->connected = false;
      beast::error_code ignored;
      impl_->stream->socket().close(ignored);
      // A keep-alive connection the server closed meanwhile: retry once on a fresh one.
      if (attempt == 0 && (ec == bhttp::error::end_of_stream || ec == boost::asio::error::connection_reset ||
                           ec == boost::asio::error::broken_pipe)) {
        continue;
      }
      return out;
    }
    auto res = parser.release();
    out.status = res.result_int();
    out.body = std::move(res.body());
    for (const auto& f : res) {
      std::string name(f.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers[name] = std::string(f.value());
    }
    if (!res.keep_alive()) {
      impl_->connected = false;
      beast::error_code ignored;
      impl_->stream->socket().close(ignored);
    }
    return out;
  }
  return out;
}

HttpResult HttpClient::PostJpeg(const std::string& target, const std::string& jpeg, const std::string& device_id) {
  return Request("POST", target, jpeg, {{"Content-Type", "image/jpeg"}, {"X-Device-ID", device_id}});
}

struct WsClient::Impl {
  boost::asio::io_context ioc;
  beast::websocket::stream<beast::tcp_stream> ws{ioc};
  beast::flat_buffer buffer;
  bool connected = false;
  int handshake_status = 0;
};

WsClient::WsClient(unsigned short port, const std::string& path, int receive_buffer,
                   const std::vector<std::pair<std::string, std::string>>& headers)
    : WsClient("127.0.0.1", port, path, receive_buffer, headers) {}

WsClient::WsClient(const std::string& host, unsigned short port, const std::string& path, int receive_buffer,
                   const std::vector<std::pair<std::string, std::string>>& headers)
    : impl_(new Impl) {
  beast::error_code ec;
  if (receive_buffer > 0) {
    auto& sock = beast::get_lowest_layer(impl_->ws).socket();
    sock.open(tcp::v4(), ec);
    sock.set_option(boost::asio::socket_base::receive_buffer_size(receive_buffer), ec);
  }
  beast::get_lowest_layer(impl_->ws).connect(tcp::endpoint(boost::asio::ip::make_address(host, ec), port), ec);
  if (ec) return;
  impl_->ws.set_option(beast::websocket::stream_base::decorator([headers](beast::websocket::request_type& req) {
    for (const auto& [k, v] : headers) req.set(k, v);
  }));
  beast::websocket::response_type res;
  impl_->ws.handshake(res, host + ":" + std::to_string(port), path, ec);
  impl_->handshake_status = res.result_int();
  impl_->connected = !ec;
}

WsClient::~WsClient() { delete impl_; }
bool WsClient::connected() const { return impl_->connected; }
int WsClient::handshake_status() const { return impl_->handshake_status; }

WsClient::Message WsClient::Read(std::chrono::milliseconds timeout) {
  Message m;
  if (!impl_->connected) return m;
  bool done = false;
  beast::error_code result;
  impl_->ws.async_read(impl_->buffer, [&](beast::error_code ec, size_t) {
    done = true;
    result = ec;
  });
  impl_->ioc.restart();
  impl_->ioc.run_for(timeout);
  if (!done) {
    // Give up on this read: the connection is no longer usable for ordered reads.
    beast::get_lowest_layer(impl_->ws).close();
    impl_->ioc.restart();
    impl_->ioc.run_for(std::chrono::seconds(1));
    impl_->connected = false;
    return m;
  }
  if (result) {
    impl_->connected = false;
    return m;
  }
  m.ok = true;
  m.binary = impl_->ws.got_binary();
  m.data = beast::buffers_to_string(impl_->buffer.data());
  impl_->buffer.consume(impl_->buffer.size());
  return m;
}

bool WsClient::SendText(const std::string& text) {
  beast::error_code ec;
  impl_->ws.text(true);
  impl_->ws.write(boost::asio::buffer(text), ec);
  return !ec;
}

nlohmann::json NextEvent(WsClient& ws, const std::string& type, std::chrono::milliseconds per_message) {
  while (true) {
    auto m = ws.Read(per_message);
    if (!m.ok) return {};
    if (m.binary) continue;
    nlohmann::json e = nlohmann::json::parse(m.data, nullptr, false);
    if (e.is_object() && e.value("type", "") == type) return e;
  }
}

WsFrame ParseWsFrame(const std::string& m) {
  WsFrame f;
  if (m.size() < 20) return f;
  auto u = [&](size_t at, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(m[at + i]);
    return v;
  };
  const size_t header = u(0, 2);
  const size_t id_len = static_cast<unsigned char>(m[3]);
  if (m[2] != 1 || header != 20 + id_len || m.size() < header) return f;
  f.frame_id = u(4, 8);
  f.capture_ts_ms = static_cast<int64_t>(u(12, 8));
  f.device_id = m.substr(20, id_len);
  f.jpeg = m.substr(header);
  f.ok = true;
  return f;
}

std::string MultipartBody(const std::string& boundary, const std::vector<FormField>& fields) {
  std::string body;
  for (const auto& f : fields) {
    body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + f.name + "\"";
    if (!f.filename.empty()) body += "; filename=\"" + f.filename + "\"";
    body += "\r\n";
    if (!f.content_type.empty()) body += "Content-Type: " + f.content_type + "\r\n";
    body += "\r\n" + f.value + "\r\n";
  }
  body += "--" + boundary + "--\r\n";
  return body;
}

ServerProcess::ServerProcess(const fs::path& data_dir, std::vector<std::string> args) {
  const char* bin = std::getenv("IOTSTREAM_BIN");
  if (bin == nullptr) {
    ADD_FAILURE() << "IOTSTREAM_BIN is not set";
    return;
  }
  std::vector<std::string> argv_s{bin, "--port", "0", "--recognition-port", "0", "--data-dir", data_dir.string()};
  // 127.0.0.1 unless the test binds another address itself (a cluster's nodes on 127.0.0.2, 127.0.0.3, ...).
  const auto bind = std::find(args.begin(), args.end(), "--bind");
  if (bind != args.end() && bind + 1 != args.end()) host_ = *(bind + 1);
  if (bind == args.end()) argv_s.insert(argv_s.end(), {"--bind", host_});
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  // The suites test the API, not access control: open (--auth off) unless a test asks for --auth itself.
  const bool auth_given = std::any_of(args.begin(), args.end(), [](const std::string& a) {
    return a == "--auth" || a.rfind("--auth=", 0) == 0;
  });
  if (!auth_given) argv_s.insert(argv_s.end(), {"--auth", "off"});
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);

  fs::create_directories(data_dir);
  log_path_ = data_dir.parent_path() / (data_dir.filename().string() + ".log");
  int out_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe failed";
    return;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  const int rc = posix_spawn(&pid_, bin, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  if (rc != 0) {
    close(out_pipe[0]);
    pid_ = -1;
    ADD_FAILURE() << "cannot start " << bin;
    return;
  }
  // Read stdout until "ready\n" (at most 30 s), taking the ports from the "listening on" lines before it.
  std::string seen;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  auto port_after = [&seen](const std::string& prefix) -> unsigned short {
    const size_t at = seen.find("\n" + prefix);
    if (at == std::string::npos) return 0;
    const size_t nl = seen.find('\n', at + 1);
    const std::string line = seen.substr(at + 1, nl - at - 1);
    return static_cast<unsigned short>(std::stoi(line.substr(line.rfind(':') + 1)));
  };
  seen = "\n";
  while (std::chrono::steady_clock::now() < deadline && seen.find("\nready\n") == std::string::npos) {
    pollfd pfd{out_pipe[0], POLLIN, 0};
    if (poll(&pfd, 1, 100) <= 0) continue;
    char buf[256];
    const ssize_t n = read(out_pipe[0], buf, sizeof buf);
    if (n <= 0) break;
    seen.append(buf, static_cast<size_t>(n));
  }
  if (seen.find("\nready\n") != std::string::npos) {
    port_ = port_after("listening on ");
    recognition_port_ = port_after("recognition listening on ");
  }
  close(out_pipe[0]);
  stdout_ = seen.substr(1);
  if (port_ == 0) ADD_FAILURE() << "iotstream did not start; its log:\n" << Log();
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) Stop(SIGKILL);
}

int ServerProcess::Stop(int sig) {
  if (pid_ <= 0) return -1;
  kill(pid_, sig);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

std::string ServerProcess::Log() const { return ReadFile(log_path_); }

unsigned short FreePort(const std::string& host) {
  boost::asio::io_context ioc;
  tcp::acceptor acceptor(ioc, tcp::endpoint(boost::asio::ip::make_address(host), 0));
  return acceptor.local_endpoint().port();
}

}  // namespace iotstream::testing
