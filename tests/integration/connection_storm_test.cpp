// Connection storms against the real server (issue 16), each while a camera at 10 fps keeps getting every upload
// answered 200: 3,000 WebSocket connects and disconnects paced at 1,000 a second, 10,000 idle connections (closed
// by the read timeout), and a server that runs out of descriptors (it waits and accepts again, without spinning).
// After each, the server's descriptors and open-connection gauges come back to where they were. A viewer that never
// reads is tests/live/live_integration_test.cpp's StalledViewerSkipsFramesWithoutHurtingOthers.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "support/raw_tcp.h"
#include "support/server_test.h"
#include "support/steady_camera.h"
#include "support/test_support.h"

namespace iotstream {
namespace {

using testing::ClosedByServer;
using testing::ConnectTcp;
using testing::HttpClient;
using testing::MetricValue;
using testing::ReadUntil;
using testing::SendAll;
using testing::WaitFor;
using Clock = std::chrono::steady_clock;

size_t OpenDescriptors(pid_t pid) {
  std::error_code ec;
  size_t n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return n;
}

// What each of `pid`'s descriptors is open on, one a line: for failure messages.
std::string DescriptorTargets(pid_t pid) {
  std::string out;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    out += it->path().filename().string() + " -> " + std::filesystem::read_symlink(it->path(), ec).string() + "\n";
  }
  return out;
}

// The "Max open files" soft limit of `pid`, from /proc/<pid>/limits.
uint64_t OpenFilesLimit(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/limits");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Max open files", 0) == 0) return std::stoull(line.substr(std::string("Max open files").size()));
  }
  return 0;
}

// Sets this process's soft limit on open files (children inherit it); false when the hard limit is lower.
bool SetOpenFiles(rlim_t soft) {
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) != 0 || files.rlim_max < soft) return false;
  files.rlim_cur = soft;
  return setrlimit(RLIMIT_NOFILE, &files) == 0;
}

class ConnectionStormTest : public testing::ServerTest {
 protected:
  void StartCamera(unsigned short port) { camera_ = std::make_unique<testing::SteadyCamera>(port, obama_); }
  void CheckCamera() { camera_->ExpectEveryUploadAnswered(); }
  bool CameraUploads(int n) { return camera_->WaitForUploads(n); }

  std::unique_ptr<testing::SteadyCamera> camera_;
};

TEST_F(ConnectionStormTest, AWebSocketConnectDisconnectStormLeavesNoDescriptorBehind) {
  auto server = Start({"--recognition", "false"});
  ASSERT_NE(server.port(), 0);
  const unsigned short port = server.port();
  StartCamera(port);
  ASSERT_TRUE(CameraUploads(3));
  HttpClient c(port);
  {
    // The viewers' thread sets up its poller with its first socket: one viewer first, so the baseline has it.
    testing::WsClient first(port, "/ws");
    ASSERT_TRUE(first.connected());
    ASSERT_TRUE(first.Read().ok);
  }
  ASSERT_TRUE(WaitFor([&] { return MetricValue(c.Get("/metrics").body, "live_viewers") == 0; }));
  const uint64_t open_before = MetricValue(c.Get("/metrics").body, "main_http_open_connections");
  const size_t baseline = OpenDescriptors(server.pid());
  const std::string before = DescriptorTargets(server.pid());

  // Four threads, 250 a second each: upgrade, then leave, by turns abruptly and with a close frame.
  constexpr int kThreads = 4, kPerThread = 750;
  std::atomic<int> upgraded{0}, refused{0};
  std::vector<std::thread> storm;
  for (int t = 0; t < kThreads; ++t) {
    storm.emplace_back([&, t] {
      auto next = Clock::now();
      for (int i = 0; i < kPerThread; ++i) {
        next += std::chrono::milliseconds(4);
        const int fd = ConnectTcp(port);
        if (fd < 0) {
          refused++;
          continue;
        }
        SendAll(fd,
                "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
        const std::string answer = ReadUntil(fd, "\r\n\r\n", std::chrono::seconds(10));
        if (answer.rfind("HTTP/1.1 101", 0) == 0) upgraded++;
        if ((i + t) % 2 == 0) {
          // A masked close frame, status 1000.
          SendAll(fd, std::string("\x88\x82\x01\x02\x03\x04\x02\xea", 8));
        }
        close(fd);
        std::this_thread::sleep_until(next);
      }
    });
  }
  for (auto& t : storm) t.join();
  EXPECT_EQ(upgraded, kThreads * kPerThread) << refused << " connects refused";

  EXPECT_EQ(c.Get("/health").status, 200);
  EXPECT_TRUE(WaitFor([&] { return OpenDescriptors(server.pid()) <= baseline; }, std::chrono::seconds(30)))
      << OpenDescriptors(server.pid()) << " descriptors open, " << baseline << " before the storm:\n"
      << before << "now:\n" << DescriptorTargets(server.pid());
  EXPECT_TRUE(WaitFor([&] {
    const std::string m = c.Get("/metrics").body;
    return MetricValue(m, "live_viewers") == 0 && MetricValue(m, "main_http_open_connections") <= open_before;
  })) << c.Get("/metrics").body;
  CheckCamera();
}

TEST_F(ConnectionStormTest, TenThousandIdleConnectionsAreClosedByTheReadTimeoutWhileACameraKeepsGoing) {
  constexpr rlim_t kIdle = 10'000;
  constexpr rlim_t kNeeded = kIdle + 500;  // the test's own descriptors beside the idle ones
  rlimit files{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &files), 0);
  if (files.rlim_max < kNeeded) {
    GTEST_SKIP() << "the hard limit on open files (" << files.rlim_max << ") is below the " << kNeeded
                 << " this test needs (ulimit -Hn)";
  }
  // The server starts with the usual soft limit of 1,024 and must raise its own.
  ASSERT_TRUE(SetOpenFiles(std::min<rlim_t>(files.rlim_cur, 1024)));
  // --max-connections leaves room for the camera and the test's requests beside the idle ones.
  auto server = Start({"--recognition", "false", "--read-timeout-ms", "3000", "--max-connections", "10100"});
  ASSERT_TRUE(SetOpenFiles(files.rlim_max));
  ASSERT_NE(server.port(), 0);
  EXPECT_EQ(OpenFilesLimit(server.pid()), files.rlim_max) << "the server raises its soft limit to the hard one";
  const unsigned short port = server.port();
  StartCamera(port);
  ASSERT_TRUE(CameraUploads(3));
  HttpClient c(port);
  ASSERT_EQ(c.Get("/health").status, 200);
  const size_t baseline = OpenDescriptors(server.pid());
  const std::string before = DescriptorTargets(server.pid());

  std::vector<int> idle;
  idle.reserve(kIdle);
  for (rlim_t i = 0; i < kIdle; ++i) {
    const int fd = ConnectTcp(port);
    if (fd >= 0) idle.push_back(fd);
  }
  EXPECT_EQ(idle.size(), kIdle);
  size_t closed = 0;
  for (int fd : idle) {
    closed += ClosedByServer(fd, std::chrono::seconds(30)) ? 1 : 0;
    close(fd);
  }
  EXPECT_EQ(closed, idle.size()) << "every idle connection is closed by the read timeout";
  EXPECT_GE(MetricValue(c.Get("/metrics").body, "main_http_timeouts_total"), kIdle);
  EXPECT_TRUE(WaitFor([&] { return OpenDescriptors(server.pid()) <= baseline; }, std::chrono::seconds(30)))
      << OpenDescriptors(server.pid()) << " descriptors open, " << baseline << " before:\n"
      << before << "now:\n" << DescriptorTargets(server.pid());
  CheckCamera();
}

TEST_F(ConnectionStormTest, AServerOutOfDescriptorsWaitsAndAcceptsAgainWithoutSpinning) {
  // A long read timeout: the connections accepted before the limit bit stay open until the end.
  auto server = Start({"--recognition", "false", "--read-timeout-ms", "60000"});
  ASSERT_NE(server.port(), 0);
  const unsigned short port = server.port();
  StartCamera(port);
  ASSERT_TRUE(CameraUploads(3));

  // Room for a few more descriptors only: the next connections wait in the listen queue.
  rlimit files{};
  ASSERT_EQ(prlimit(server.pid(), RLIMIT_NOFILE, nullptr, &files), 0);
  const rlimit tight{OpenDescriptors(server.pid()) + 4, files.rlim_max};
  ASSERT_EQ(prlimit(server.pid(), RLIMIT_NOFILE, &tight, nullptr), 0);
  std::vector<int> waiting;
  for (int i = 0; i < 40; ++i) {
    const int fd = ConnectTcp(port);
    ASSERT_GE(fd, 0);
    waiting.push_back(fd);
  }
  ASSERT_TRUE(WaitFor([&] { return server.Log().find("accept: Too many open files") != std::string::npos; }))
      << server.Log();
  ASSERT_TRUE(CameraUploads(20)) << "the camera's connection is still served";
  std::string log = server.Log();
  const std::string said = "accept: Too many open files";
  EXPECT_EQ(log.find(said), log.rfind(said)) << "said once, not once per retry\n" << log.substr(0, 4000);

  // Descriptors come back: every waiting connection is accepted and answered.
  ASSERT_EQ(prlimit(server.pid(), RLIMIT_NOFILE, &files, nullptr), 0);
  int answered = 0;
  for (int fd : waiting) {
    if (SendAll(fd, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n") &&
        ReadUntil(fd, "\r\n\r\n", std::chrono::seconds(10)).rfind("HTTP/1.1 200", 0) == 0) {
      ++answered;
    }
    close(fd);
  }
  EXPECT_EQ(answered, static_cast<int>(waiting.size()));
  EXPECT_NE(server.Log().find("accepting connections again"), std::string::npos);
  CheckCamera();
}

}  // namespace
}  // namespace iotstream
