// A disk that refuses the server's writes (issue 16), against the real binary: full (RLIMIT_FSIZE 0 set on the
// running server with prlimit, so every write to a file fails with EFBIG as on a full disk; it needs no privilege
// and works wherever the suite runs; and a real 16 MiB tmpfs filled up, where `unshare -rm` is allowed), a frames
// folder removed while the server runs, and a read-only data folder at start (a read-only bind mount, likewise). Uploads keep
// being answered, the refused frames are counted and raise storage_pressure, nothing stored before is damaged, and
// storing resumes by itself once the disk takes writes again.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/server_test.h"
#include "support/test_support.h"

namespace iotstream {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::HttpClient;
using testing::WaitFor;

uint64_t Counter(const std::string& metrics, const std::string& name) {
  const size_t at = metrics.find("\n" + name + " ");
  return at == std::string::npos ? 0 : std::stoull(metrics.substr(at + name.size() + 2));
}

// A stored frame: its id and the bytes it was uploaded with.
using Stored = std::pair<uint64_t, std::string>;

class StorageFaultTest : public testing::ServerTest {
 protected:
  // Uploads `jpeg` on the stream path, which answers once the frame is stored; returns its id (0 on failure).
  uint64_t StoreFrame(HttpClient& c, const std::string& jpeg, const std::string& device) {
    const auto r = c.PostJpeg("/api/v1/stream/stream", jpeg, device);
    EXPECT_EQ(r.status, 200) << r.body;
    if (r.status != 200) return 0;
    const json body = json::parse(r.body);
    EXPECT_EQ(body.value("stored", false), true) << r.body;
    return body.value("frame_id", uint64_t{0});
  }
  // Every frame in `frames` reads back byte for byte.
  void ExpectReadBack(HttpClient& c, const std::vector<Stored>& frames) {
    for (const auto& [id, bytes] : frames) {
      const auto r = c.Get("/api/v1/frames/" + std::to_string(id));
      EXPECT_EQ(r.status, 200) << "frame " << id << ": " << r.body.substr(0, 200);
      EXPECT_TRUE(r.body == bytes) << "frame " << id << " changed on disk";
    }
  }
  // The storage_pressure events of `reason` in the event log.
  std::vector<json> PressureEvents(HttpClient& c, const std::string& reason) {
    std::vector<json> out;
    const auto r = c.Get("/api/v1/events?type=storage_pressure");
    if (r.status != 200) return out;
    const json body = json::parse(r.body);
    for (const auto& e : body["events"]) {
      if (e.value("reason", "") == reason) out.push_back(e);
    }
    return out;
  }
};

TEST_F(StorageFaultTest, AFullDiskDropsFramesCountedAndStoringResumesWhenSpaceReturns) {
  auto server = Start({"--recognition", "false"});
  ASSERT_NE(server.port(), 0);
  HttpClient cam(server.port());
  std::vector<Stored> before;
  for (int i = 0; i < 6; ++i) {
    const std::string& jpeg = i % 2 == 0 ? obama_ : biden_;
    before.emplace_back(StoreFrame(cam, jpeg, "porch"), jpeg);
    ASSERT_NE(before.back().first, 0u);
  }

  // The disk fills: no write to any file succeeds any more.
  rlimit space{};
  ASSERT_EQ(prlimit(server.pid(), RLIMIT_FSIZE, nullptr, &space), 0);
  const rlimit full{0, space.rlim_max};
  ASSERT_EQ(prlimit(server.pid(), RLIMIT_FSIZE, &full, nullptr), 0);
  constexpr uint64_t kRefused = 20;
  for (uint64_t i = 0; i < kRefused; ++i) {
    const auto r = cam.PostJpeg("/api/v1/stream/fast", obama_, "porch");
    ASSERT_EQ(r.status, 200) << "a camera's upload is answered while the disk is full: " << r.body;
  }
  ASSERT_TRUE(WaitFor([&] { return Counter(cam.Get("/metrics").body, "store_write_errors_total") >= kRefused; }))
      << "every refused frame is counted\n" << server.Log();
  // The stream path, which promises a stored frame, says it could not keep it.
  const auto refused = cam.PostJpeg("/api/v1/stream/stream", obama_, "porch");
  EXPECT_EQ(refused.status, 500) << refused.body;
  EXPECT_TRUE(json::parse(refused.body).contains("error")) << refused.body;
  EXPECT_EQ(cam.Get("/health").status, 200);
  ExpectReadBack(cam, before);
  // The storage_pressure raised meanwhile cannot be logged yet either: it waits.
  ASSERT_TRUE(WaitFor([&] { return Counter(cam.Get("/metrics").body, "events_store_errors_total") >= 1; }))
      << server.Log();

  // Space returns: storing resumes without a restart, and the pressure event the full log could not take goes out.
  ASSERT_EQ(prlimit(server.pid(), RLIMIT_FSIZE, &space, nullptr), 0);
  std::vector<Stored> after;
  for (int i = 0; i < 4; ++i) {
    const std::string& jpeg = i % 2 == 0 ? biden_ : obama_;
    after.emplace_back(StoreFrame(cam, jpeg, "porch"), jpeg);
    ASSERT_NE(after.back().first, 0u);
  }
  ExpectReadBack(cam, before);
  ExpectReadBack(cam, after);
  std::vector<json> pressure;
  ASSERT_TRUE(WaitFor([&] { return !(pressure = PressureEvents(cam, "write_failed")).empty(); }))
      << "a storage_pressure event reports the refused frames\n" << server.Log();
  EXPECT_GE(pressure[0]["frames_dropped"].get<uint64_t>(), 1u) << pressure[0].dump();
  // Every frame is either stored or counted as refused: none is lost silently.
  const std::string metrics = cam.Get("/metrics").body;
  EXPECT_EQ(Counter(metrics, "store_frames_stored_total"), before.size() + after.size());
  EXPECT_EQ(Counter(metrics, "store_write_errors_total"), kRefused + 1);
  const std::string log = server.Log();
  EXPECT_NE(log.find("store: writing frames again after " + std::to_string(kRefused + 1) + " failed"),
            std::string::npos)
      << log;
  EXPECT_EQ(server.Stop(SIGTERM), 0);
}

TEST_F(StorageFaultTest, AFramesFolderRemovedWhileRunningIsMadeAgainAndStoringGoesOn) {
  auto server = Start({"--recognition", "false"});
  ASSERT_NE(server.port(), 0);
  HttpClient cam(server.port());
  const uint64_t gone = StoreFrame(cam, obama_, "garage");
  ASSERT_NE(gone, 0u);

  std::error_code ec;
  fs::remove_all(data() / "frames", ec);
  ASSERT_FALSE(ec) << ec.message();
  std::vector<Stored> after;
  for (int i = 0; i < 4; ++i) {
    const std::string& jpeg = i % 2 == 0 ? biden_ : obama_;
    after.emplace_back(StoreFrame(cam, jpeg, "garage"), jpeg);
    ASSERT_NE(after.back().first, 0u);
  }
  EXPECT_TRUE(fs::is_directory(data() / "frames" / "garage"));
  ExpectReadBack(cam, after);
  // The frame whose file went is missing, said so as an error, not a crash.
  const auto lost = cam.Get("/api/v1/frames/" + std::to_string(gone));
  EXPECT_EQ(lost.status, 404) << lost.body;
  EXPECT_TRUE(json::parse(lost.body).contains("error")) << lost.body;
  const std::string log = server.Log();
  const std::string said = "was removed from disk while open";
  ASSERT_NE(log.find(said), std::string::npos) << log;
  EXPECT_EQ(log.find(said), log.rfind(said)) << "said once\n" << log;
  EXPECT_EQ(server.Stop(SIGTERM), 0);

  // The next start drops the rows of the frame that went and keeps the others.
  auto again = Start({"--recognition", "false"});
  ASSERT_NE(again.port(), 0);
  HttpClient c(again.port());
  ExpectReadBack(c, after);
  EXPECT_EQ(c.Get("/api/v1/frames/" + std::to_string(gone)).status, 404);
}

// True where this user may make a user and mount namespace (`unshare -rm`) and mount in it.
bool CanMountInNamespace() { return std::system("unshare -rm mount -t tmpfs tmpfs /tmp >/dev/null 2>&1") == 0; }

// The server in a user and mount namespace where `setup` (a shell command) first mounts something over "$1", the
// data folder; stdout and stderr go to `log`. Returns its pid (the namespace's shell execs the server).
pid_t StartInNamespace(const std::string& setup, const fs::path& data, const fs::path& log) {
  const std::string script = setup + " && exec \"$0\" --port 0 --recognition-port 0 --bind 127.0.0.1 --auth off "
                                     "--recognition false --data-dir \"$1\"";
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, STDERR_FILENO);
    dup2(fd, STDOUT_FILENO);
    execlp("unshare", "unshare", "-rm", "sh", "-c", script.c_str(), std::getenv("IOTSTREAM_BIN"), data.c_str(),
           static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

// Waits (60 s at most) for `pid` to exit; its exit status (128+signal when killed by one), or nullopt.
std::optional<int> WaitExit(pid_t pid) {
  int status = 0;
  if (!WaitFor([&] { return waitpid(pid, &status, WNOHANG) == pid; }, std::chrono::seconds(60))) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return std::nullopt;
  }
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

// The main port from a started server's "listening on" line in `log`, once "ready" is there (60 s at most); 0 if not.
unsigned short PortWhenReady(const fs::path& log) {
  std::string out;
  if (!WaitFor([&] { return (out = testing::ReadFile(log)).find("\nready\n") != std::string::npos; },
               std::chrono::seconds(60))) {
    return 0;
  }
  const size_t at = out.find("listening on 127.0.0.1:");
  return at == std::string::npos ? 0 : static_cast<unsigned short>(std::stoi(out.substr(at + 23)));
}

TEST_F(StorageFaultTest, AFullTmpfsDataFolderDropsFramesCountedAndStoringResumesWhenSpaceReturns) {
  if (!CanMountInNamespace()) {
    GTEST_SKIP() << "this machine allows no user and mount namespace (unshare -rm) to mount a small tmpfs in; "
                    "AFullDiskDropsFramesCountedAndStoringResumesWhenSpaceReturns covers a full disk without one";
  }
  fs::create_directories(data());
  const fs::path log = dir_.path() / "tmpfs.log";
  const pid_t pid = StartInNamespace("mount -t tmpfs -o size=16m tmpfs \"$1\"", data(), log);
  const unsigned short port = PortWhenReady(log);
  ASSERT_NE(port, 0) << testing::ReadFile(log);
  HttpClient cam(port);
  std::vector<Stored> before;
  for (int i = 0; i < 4; ++i) {
    before.emplace_back(StoreFrame(cam, i % 2 == 0 ? obama_ : biden_, "shed"), i % 2 == 0 ? obama_ : biden_);
    ASSERT_NE(before.back().first, 0u);
  }

  // A file fills what is left of the tmpfs, seen through the server's own mounts.
  const fs::path filler = fs::path("/proc") / std::to_string(pid) / "root" / data().relative_path() / "filler";
  {
    const int fd = ::open(filler.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0) << filler;
    const std::string chunk(64 * 1024, 'x');
    while (::write(fd, chunk.data(), chunk.size()) > 0) {
    }
    ::close(fd);
  }
  uint64_t sent = 0;
  ASSERT_TRUE(WaitFor([&] {
    const auto r = cam.PostJpeg("/api/v1/stream/fast", obama_, "shed");
    EXPECT_EQ(r.status, 200) << r.body;
    ++sent;
    return Counter(cam.Get("/metrics").body, "store_write_errors_total") >= 5;
  })) << "frames refused by a full tmpfs are counted\n" << testing::ReadFile(log);
  ExpectReadBack(cam, before);

  // Space returns.
  fs::remove(filler);
  std::vector<Stored> after;
  for (int i = 0; i < 4; ++i) {
    after.emplace_back(StoreFrame(cam, biden_, "shed"), biden_);
    ASSERT_NE(after.back().first, 0u);
  }
  ExpectReadBack(cam, before);
  ExpectReadBack(cam, after);
  ASSERT_TRUE(WaitFor([&] { return !PressureEvents(cam, "write_failed").empty(); })) << testing::ReadFile(log);
  // Every frame is stored or counted, whether it failed whole or half written.
  EXPECT_TRUE(WaitFor([&] {
    const std::string m = cam.Get("/metrics").body;
    return Counter(m, "store_frames_stored_total") + Counter(m, "store_write_errors_total") ==
           before.size() + sent + after.size();
  })) << cam.Get("/metrics").body;
  EXPECT_NE(testing::ReadFile(log).find("No space left on device"), std::string::npos) << testing::ReadFile(log);
  kill(pid, SIGTERM);
  EXPECT_EQ(WaitExit(pid), std::optional<int>(0));
}

TEST_F(StorageFaultTest, AReadOnlyDataFolderIsAClearErrorAtStartAndItsDataStaysWhole) {
  // Root writes through file modes (chmod a-w stops nobody here), so read-only takes a read-only mount.
  if (!CanMountInNamespace()) {
    GTEST_SKIP() << "this machine allows no user and mount namespace (unshare -rm), so no read-only mount can be "
                    "made without privileges; the full-disk test covers refused writes at run time";
  }
  std::vector<Stored> kept;
  {
    auto server = Start({"--recognition", "false"});
    ASSERT_NE(server.port(), 0);
    HttpClient cam(server.port());
    kept.emplace_back(StoreFrame(cam, obama_, "attic"), obama_);
    ASSERT_EQ(server.Stop(SIGTERM), 0);
  }
  const fs::path log = dir_.path() / "read-only.log";
  const std::optional<int> exit_status =
      WaitExit(StartInNamespace("mount --bind \"$1\" \"$1\" && mount -o remount,bind,ro \"$1\"", data(), log));
  ASSERT_TRUE(exit_status.has_value()) << "the server neither started nor stopped\n" << testing::ReadFile(log);
  const std::string said = testing::ReadFile(log);
  EXPECT_EQ(*exit_status, 1) << "a clear error, not a crash\n" << said;
  EXPECT_NE(said.find("is not writable: Read-only file system"), std::string::npos) << said;
  EXPECT_EQ(said.find("\nready\n"), std::string::npos) << said;

  auto server = Start({"--recognition", "false"});
  ASSERT_NE(server.port(), 0);
  HttpClient c(server.port());
  ExpectReadBack(c, kept);
}

}  // namespace
}  // namespace iotstream
