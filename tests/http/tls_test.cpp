// HTTPS in the HTTP server on a real loopback socket (certificates from a test CA made with the openssl tool):
// requests over TLS, plain HTTP refused with 400, silent clients closed after the handshake timeout, old
// protocol versions refused; TlsContext::Load's errors; the self-signed certificate made, kept and replaced.
#include <sys/stat.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <filesystem>
#include <fstream>

#include "http/http.h"
#include "support/test_ca.h"
#include "support/test_support.h"

namespace iotstream::http {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace fs = std::filesystem;
using iotstream::testing::MakeTestCertificates;
using iotstream::testing::ReadFile;
using iotstream::testing::TempDir;
using iotstream::testing::TestCertificates;
using iotstream::testing::WaitFor;
using tcp = asio::ip::tcp;

// What a TLS client got: whether its handshake succeeded, and everything it read until the server closed.
struct TlsExchange {
  bool handshake_ok = false;
  std::string response;
};

class TlsServerTest : public ::testing::Test {
 protected:
  void SetUp() override { certs_ = MakeTestCertificates(dir_.path()); }

  void StartServer(std::chrono::milliseconds handshake_timeout = std::chrono::seconds(10)) {
    auto tls = TlsContext::Load(certs_.cert_file, certs_.key_file);
    ASSERT_TRUE(tls.ok()) << tls.status().ToString();
    ServerOptions options;
    options.bind_address = "127.0.0.1";
    options.port = 0;
    options.io_threads = 1;
    options.tls = tls.value();
    options.tls_handshake_timeout = handshake_timeout;
    Router router;
    router.Add(Method::kPost, "/echo", [](Request&& r, Responder s) {
      s.Send(Response::Json(200, "\"" + r.body + "\""));
    });
    auto started = Server::Start(options, std::move(router), metrics_);
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    server_ = std::move(started).value();
  }
  void TearDown() override {
    if (server_) server_->Stop(std::chrono::milliseconds(100));
  }

  uint64_t Refused(const std::string& reason) const {
    auto v = metrics_.CounterValue("http_tls_refused_total", {{"reason", reason}});
    return v.ok() ? v.value() : 0;
  }

  // One TLS connection verifying the server against the test CA (and 127.0.0.1), `request` written, the answer
  // read until the server closes. `client_setup` may change the client's context first.
  TlsExchange TlsRequest(const std::string& request, void (*client_setup)(SSL_CTX*) = nullptr) {
    TlsExchange out;
    asio::io_context ioc;
    ssl::context ctx(ssl::context::tls_client);
    ctx.load_verify_file(certs_.ca_file);
    ctx.set_verify_mode(ssl::verify_peer);
    if (client_setup != nullptr) client_setup(ctx.native_handle());
    ssl::stream<tcp::socket> stream(ioc, ctx);
    stream.set_verify_callback(ssl::host_name_verification("127.0.0.1"));
    stream.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
    boost::system::error_code ec;
    stream.handshake(ssl::stream_base::client, ec);
    if (ec) return out;
    out.handshake_ok = true;
    asio::write(stream, asio::buffer(request), ec);
    char buf[4096];
    while (!ec) {
      const size_t n = stream.read_some(asio::buffer(buf), ec);
      out.response.append(buf, n);
    }
    return out;
  }

  // Writes `bytes` (if any) on a plain TCP connection and reads until the server closes it; "<reset>" when it
  // reset the connection instead.
  std::string PlainExchange(const std::string& bytes) {
    asio::io_context ioc;
    tcp::socket sock(ioc);
    sock.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
    if (!bytes.empty()) asio::write(sock, asio::buffer(bytes));
    std::string out;
    boost::system::error_code ec;
    char buf[4096];
    while (!ec) {
      const size_t n = sock.read_some(asio::buffer(buf), ec);
      out.append(buf, n);
    }
    return ec == asio::error::eof ? out : "<" + ec.message() + ">";
  }

  TempDir dir_;
  TestCertificates certs_;
  Metrics metrics_;
  std::unique_ptr<Server> server_;
};

TEST_F(TlsServerTest, RequestsAreServedOverTls) {
  StartServer();
  const TlsExchange r = TlsRequest(
      "POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
  ASSERT_TRUE(r.handshake_ok);
  EXPECT_EQ(r.response.rfind("HTTP/1.1 200", 0), 0u) << r.response;
  EXPECT_NE(r.response.find("\"hello\""), std::string::npos) << r.response;
  EXPECT_EQ(metrics_.CounterValue("http_tls_handshakes_total").value(), 1u);
}

TEST_F(TlsServerTest, PlainHttpGetsAJson400SayingHttpsAndIsCounted) {
  StartServer();
  const std::string r = PlainExchange("GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: test\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 400", 0), 0u) << r;
  EXPECT_NE(r.find("application/json"), std::string::npos) << r;
  EXPECT_NE(r.find("use https://"), std::string::npos) << r;
  EXPECT_EQ(Refused("plain_http"), 1u);
  EXPECT_EQ(metrics_.CounterValue("http_http_responses_4xx_total").value(), 1u);
}

TEST_F(TlsServerTest, AClientThatNeverSaysHelloIsClosedAfterTheHandshakeTimeoutAndCounted) {
  StartServer(std::chrono::milliseconds(200));
  EXPECT_EQ(PlainExchange(""), "");  // closed by the server, nothing sent
  EXPECT_TRUE(WaitFor([&] { return Refused("handshake_timeout") == 1; }));
  EXPECT_TRUE(WaitFor([&] { return server_->open_connections() == 0; }));
}

TEST_F(TlsServerTest, TlsOlderThan12IsRefusedAndCounted) {
  StartServer();
  const TlsExchange r = TlsRequest("GET / HTTP/1.1\r\n\r\n", [](SSL_CTX* c) {
    // OpenSSL 3 itself offers TLS 1.1 only at security level 0.
    SSL_CTX_set_security_level(c, 0);
    SSL_CTX_set_min_proto_version(c, TLS1_VERSION);
    SSL_CTX_set_max_proto_version(c, TLS1_1_VERSION);
  });
  EXPECT_FALSE(r.handshake_ok);
  EXPECT_TRUE(WaitFor([&] { return Refused("handshake_failed") == 1; }));
  EXPECT_EQ(metrics_.CounterValue("http_tls_handshakes_total").value(), 0u);
}

TEST(TlsContextTest, LoadNamesTheFileAndTheReasonOfEachFailure) {
  TempDir dir;
  const TestCertificates certs = MakeTestCertificates(dir.path());
  ASSERT_TRUE(TlsContext::Load(certs.cert_file, certs.key_file).ok());

  auto missing = TlsContext::Load(dir.path() / "nope.pem", certs.key_file);
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(missing.status().IsInvalidArgument());
  EXPECT_NE(missing.status().message().find("nope.pem': No such file"), std::string::npos) << missing.status().message();

  std::ofstream(dir.path() / "garbage.pem") << "not a certificate\n";
  auto garbage = TlsContext::Load(dir.path() / "garbage.pem", certs.key_file);
  ASSERT_FALSE(garbage.ok());
  EXPECT_NE(garbage.status().message().find("garbage.pem': not a PEM certificate"), std::string::npos)
      << garbage.status().message();

  auto wrong_key = TlsContext::Load(certs.cert_file, certs.ca_key_file);
  ASSERT_FALSE(wrong_key.ok());
  EXPECT_NE(wrong_key.status().message().find("not the key of"), std::string::npos) << wrong_key.status().message();
}

using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;
X509Ptr ReadCertificate(const fs::path& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  X509* cert = f != nullptr ? PEM_read_X509(f, nullptr, nullptr, nullptr) : nullptr;
  if (f != nullptr) std::fclose(f);
  return X509Ptr(cert, X509_free);
}

TEST(SelfSignedTest, MadeOnceWithAPrivateKeyAndTheLocalNamesThenReused) {
  TempDir dir;
  const fs::path folder = dir.path() / "data";
  auto made = EnsureSelfSignedCertificate(folder.string(), "camhub.lan");
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  EXPECT_TRUE(made.value().created);
  EXPECT_EQ(made.value().cert_file, (folder / "tls-cert.pem").string());
  EXPECT_EQ(fs::status(made.value().key_file).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  auto first = TlsContext::Load(made.value().cert_file, made.value().key_file);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first.value()->fingerprint().size(), 32u * 3 - 1);

  X509Ptr cert = ReadCertificate(made.value().cert_file);
  ASSERT_TRUE(cert);
  EXPECT_EQ(X509_get_version(cert.get()), X509_VERSION_3);
  EXPECT_EQ(X509_check_host(cert.get(), "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(cert.get(), "camhub.lan", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_host(cert.get(), "example.com", 0, 0, nullptr), 0);
  EVP_PKEY* key = X509_get0_pubkey(cert.get());
  char group[64] = {};
  ASSERT_EQ(EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof group, nullptr), 1);
  EXPECT_STREQ(group, "prime256v1");
  int days = 0, seconds = 0;
  ASSERT_EQ(ASN1_TIME_diff(&days, &seconds, X509_get0_notBefore(cert.get()), X509_get0_notAfter(cert.get())), 1);
  EXPECT_GE(days, 729);
  EXPECT_LE(days, 731);

  auto again = EnsureSelfSignedCertificate(folder.string(), "camhub.lan");
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again.value().created);
  auto second = TlsContext::Load(again.value().cert_file, again.value().key_file);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second.value()->fingerprint(), first.value()->fingerprint());
}

TEST(SelfSignedTest, AnExpiredCertificateIsReplaced) {
  TempDir dir;
  const TestCertificates certs = MakeTestCertificates(dir.path());
  const fs::path folder = dir.path() / "data";
  fs::create_directories(folder);
  // Expired yesterday: the test CA's certificate with its notAfter moved back and signed again.
  X509Ptr old = ReadCertificate(certs.ca_file);
  ASSERT_TRUE(old);
  ASSERT_NE(X509_gmtime_adj(X509_getm_notBefore(old.get()), -2 * 86400), nullptr);
  ASSERT_NE(X509_gmtime_adj(X509_getm_notAfter(old.get()), -86400), nullptr);
  FILE* kf = std::fopen(certs.ca_key_file.c_str(), "r");
  ASSERT_NE(kf, nullptr);
  EVP_PKEY* ca_key = PEM_read_PrivateKey(kf, nullptr, nullptr, nullptr);
  std::fclose(kf);
  ASSERT_NE(ca_key, nullptr);
  ASSERT_GT(X509_sign(old.get(), ca_key, EVP_sha256()), 0);
  EVP_PKEY_free(ca_key);
  FILE* cf = std::fopen((folder / "tls-cert.pem").c_str(), "w");
  ASSERT_EQ(PEM_write_X509(cf, old.get()), 1);
  std::fclose(cf);
  fs::copy_file(certs.ca_key_file, folder / "tls-key.pem");

  auto made = EnsureSelfSignedCertificate(folder.string(), "");
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  EXPECT_TRUE(made.value().created);
  X509Ptr fresh = ReadCertificate(made.value().cert_file);
  ASSERT_TRUE(fresh);
  EXPECT_GT(X509_cmp_current_time(X509_get0_notAfter(fresh.get())), 0);
  EXPECT_TRUE(TlsContext::Load(made.value().cert_file, made.value().key_file).ok());
}

}  // namespace
}  // namespace iotstream::http
