// HTTPS and WSS on the real binary (--tls-cert/--tls-key with a test CA made by the openssl tool, and
// --tls-self-signed): curl and Node (https, ws) trusting only that CA reach /health, the API with a token, camera
// ingest, WebSocket and MJPEG on the same ports; plain HTTP gets a clean 400; a silent client is closed after the
// handshake timeout; the self-signed certificate is kept across restarts; bad files stop the start with exit 2.
#include <sys/stat.h>
#include <sys/wait.h>

#include <boost/asio/ip/tcp.hpp>
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

#include "support/server_test.h"
#include "support/test_ca.h"

namespace iotstream::testing {
namespace {

namespace fs = std::filesystem;

// The quoted form of `s` for /bin/sh.
std::string Quote(const std::string& s) { return "'" + s + "'"; }

class TlsTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    certs_ = MakeTestCertificates(dir_.path());
  }
  std::vector<std::string> TlsArgs() const { return {"--tls-cert", certs_.cert_file, "--tls-key", certs_.key_file}; }

  // curl against 127.0.0.1:`port` with `args`, trusting `ca`: "<status> <body>" (status 0: no HTTP answer).
  static std::string Curl(unsigned short port, const std::string& ca, const std::string& path,
                          const std::string& args = "", const std::string& scheme = "https") {
    const CommandResult r = RunCommand("curl -s --max-time 20 --cacert " + Quote(ca) + " -o /dev/stderr " + args +
                                       " -w '%{http_code}' " + Quote(scheme + "://127.0.0.1:" + std::to_string(port) +
                                                                     path) +
                                       " 2>&1");
    // The body went to stderr, which comes first; the status is the last three characters.
    if (r.out.size() < 3) return "0 " + r.out;
    return r.out.substr(r.out.size() - 3) + " " + r.out.substr(0, r.out.size() - 3);
  }
  std::string Token(const std::string& role) const {
    std::string token = RunCommand(std::string(std::getenv("IOTSTREAM_BIN")) + " token create --name " + role +
                                   " --role " + role + " --data-dir " + Quote(data().string()) + " 2>/dev/null")
                            .out;
    return token.substr(0, token.find_first_of("\r\n"));
  }
  static std::string Metric(unsigned short port, const std::string& ca, const std::string& series) {
    const std::string text = Curl(port, ca, "/metrics");
    const size_t at = text.find("\n" + series + " ");
    return at == std::string::npos ? "" : text.substr(at + series.size() + 2, text.find('\n', at + 1) - at - series.size() - 2);
  }

  TestCertificates certs_;
};

TEST_F(TlsTest, HttpsServesHealthTheApiIngestWebSocketAndMjpegOnTheSamePorts) {
  const std::string viewer = Token("viewer");
  ASSERT_EQ(viewer.rfind("iot_", 0), 0u) << viewer;
  std::vector<std::string> args{"--auth", "on", "--recognition=false"};
  for (const auto& a : TlsArgs()) args.push_back(a);
  ServerProcess server = Start(args);
  ASSERT_NE(server.port(), 0);
  EXPECT_NE(server.Stdout().find("tls: certificate SHA-256 fingerprint "), std::string::npos) << server.Stdout();

  EXPECT_EQ(Curl(server.port(), certs_.ca_file, "/health").substr(0, 4), "200 ");
  EXPECT_EQ(Curl(server.recognition_port(), certs_.ca_file, "/health").substr(0, 4), "200 ");
  // Not without the CA: the certificate is checked, so the CA above is what made it pass.
  EXPECT_EQ(RunCommand("curl -s --max-time 20 -o /dev/null https://127.0.0.1:" + std::to_string(server.port()) +
                       "/health")
                .status,
            60);  // curl: peer certificate cannot be authenticated with known CA certificates
  // Access control works as over HTTP.
  EXPECT_EQ(Curl(server.port(), certs_.ca_file, "/api/v1/devices").substr(0, 4), "401 ");
  EXPECT_EQ(Curl(server.port(), certs_.ca_file, "/api/v1/devices", "-H " + Quote("Authorization: Bearer " + viewer))
                .substr(0, 4),
            "200 ");
  const std::string frame = FacesDir() / kObama;
  EXPECT_EQ(Curl(server.port(), certs_.ca_file, "/api/v1/stream/fast",
                 "-H 'Content-Type: image/jpeg' -H 'X-Device-ID: cam1' --data-binary @" + Quote(frame))
                .substr(0, 4),
            "200 ");

  // The first-start admin logs in over HTTPS: the session cookie is Secure.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(server.Stdout(), m, std::regex("created user 'admin' with password (\\S+)")));
  const std::string login = RunCommand(
      "curl -s --max-time 20 -D - -o /dev/null --cacert " + Quote(certs_.ca_file) + " -H 'Content-Type: application/json' "
      "--data " + Quote(nlohmann::json{{"username", "admin"}, {"password", m[1].str()}}.dump()) +
      " https://127.0.0.1:" + std::to_string(server.port()) + "/api/v1/auth/login").out;
  EXPECT_NE(login.find(" 200"), std::string::npos) << login;
  EXPECT_TRUE(std::regex_search(login, std::regex("[Ss]et-[Cc]ookie: iotstream_session=[^\r\n]*; Secure;"))) << login;

  // WSS (/ws and /ws/devices/{id}) and MJPEG over HTTPS, from Node trusting the test CA.
  const CommandResult node = RunCommand("node " + Quote(std::string(IOTSTREAM_SOURCE_DIR) +
                                                        "/tests/integration/tls_client.mjs") +
                                        " " + std::to_string(server.port()) + " " + Quote(certs_.ca_file) + " " +
                                        viewer + " " + Quote(frame) + " 2>&1");
  ASSERT_EQ(node.status, 0) << node.out;
  const nlohmann::json seen = nlohmann::json::parse(node.out);
  EXPECT_EQ(seen["hello"], true);
  EXPECT_EQ(seen["upload_status"], 200);
  EXPECT_EQ(seen["event"], "device_added");
  EXPECT_EQ(seen["ws_frame"], true);
  EXPECT_EQ(seen["device_frame"], true);
  EXPECT_EQ(seen["mjpeg"]["status"], 200);
  EXPECT_EQ(seen["mjpeg"]["type"], "multipart/x-mixed-replace; boundary=iotstreamframe");
}

TEST_F(TlsTest, PlainHttpOnTheTlsPortGetsAClean400AndIsCounted) {
  ServerProcess server = Start(TlsArgs());
  ASSERT_NE(server.port(), 0);
  const std::string plain = Curl(server.port(), certs_.ca_file, "/health", "", "http");
  EXPECT_EQ(plain.substr(0, 4), "400 ") << plain;
  const nlohmann::json body = nlohmann::json::parse(plain.substr(4), nullptr, false);
  ASSERT_TRUE(body.is_object()) << plain;
  EXPECT_NE(body["error"].get<std::string>().find("use https://"), std::string::npos) << plain;
  EXPECT_EQ(Metric(server.port(), certs_.ca_file, "main_tls_refused_total{reason=\"plain_http\"}"), "1");
}

TEST_F(TlsTest, AClientThatNeverSaysHelloIsClosedAfterTheHandshakeTimeout) {
  std::vector<std::string> args = TlsArgs();
  args.insert(args.end(), {"--tls-handshake-timeout-ms", "300"});
  ServerProcess server = Start(args);
  ASSERT_NE(server.port(), 0);
  namespace asio = boost::asio;
  asio::io_context ioc;
  asio::ip::tcp::socket sock(ioc);
  sock.connect({asio::ip::make_address("127.0.0.1"), server.port()});
  // A bound for a broken server (the read would block for ever); the server closes long before.
  const timeval bound{20, 0};
  setsockopt(sock.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof bound);
  char c;
  boost::system::error_code ec;
  sock.read_some(asio::buffer(&c, 1), ec);
  EXPECT_EQ(ec, asio::error::eof) << ec.message();
  EXPECT_EQ(Metric(server.port(), certs_.ca_file, "main_tls_refused_total{reason=\"handshake_timeout\"}"), "1");
}

TEST_F(TlsTest, TheSelfSignedCertificateIsMadeOnceKeptAndTrustedAsItsOwnCa) {
  const std::regex fingerprint("tls: certificate SHA-256 fingerprint ([0-9A-F:]{95})\n");
  std::string first;
  {
    ServerProcess server = Start({"--tls-self-signed"});
    ASSERT_NE(server.port(), 0);
    EXPECT_NE(server.Stdout().find("tls: made a self-signed certificate " + (data() / "tls-cert.pem").string()),
              std::string::npos)
        << server.Stdout();
    std::smatch m;
    ASSERT_TRUE(std::regex_search(server.Stdout(), m, fingerprint)) << server.Stdout();
    first = m[1];
    EXPECT_EQ(fs::status(data() / "tls-key.pem").permissions() & fs::perms::all,
              fs::perms::owner_read | fs::perms::owner_write);
    EXPECT_EQ(Curl(server.port(), (data() / "tls-cert.pem").string(), "/health").substr(0, 4), "200 ");
    EXPECT_EQ(server.Stop(SIGTERM), 0);
  }
  // What openssl says of the file is what was printed.
  const CommandResult openssl = RunCommand("openssl x509 -noout -fingerprint -sha256 -in " +
                                           Quote((data() / "tls-cert.pem").string()));
  EXPECT_NE(openssl.out.find("=" + first), std::string::npos) << openssl.out;

  ServerProcess again = Start({"--tls-self-signed"});
  ASSERT_NE(again.port(), 0);
  EXPECT_NE(again.Stdout().find("tls: reusing the self-signed certificate"), std::string::npos) << again.Stdout();
  std::smatch m;
  ASSERT_TRUE(std::regex_search(again.Stdout(), m, fingerprint)) << again.Stdout();
  EXPECT_EQ(m[1], first);
  EXPECT_EQ(Curl(again.port(), (data() / "tls-cert.pem").string(), "/health").substr(0, 4), "200 ");
}

TEST_F(TlsTest, BadCertificateOrKeyFilesStopTheStartWithExitCode2AndSayWhy) {
  const std::string bin = std::getenv("IOTSTREAM_BIN");
  const std::string common = " --port 0 --recognition-port 0 --bind 127.0.0.1 --recognition=false --data-dir " +
                             Quote(data().string());
  auto run = [&](const std::string& args) {
    return RunCommand(Quote(bin) + common + " " + args + " 2>&1");
  };
  const CommandResult missing = run("--tls-cert " + Quote((dir_.path() / "nope.pem").string()) + " --tls-key " +
                                    Quote(certs_.key_file));
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.out.find("--tls-cert/--tls-key: certificate file '" + (dir_.path() / "nope.pem").string() +
                             "': No such file or directory"),
            std::string::npos)
      << missing.out;
  const CommandResult wrong_key = run("--tls-cert " + Quote(certs_.cert_file) + " --tls-key " +
                                      Quote(certs_.ca_key_file));
  EXPECT_EQ(wrong_key.status, 2);
  EXPECT_NE(wrong_key.out.find("not the key of"), std::string::npos) << wrong_key.out;
  const CommandResult alone = run("--tls-cert " + Quote(certs_.cert_file));
  EXPECT_EQ(alone.status, 2);
  EXPECT_NE(alone.out.find("--tls-cert and --tls-key go together"), std::string::npos) << alone.out;
  EXPECT_FALSE(fs::exists(data() / "auth.db")) << "nothing starts before the configuration is whole";
}

}  // namespace
}  // namespace iotstream::testing
