// Access control on the real binary (--auth on): every route class with no credential, a wrong one and each role;
// ?token= on MJPEG and WebSocket; cookies and Origin; the first-start admin; the CLI; rate limiting.
#include <cstdio>
#include <cstdlib>
#include <regex>

#include <sys/wait.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include "support/server_test.h"

namespace iotstream::testing {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

// `iotstream <args>`; its stdout (stderr dropped).
std::string RunCli(const std::string& args) {
  const std::string command = std::string(std::getenv("IOTSTREAM_BIN")) + " " + args + " 2>/dev/null";
  FILE* out = popen(command.c_str(), "r");
  if (out == nullptr) return {};
  std::string text;
  char buf[256];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, out)) > 0) text.append(buf, n);
  pclose(out);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

// The status line and headers of GET `target` on a raw connection (MJPEG never ends, so read only the head).
std::string RawHead(unsigned short port, const std::string& target) {
  namespace asio = boost::asio;
  asio::io_context ioc;
  asio::ip::tcp::socket sock(ioc);
  boost::system::error_code ec;
  sock.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
  if (ec) return {};
  const std::string req = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  asio::write(sock, asio::buffer(req), ec);
  asio::streambuf buf;
  const size_t n = asio::read_until(sock, buf, "\r\n\r\n", ec);
  if (ec) return {};
  return std::string(asio::buffers_begin(buf.data()), asio::buffers_begin(buf.data()) + static_cast<long>(n));
}

class AuthTest : public ServerTest {
 protected:
  // Tokens for each role, made with the CLI before the server starts.
  void MakeTokens() {
    const std::string dir = " --data-dir " + data().string();
    admin_ = RunCli("token create --name a --role admin" + dir);
    viewer_ = RunCli("token create --name v --role viewer" + dir);
    camera_ = RunCli("token create --name c --role camera" + dir);
    ASSERT_EQ(admin_.rfind("iot_", 0), 0u) << admin_;
    ASSERT_EQ(viewer_.rfind("iot_", 0), 0u) << viewer_;
    ASSERT_EQ(camera_.rfind("iot_", 0), 0u) << camera_;
  }
  ServerProcess StartAuth(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"--auth", "on", "--recognition=false"};
    args.insert(args.end(), extra.begin(), extra.end());
    return Start(args);
  }
  static Headers Bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }
  // The session cookie ("iotstream_session=...") from logging in; empty on failure.
  static std::string Login(HttpClient& http, const std::string& user, const std::string& password) {
    auto r = http.Request("POST", "/api/v1/auth/login",
                          nlohmann::json{{"username", user}, {"password", password}}.dump());
    if (r.status != 200) return {};
    const std::string cookie = r.headers["set-cookie"];
    EXPECT_NE(cookie.find("HttpOnly"), std::string::npos) << cookie;
    EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos) << cookie;
    return cookie.substr(0, cookie.find(';'));
  }
  std::string admin_, viewer_, camera_;
};

struct Case {
  const char* cls;
  const char* method;
  const char* target;
  const char* body;
  bool viewer, camera;  // which roles may (admin always may)
};

TEST_F(AuthTest, EveryRouteClassRefusesNoAndWrongCredentialsAndEachRoleGetsItsDue) {
  MakeTokens();
  ServerProcess server = StartAuth({"--camera-auth", "--auth-max-failures", "1000"});
  ASSERT_NE(server.port(), 0);
  HttpClient http(server.port());
  // A device with a frame, for the live and footage routes.
  Headers upload = Bearer(camera_);
  upload.emplace_back("X-Device-ID", "cam1");
  ASSERT_EQ(http.Request("POST", "/api/v1/stream/fast", obama_, upload).status, 200);

  const std::vector<Case> cases{
      {"ingest", "POST", "/api/v1/stream/fast", nullptr, false, true},
      {"live", "GET", "/api/v1/devices/cam1/snapshot.jpg", "", true, false},
      {"live", "GET", "/api/v1/live/viewers", "", true, false},
      {"footage", "GET", "/api/v1/devices/cam1/frames", "", true, false},
      {"events", "GET", "/api/v1/events", "", true, false},
      {"devices", "GET", "/api/v1/devices", "", true, false},
      {"devices", "PATCH", "/api/v1/devices/cam1", R"({"name":"Door"})", false, false},
      {"recognition", "GET", "/api/v1/recognition/permitted-faces", "", true, false},
      {"enrolment", "DELETE", "/api/v1/recognition/permitted-faces/12345", "", false, false},
      {"enrolment", "POST", "/api/v1/recognition/add-permitted-face?name=x", nullptr, false, false},
      {"admin", "GET", "/api/v1/auth/users", "", false, false},
      {"admin", "GET", "/api/v1/webhooks", "", false, false},
      {"admin", "GET", "/api/v1/audit", "", false, false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.cls) + " " + c.method + " " + c.target);
    const std::string body = c.body != nullptr ? c.body : obama_;
    auto as = [&](const std::string& token) {
      Headers h = token.empty() ? Headers{} : Bearer(token);
      h.emplace_back("X-Device-ID", "cam1");
      return http.Request(c.method, c.target, body, h);
    };
    auto none = as("");
    EXPECT_EQ(none.status, 401) << none.body;
    EXPECT_NE(none.body.find("\"error\""), std::string::npos);
    EXPECT_EQ(as("iot_wrong").status, 401);
    EXPECT_EQ(as(admin_ + "x").status, 401);
    // Allowed means the route ran: its own answer (2xx, or 404/503 for a missing person or recognition off).
    auto allowed = [](int status) { return status != 401 && status != 403 && status != 0 && status != 500; };
    auto a = as(admin_);
    EXPECT_TRUE(allowed(a.status)) << "admin: " << a.status << ' ' << a.body;
    auto v = as(viewer_);
    EXPECT_EQ(allowed(v.status), c.viewer) << "viewer: " << v.status << ' ' << v.body;
    if (!c.viewer) {
      EXPECT_EQ(v.status, 403);
    }
    auto k = as(camera_);
    EXPECT_EQ(allowed(k.status), c.camera) << "camera: " << k.status << ' ' << k.body;
    if (!c.camera) {
      EXPECT_EQ(k.status, 403);
    }
  }

  // Metrics (/metrics, /api/v1/system/performance): open on loopback (a remote scrape needs a viewer token: see
  // tests/api/access_test.cpp); a wrong credential is still refused, a camera token is not a viewer.
  EXPECT_EQ(http.Get("/metrics").status, 200);
  EXPECT_EQ(http.Get("/api/v1/system/performance").status, 200);
  EXPECT_EQ(http.Request("GET", "/api/v1/system/performance", "", Bearer(camera_)).status, 403);
  EXPECT_EQ(http.Request("GET", "/metrics", "", Bearer(viewer_)).status, 200);
  EXPECT_EQ(http.Request("GET", "/metrics", "", Bearer("iot_wrong")).status, 401);
  EXPECT_EQ(http.Request("GET", "/metrics", "", Bearer(camera_)).status, 403);
  // X-API-Key works as well as Bearer; /health stays open.
  EXPECT_EQ(http.Request("GET", "/api/v1/devices", "", {{"X-API-Key", viewer_}}).status, 200);
  EXPECT_EQ(http.Get("/health").status, 200);

  // Counted by route class.
  const std::string metrics = http.Get("/metrics").body;
  for (const char* cls :
       {"ingest", "live", "footage", "events", "devices", "recognition", "enrolment", "admin", "metrics"}) {
    EXPECT_TRUE(std::regex_search(metrics, std::regex(std::string("auth_unauthorized_total\\{class=\"") + cls + "\"\\} [1-9]")))
        << cls;
    EXPECT_TRUE(std::regex_search(metrics, std::regex(std::string("auth_forbidden_total\\{class=\"") + cls + "\"\\} [1-9]"))) << cls;
  }

  // The recognition port follows the same rules.
  ASSERT_NE(server.recognition_port(), 0);
  HttpClient recognition(server.recognition_port());
  EXPECT_EQ(recognition.Get("/api/v1/recognition/permitted-faces").status, 401);
  EXPECT_EQ(recognition.Request("GET", "/api/v1/recognition/permitted-faces", "", Bearer(viewer_)).status, 200);
  EXPECT_EQ(recognition.Request("DELETE", "/api/v1/recognition/permitted-faces/1", "", Bearer(viewer_)).status, 403);
  EXPECT_EQ(recognition.Get("/health").status, 200);
}

TEST_F(AuthTest, CameraIngestStaysOpenWithoutCameraAuth) {
  ServerProcess server = StartAuth();
  HttpClient http(server.port());
  EXPECT_EQ(http.PostJpeg("/api/v1/stream/fast", obama_, "cam1").status, 200);
  EXPECT_EQ(http.Get("/api/v1/devices").status, 401);
}

TEST_F(AuthTest, ABoundCameraTokenUploadsOnlyForItsDevice) {
  const std::string door =
      RunCli("token create --name door --role camera --device door --data-dir " + data().string());
  ASSERT_EQ(door.rfind("iot_", 0), 0u) << door;
  EXPECT_NE(RunCli("token list --data-dir " + data().string()).find("door\tcamera\tdoor"), std::string::npos);
  ServerProcess server = StartAuth({"--camera-auth"});
  HttpClient http(server.port());
  EXPECT_EQ(http.Request("POST", "/api/v1/stream/fast", obama_, {{"X-API-Key", door}, {"X-Device-ID", "door"}}).status,
            200);
  auto other = http.Request("POST", "/api/v1/stream/fast", obama_, {{"X-API-Key", door}, {"X-Device-ID", "garage"}});
  EXPECT_EQ(other.status, 403) << other.body;
  EXPECT_EQ(http.PostJpeg("/api/v1/stream/fast", obama_, "door").status, 401);
}

TEST_F(AuthTest, LiveViewTakesTheTokenInTheQueryForMjpegSnapshotsAndWebSockets) {
  MakeTokens();
  ServerProcess server = StartAuth();
  HttpClient http(server.port());
  ASSERT_EQ(http.PostJpeg("/api/v1/stream/fast", obama_, "cam1").status, 200);

  EXPECT_EQ(http.Get("/api/v1/devices/cam1/snapshot.jpg?token=" + viewer_).status, 200);
  EXPECT_EQ(http.Get("/api/v1/devices/cam1/snapshot.jpg?token=iot_wrong").status, 401);
  EXPECT_TRUE(WaitFor([&] { return server.Log().find("snapshot.jpg?token=...") != std::string::npos; }));
  EXPECT_EQ(server.Log().find("iot_wrong"), std::string::npos) << "a query token must not reach the log";
  // Not on other routes, where a token would end up in logs and browser history for nothing.
  EXPECT_EQ(http.Get("/api/v1/devices?token=" + viewer_).status, 401);

  const std::string mjpeg = RawHead(server.port(), "/api/v1/devices/cam1/mjpeg?token=" + viewer_);
  EXPECT_EQ(mjpeg.rfind("HTTP/1.1 200", 0), 0u) << mjpeg;
  EXPECT_NE(mjpeg.find("multipart/x-mixed-replace"), std::string::npos) << mjpeg;
  EXPECT_EQ(RawHead(server.port(), "/api/v1/devices/cam1/mjpeg").rfind("HTTP/1.1 401", 0), 0u);

  WsClient ok(server.port(), "/ws?token=" + viewer_);
  EXPECT_TRUE(ok.connected());
  EXPECT_FALSE(NextEvent(ok, "hello").is_null());
  WsClient none(server.port(), "/ws");
  EXPECT_FALSE(none.connected());
  EXPECT_EQ(none.handshake_status(), 401);
  WsClient camera(server.port(), "/ws?token=" + camera_);
  EXPECT_EQ(camera.handshake_status(), 403);
}

TEST_F(AuthTest, AnAllowedOriginsPagesMayReadAnswersAndSendTheCookieOthersGetNoCorsHeaders) {
  MakeTokens();
  const std::string ha = "http://ha.example:8123";
  ServerProcess server = StartAuth({"--allowed-origin", ha});
  ASSERT_NE(server.port(), 0);
  HttpClient http(server.port());
  const std::string host = "127.0.0.1:" + std::to_string(server.port());

  // A read from the allowed origin carries the headers that let its page see the answer; a foreign one's does not.
  Headers from_ha = Bearer(viewer_);
  from_ha.emplace_back("Origin", ha);
  auto read = http.Request("GET", "/api/v1/devices", "", from_ha);
  EXPECT_EQ(read.status, 200);
  EXPECT_EQ(read.headers["access-control-allow-origin"], ha);
  EXPECT_EQ(read.headers["access-control-allow-credentials"], "true");
  EXPECT_EQ(read.headers["vary"], "Origin");
  Headers from_evil = Bearer(viewer_);
  from_evil.emplace_back("Origin", "http://evil.example");
  auto foreign = http.Request("GET", "/api/v1/devices", "", from_evil);
  EXPECT_EQ(foreign.status, 200);
  EXPECT_EQ(foreign.headers.count("access-control-allow-origin"), 0u);
  // A refusal is readable by the allowed page too, so it can tell the user why.
  auto refused = http.Request("GET", "/api/v1/devices", "", {{"Origin", ha}});
  EXPECT_EQ(refused.status, 401);
  EXPECT_EQ(refused.headers["access-control-allow-origin"], ha);

  // Preflights need no credential: answered for the allowed origin, 403 JSON for another, 405 for a method the
  // path does not serve.
  auto preflight = http.Request("OPTIONS", "/api/v1/devices/cam1", "",
                                {{"Origin", ha}, {"Access-Control-Request-Method", "PATCH"},
                                 {"Access-Control-Request-Headers", "content-type"}});
  EXPECT_EQ(preflight.status, 204);
  EXPECT_EQ(preflight.headers["access-control-allow-origin"], ha);
  EXPECT_EQ(preflight.headers["access-control-allow-methods"], "PATCH");
  EXPECT_EQ(preflight.headers["access-control-allow-headers"], "content-type");
  auto evil = http.Request("OPTIONS", "/api/v1/devices/cam1", "",
                           {{"Origin", "http://evil.example"}, {"Access-Control-Request-Method", "PATCH"}});
  EXPECT_EQ(evil.status, 403);
  EXPECT_EQ(nlohmann::json::parse(evil.body, nullptr, false).contains("error"), true) << evil.body;
  EXPECT_EQ(evil.headers.count("access-control-allow-origin"), 0u);
  EXPECT_EQ(http.Request("OPTIONS", "/api/v1/devices/cam1", "",
                         {{"Origin", ha}, {"Access-Control-Request-Method", "PUT"}})
                .status,
            405);

  // With the admin's cookie, the allowed origin may change things; a foreign origin may not.
  const std::string password = [&] {
    std::smatch m;
    const std::string out = server.Stdout();
    return std::regex_search(out, m, std::regex("user 'admin' with password (\\S+) ")) ? m[1].str() : std::string();
  }();
  const std::string cookie = Login(http, "admin", password);
  ASSERT_FALSE(cookie.empty());
  ASSERT_EQ(http.PostJpeg("/api/v1/stream/fast", obama_, "cam1").status, 200);
  auto change = http.Request("PATCH", "/api/v1/devices/cam1", R"({"name":"Door"})",
                             {{"Cookie", cookie}, {"Host", host}, {"Origin", ha}});
  EXPECT_EQ(change.status, 200) << change.body;
  EXPECT_EQ(change.headers["access-control-allow-origin"], ha);
  EXPECT_EQ(http.Request("PATCH", "/api/v1/devices/cam1", R"({"name":"Gate"})",
                         {{"Cookie", cookie}, {"Host", host}, {"Origin", "http://evil.example"}})
                .status,
            403);
}

TEST_F(AuthTest, WithoutAllowedOriginsNoAnswerCarriesCorsHeaders) {
  MakeTokens();
  ServerProcess server = StartAuth();
  ASSERT_NE(server.port(), 0);
  HttpClient http(server.port());
  Headers h = Bearer(viewer_);
  h.emplace_back("Origin", "http://ha.example:8123");
  auto read = http.Request("GET", "/api/v1/devices", "", h);
  EXPECT_EQ(read.status, 200);
  EXPECT_EQ(read.headers.count("access-control-allow-origin"), 0u);
  EXPECT_EQ(read.headers.count("vary"), 0u);
  EXPECT_EQ(http.Request("OPTIONS", "/api/v1/devices", "",
                         {{"Origin", "http://ha.example:8123"}, {"Access-Control-Request-Method", "GET"}})
                .status,
            403);
  // An origin with a path could never match an Origin header: a configuration error, exit status 2.
  const std::string command = std::string(std::getenv("IOTSTREAM_BIN")) + " --allowed-origin https://ha.example/x 2>&1";
  FILE* out = popen(command.c_str(), "r");
  ASSERT_NE(out, nullptr);
  std::string said;
  char buf[256];
  while (size_t n = fread(buf, 1, sizeof buf, out)) said.append(buf, n);
  const int status = pclose(out);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << status;
  EXPECT_NE(said.find("--allowed-origin"), std::string::npos) << said;
}

TEST_F(AuthTest, TheFirstStartAdminPasswordWorksAndCookiesNeedTheirOwnOrigin) {
  ServerProcess server = StartAuth();
  ASSERT_NE(server.port(), 0);
  std::smatch m;
  const std::string out = server.Stdout();
  ASSERT_TRUE(std::regex_search(out, m, std::regex("user 'admin' with password (\\S+) "))) << out;
  const std::string password = m[1];
  EXPECT_EQ(server.Log().find(password), std::string::npos) << "the password must not reach the log";

  HttpClient http(server.port());
  EXPECT_TRUE(Login(http, "admin", password + "x").empty());
  const std::string cookie = Login(http, "admin", password);
  ASSERT_FALSE(cookie.empty());
  ASSERT_EQ(http.PostJpeg("/api/v1/stream/fast", obama_, "cam1").status, 200);

  const std::string host = "127.0.0.1:" + std::to_string(server.port());
  const std::string own = "http://" + host;
  // Reading with the cookie needs no Origin.
  auto me = http.Request("GET", "/api/v1/auth/me", "", {{"Cookie", cookie}});
  EXPECT_EQ(me.status, 200);
  EXPECT_NE(me.body.find("user:admin"), std::string::npos) << me.body;
  // A foreign page's POST with the browser's cookie: refused, before anything is parsed.
  auto evil = http.Request("POST", "/api/v1/recognition/add-permitted-face?name=mallory", obama_,
                           {{"Cookie", cookie}, {"Host", host}, {"Origin", "http://evil.example"}});
  EXPECT_EQ(evil.status, 403) << evil.body;
  EXPECT_EQ(http.Request("PATCH", "/api/v1/devices/cam1", R"({"name":"Door"})",
                         {{"Cookie", cookie}, {"Host", host}, {"Origin", "http://evil.example"}})
                .status,
            403);
  EXPECT_EQ(http.Request("PATCH", "/api/v1/devices/cam1", R"({"name":"Door"})", {{"Cookie", cookie}, {"Host", host}})
                .status,
            403);  // no Origin at all
  EXPECT_EQ(http.Request("PATCH", "/api/v1/devices/cam1", R"({"name":"Door"})",
                         {{"Cookie", cookie}, {"Host", host}, {"Origin", own}})
                .status,
            200);
  // WebSocket: a foreign origin with the cookie is refused, the dashboard's own accepted.
  WsClient foreign(server.port(), "/ws", 0, {{"Cookie", cookie}, {"Origin", "http://evil.example"}});
  EXPECT_EQ(foreign.handshake_status(), 403);
  WsClient same(server.port(), "/ws", 0, {{"Cookie", cookie}, {"Origin", own}});
  EXPECT_TRUE(same.connected());
  EXPECT_TRUE(std::regex_search(http.Get("/metrics").body, std::regex("auth_cross_origin_refused_total [3-9]")));

  // Logout ends the session; the audit log has the login, the failure and the device change.
  EXPECT_EQ(http.Request("POST", "/api/v1/auth/logout", "", {{"Cookie", cookie}, {"Host", host}, {"Origin", own}}).status,
            200);
  EXPECT_EQ(http.Request("GET", "/api/v1/devices", "", {{"Cookie", cookie}}).status, 401);
  const std::string cookie2 = Login(http, "admin", password);
  ASSERT_TRUE(WaitFor([&] {
    auto audit = http.Request("GET", "/api/v1/audit", "", {{"Cookie", cookie2}});
    return audit.status == 200 && audit.body.find("login_failed") != std::string::npos &&
           audit.body.find("\"logout\"") != std::string::npos;
  }));
}

TEST_F(AuthTest, AdminsManageUsersAndTokensOverTheApiAndTheCliWhileTheServerRuns) {
  MakeTokens();
  // Polling with a token the server does not know yet counts as failures: a limit this test does not reach.
  ServerProcess server = StartAuth({"--auth-max-failures", "1000"});
  HttpClient http(server.port());
  const Headers admin = Bearer(admin_);
  auto created = http.Request("POST", "/api/v1/auth/users", R"({"name":"alice","password":"correct horse","role":"viewer"})",
                              admin);
  EXPECT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(http.Request("POST", "/api/v1/auth/users", R"({"name":"bob","password":"x","role":"viewer"})", admin).status,
            400);
  const std::string alice = Login(http, "alice", "correct horse");
  ASSERT_FALSE(alice.empty());
  EXPECT_EQ(http.Request("GET", "/api/v1/devices", "", {{"Cookie", alice}}).status, 200);
  EXPECT_EQ(http.Request("GET", "/api/v1/auth/users", "", {{"Cookie", alice}}).status, 403);

  auto token = http.Request("POST", "/api/v1/auth/tokens", R"({"name":"ha","role":"viewer"})", admin);
  ASSERT_EQ(token.status, 201) << token.body;
  const std::string ha = nlohmann::json::parse(token.body)["token"];
  EXPECT_EQ(http.Request("GET", "/api/v1/devices", "", Bearer(ha)).status, 200);
  auto list = http.Request("GET", "/api/v1/auth/tokens", "", admin);
  EXPECT_EQ(list.body.find(ha), std::string::npos) << "a token is never shown again";
  EXPECT_EQ(http.Request("DELETE", "/api/v1/auth/tokens/ha", "", admin).status, 200);
  EXPECT_EQ(http.Request("GET", "/api/v1/devices", "", Bearer(ha)).status, 401);

  // The CLI on the same data folder: the running server sees a new token, and a revocation, within a second or so.
  const std::string cli = RunCli("token create --name phone --role viewer --data-dir " + data().string());
  ASSERT_EQ(cli.rfind("iot_", 0), 0u);
  EXPECT_TRUE(WaitFor([&] { return http.Request("GET", "/api/v1/devices", "", Bearer(cli)).status == 200; }));
  RunCli("token revoke phone --data-dir " + data().string());
  EXPECT_TRUE(WaitFor([&] { return http.Request("GET", "/api/v1/devices", "", Bearer(cli)).status == 401; }));

  EXPECT_EQ(http.Request("DELETE", "/api/v1/auth/users/alice", "", admin).status, 200);
  EXPECT_EQ(http.Request("GET", "/api/v1/devices", "", {{"Cookie", alice}}).status, 401);
  auto audit = http.Request("GET", "/api/v1/audit", "", admin);
  for (const char* action : {"user_add", "token_create", "token_revoke", "user_remove", "login"}) {
    EXPECT_NE(audit.body.find(std::string("\"") + action + "\""), std::string::npos) << action << ": " << audit.body;
  }
}

TEST_F(AuthTest, RepeatedFailuresFromOneAddressGet429WithRetryAfter) {
  MakeTokens();
  ServerProcess server = StartAuth({"--auth-max-failures", "3"});
  HttpClient http(server.port());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(http.Request("GET", "/api/v1/devices", "", Bearer("iot_wrong")).status, 401);
  auto limited = http.Request("GET", "/api/v1/devices", "", Bearer(viewer_));
  EXPECT_EQ(limited.status, 429) << limited.body;
  EXPECT_FALSE(limited.headers["retry-after"].empty());
  auto login = http.Request("POST", "/api/v1/auth/login", R"({"username":"admin","password":"whatever1"})");
  EXPECT_EQ(login.status, 429);
  // Camera ingest is not held up by it.
  EXPECT_EQ(http.PostJpeg("/api/v1/stream/fast", obama_, "cam1").status, 200);
  EXPECT_TRUE(std::regex_search(http.Get("/metrics").body, std::regex("auth_rate_limited_total [1-9]")));
}

}  // namespace
}  // namespace iotstream::testing
