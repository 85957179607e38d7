// The firmware's uploader core (the code the board runs) over real sockets: against the real iotstream binary
// (frames stored byte for byte, a restart mid-run), and against tiny servers that never answer or answer 503.
#include "uploader/uploader.h"

#include <signal.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "fakes.h"
#include "host/posix_io.h"
#include "support/test_support.h"

namespace iotstream::firmware {
namespace {

using nlohmann::json;
using testing::HttpAnswer;
using testing::RecordingLog;
using testing::SkippingClock;
using testing::TinyJpegCamera;
using testing::TinyServer;

// The real transport, but every connection goes to `port` whatever the uploader asks for: the server comes back on
// another free port after a restart, while the uploader keeps its configured one, as a board would.
class RedirectTransport final : public Transport {
 public:
  std::atomic<uint16_t> port{0};
  bool Connect(const char* host, uint16_t, uint32_t timeout_ms) override {
    return inner_.Connect(host, port.load(), timeout_ms);
  }
  bool connected() const override { return inner_.connected(); }
  bool WriteAll(const uint8_t* data, size_t size, uint32_t timeout_ms) override {
    return inner_.WriteAll(data, size, timeout_ms);
  }
  int ReadSome(uint8_t* buffer, size_t capacity, uint32_t timeout_ms) override {
    return inner_.ReadSome(buffer, capacity, timeout_ms);
  }
  void Close() override { inner_.Close(); }

 private:
  PosixTransport inner_;
};

UploaderOptions Options(uint16_t port, const std::string& device) {
  UploaderOptions o;
  o.host = "127.0.0.1";
  o.port = port;
  o.device_id = device;
  o.fps = 50;
  o.backoff_initial_ms = 50;
  o.backoff_max_ms = 400;
  return o;
}

class UploaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (iotstream::testing::FacesDir().empty()) GTEST_SKIP() << "IOTSTREAM_FACES_DIR not set";
    frames_ = LoadJpegFolder(iotstream::testing::FacesDir());
    ASSERT_GE(frames_->size(), 10u);
  }

  // Sends one frame; on a 2xx remembers which bytes the server's frame id stands for.
  UploadResult SendAndRemember(Uploader& uploader, JpegSetCamera& camera) {
    UploadResult r = uploader.RunOnce(camera);
    if (r.outcome == Outcome::kOk) sent_[json::parse(r.body).at("frame_id").get<uint64_t>()] = camera.last();
    return r;
  }

  // Every remembered frame is listed for `device` and served back byte for byte.
  void ExpectStored(unsigned short port, const std::string& device) {
    iotstream::testing::HttpClient http(port);
    const std::string list = "/api/v1/devices/" + device + "/frames?limit=1000";
    ASSERT_TRUE(iotstream::testing::WaitFor([&] {
      const auto r = http.Get(list);
      return r.status == 200 && json::parse(r.body)["count"].get<size_t>() == sent_.size();
    })) << http.Get(list).body;
    for (const auto& [id, bytes] : sent_) {
      const auto r = http.Get("/api/v1/frames/" + std::to_string(id));
      ASSERT_EQ(r.status, 200) << id;
      EXPECT_TRUE(r.body == bytes) << "frame " << id << " differs";
    }
  }

  iotstream::testing::TempDir dir_;
  JpegSet frames_;
  std::map<uint64_t, std::string> sent_;
  SteadyClock clock_;
  RecordingLog log_;
};

TEST_F(UploaderTest, StoresEveryFrameByteForByteOverOneConnection) {
  iotstream::testing::ServerProcess server(dir_.path() / "data", {"--recognition=false"});
  ASSERT_NE(server.port(), 0);
  PosixTransport transport;
  Uploader uploader(Options(server.port(), "fw-normal"), transport, clock_, log_);
  JpegSetCamera camera(frames_);
  for (int i = 0; i < 20; ++i) {
    const UploadResult r = SendAndRemember(uploader, camera);
    ASSERT_EQ(r.outcome, Outcome::kOk) << OutcomeName(r.outcome) << " " << r.status << " " << r.body;
  }
  EXPECT_EQ(uploader.stats().ok, 20u);
  EXPECT_EQ(uploader.stats().connections, 1u);
  ExpectStored(server.port(), "fw-normal");
}

TEST_F(UploaderTest, ReconnectsAfterTheServerRestartsAndGoesOn) {
  RedirectTransport transport;
  Uploader uploader(Options(9, "fw-restart"), transport, clock_, log_);
  JpegSetCamera camera(frames_);
  {
    iotstream::testing::ServerProcess first(dir_.path() / "data", {"--recognition=false"});
    ASSERT_NE(first.port(), 0);
    transport.port = first.port();
    for (int i = 0; i < 5; ++i) ASSERT_EQ(SendAndRemember(uploader, camera).outcome, Outcome::kOk);
    ASSERT_EQ(first.Stop(SIGTERM), 0);
  }
  // Nothing listens now: the kept-alive connection is gone and a new one is refused.
  EXPECT_EQ(uploader.RunOnce(camera).outcome, Outcome::kConnectFailed);

  iotstream::testing::ServerProcess second(dir_.path() / "data", {"--recognition=false"});
  ASSERT_NE(second.port(), 0);
  transport.port = second.port();
  int ok = 0;
  for (int i = 0; i < 50 && ok < 5; ++i) ok += SendAndRemember(uploader, camera).outcome == Outcome::kOk ? 1 : 0;
  EXPECT_EQ(ok, 5);
  EXPECT_GE(uploader.stats().connect_failures, 1u);
  EXPECT_EQ(uploader.stats().connections, 2u);
  ExpectStored(second.port(), "fw-restart");
}

TEST_F(UploaderTest, ASilentServerIsATimeoutThenTheNextConnectionGoesOn) {
  TinyServer server([](int n) { return n == 0 ? std::string() : HttpAnswer(200, R"({"success":true})"); });
  UploaderOptions o = Options(server.port(), "fw-slow");
  o.timeout_ms = 300;
  PosixTransport transport;
  Uploader uploader(o, transport, clock_, log_);
  TinyJpegCamera camera;
  EXPECT_EQ(uploader.RunOnce(camera).outcome, Outcome::kTimeout);
  EXPECT_EQ(uploader.RunOnce(camera).outcome, Outcome::kOk);
  EXPECT_EQ(uploader.RunOnce(camera).outcome, Outcome::kOk);
  EXPECT_EQ(uploader.stats().timeouts, 1u);
  EXPECT_EQ(uploader.stats().ok, 2u);
  EXPECT_EQ(server.connections(), 2);
  EXPECT_EQ(server.requests(), 3);
}

TEST_F(UploaderTest, WaitsTheRetryAfterOfA503BeforeTheNextRequest) {
  TinyServer server([](int n) {
    return n == 0 ? HttpAnswer(503, R"({"error":"busy"})", "Retry-After: 1\r\n") : HttpAnswer(200, R"({"success":true})");
  });
  SkippingClock clock;
  PosixTransport transport;
  Uploader uploader(Options(server.port(), "fw-busy"), transport, clock, log_);
  TinyJpegCamera camera;
  const UploadResult busy = uploader.RunOnce(camera);
  ASSERT_EQ(busy.outcome, Outcome::kHttpError);
  EXPECT_EQ(busy.status, 503);
  EXPECT_EQ(uploader.ready_at_us(), busy.finished_us + 1'000'000);
  const UploadResult next = uploader.RunOnce(camera);
  EXPECT_EQ(next.outcome, Outcome::kOk);
  EXPECT_GE(next.started_us, busy.finished_us + 1'000'000);
  EXPECT_GE(next.skipped_slots, 49u);  // the second's frames at 50 fps were skipped, not queued
  EXPECT_EQ(server.requests(), 2);
  EXPECT_EQ(uploader.stats().non_2xx, 1u);
}

TEST_F(UploaderTest, SendsTheHeadersTheServerReads) {
  TinyServer server([](int) { return HttpAnswer(200, R"({"success":true})"); });
  UploaderOptions o = Options(server.port(), "fw-head");
  o.api_key = "secret";
  PosixTransport transport;
  Uploader uploader(o, transport, clock_, log_);
  TinyJpegCamera camera;
  ASSERT_EQ(uploader.RunOnce(camera).outcome, Outcome::kOk);
  ASSERT_EQ(server.heads().size(), 1u);
  const std::string head = server.heads()[0];
  EXPECT_EQ(head.rfind("POST /api/v1/stream/fast HTTP/1.1\r\n", 0), 0u) << head;
  for (const char* h : {"\r\nContent-Type: image/jpeg\r\n", "\r\nContent-Length: 4\r\n", "\r\nX-Device-ID: fw-head\r\n",
                        "\r\nX-API-Key: secret\r\n", "\r\nX-Frame-Timestamp: ", "\r\nConnection: keep-alive\r\n"}) {
    EXPECT_NE(head.find(h), std::string::npos) << h << " missing in\n" << head;
  }
}

}  // namespace
}  // namespace iotstream::firmware
