// iotstream-sim, the binary, for a couple of seconds against the real server: its JSON summary adds up (the frame
// slots and the 2xx answers within --slo-ms too), the server knows the simulated cameras, and scripted
// appearances follow their schedule.
#include <cstdio>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace iotstream {
namespace {

using nlohmann::json;

// Runs `args` after the simulator's path; returns its stdout, or "" when it failed.
std::string RunSim(const std::string& args) {
  const std::string command = std::string(IOTSTREAM_SIM_BIN) + " " + args + " 2>/dev/null";
  FILE* out = popen(command.c_str(), "r");
  if (out == nullptr) return "";
  std::string text;
  char buffer[4096];
  for (size_t n; (n = fread(buffer, 1, sizeof buffer, out)) > 0;) text.append(buffer, n);
  return pclose(out) == 0 ? text : "";
}

class SimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (testing::FacesDir().empty()) GTEST_SKIP() << "IOTSTREAM_FACES_DIR not set";
  }
  testing::TempDir dir_;
};

TEST_F(SimTest, ThreeCamerasAllAnsweredAndKnownToTheServer) {
  testing::ServerProcess server(dir_.path() / "data", {"--recognition=false"});
  ASSERT_NE(server.port(), 0);
  const std::string out = RunSim("--url http://127.0.0.1:" + std::to_string(server.port()) +
                                 " --cameras 3 --fps 10 --duration 2 --device-prefix simtest- --slo-ms 3000 --json"
                                 " --frames " +
                                 testing::FacesDir().string());
  ASSERT_FALSE(out.empty());
  const json summary = json::parse(out);
  const json& total = summary["total"];
  EXPECT_GT(total["sent"].get<int>(), 0);
  EXPECT_EQ(total["ok"], total["sent"]);
  EXPECT_EQ(total["non_2xx"], 0);
  EXPECT_EQ(total["timeouts"], 0);
  EXPECT_LE(total["sent"].get<int>(), summary["expected"].get<int>());
  // Every slot of the run is a frame, sent or not; a 2xx answer within the 3 s timeout is within the 3 s bound.
  EXPECT_EQ(summary["slo_ms"], 3000);
  EXPECT_EQ(total["frames"], summary["expected"]);
  EXPECT_EQ(total["ok_within_slo"], total["ok"]);
  EXPECT_DOUBLE_EQ(total["within_slo"].get<double>(),
                   total["ok_within_slo"].get<double>() / total["frames"].get<double>());
  ASSERT_EQ(summary["per_camera"].size(), 3u);
  int sent = 0;
  int ok = 0;
  int frames = 0;
  for (const json& c : summary["per_camera"]) {
    EXPECT_GT(c["ok"].get<int>(), 0) << c.dump();
    sent += c["sent"].get<int>();
    ok += c["ok"].get<int>();
    frames += c["frames"].get<int>();
  }
  EXPECT_EQ(sent, total["sent"].get<int>());
  EXPECT_EQ(ok, total["ok"].get<int>());
  EXPECT_EQ(frames, total["frames"].get<int>());

  testing::HttpClient http(server.port());
  const json devices = json::parse(http.Get("/api/v1/devices").body);
  for (const json& c : summary["per_camera"]) {
    bool found = false;
    for (const json& d : devices["devices"]) {
      if (d["id"] != c["device_id"]) continue;
      found = true;
      EXPECT_EQ(d["frames_received"], c["ok"]) << d.dump();
    }
    EXPECT_TRUE(found) << c["device_id"] << " not in " << devices.dump();
  }
}

TEST_F(SimTest, AGeneratedSceneIsAccepted) {
  testing::ServerProcess server(dir_.path() / "data", {"--recognition=false"});
  ASSERT_NE(server.port(), 0);
  const std::string face = (testing::FacesDir() / "ageitgey_face_recognition/examples/obama-480p.jpg").string();
  const std::string out = RunSim("--url http://127.0.0.1:" + std::to_string(server.port()) +
                                 " --cameras 1 --fps 10 --duration 1 --json --scene --face " + face);
  ASSERT_FALSE(out.empty());
  const json total = json::parse(out)["total"];
  EXPECT_GT(total["ok"].get<int>(), 0);
  EXPECT_EQ(total["ok"], total["sent"]);
}

// Two people on two cameras, one a second from 0.5 s, each 0.8 s in view: the JSON and the log file list the
// appearances begun in the 4 s run, in schedule order, on camera k mod 2 with photo k mod 2, none shown before its
// time and at most its 8 frames each.
TEST_F(SimTest, AppearancesFollowTheSchedule) {
  testing::ServerProcess server(dir_.path() / "data", {"--recognition=false"});
  ASSERT_NE(server.port(), 0);
  const auto examples = testing::FacesDir() / "ageitgey_face_recognition/examples";
  const auto tsv = dir_.path() / "people.tsv";
  std::ofstream(tsv) << (examples / "obama.jpg").string() << "\tbarack_obama\n\n"
                     << (examples / "biden.jpg").string() << "\tjoe_biden\n";
  const auto log = dir_.path() / "appearances.json";
  const std::string out = RunSim("--url http://127.0.0.1:" + std::to_string(server.port()) +
                                 " --cameras 2 --fps 10 --duration 4 --device-prefix simtest- --json --appearances " +
                                 tsv.string() + " --first-appearance-s 0.5 --appearance-every 1 --appearance-s 0.8" +
                                 " --appearance-log " + log.string());
  ASSERT_FALSE(out.empty());
  const json summary = json::parse(out);
  EXPECT_EQ(summary["source"], "appearances");
  EXPECT_EQ(summary["total"]["ok"], summary["total"]["sent"]);
  const json& shown = summary["appearances"];
  ASSERT_EQ(shown.size(), 4u) << shown.dump();  // begun at 0.5, 1.5, 2.5 and 3.5 s
  int frames = 0;
  for (size_t k = 0; k < shown.size(); ++k) {
    const json& a = shown[k];
    EXPECT_EQ(a["index"], k);
    EXPECT_EQ(a["device_id"], "simtest-00" + std::to_string(k % 2));
    EXPECT_EQ(a["person"], k % 2 == 0 ? "barack_obama" : "joe_biden");
    EXPECT_EQ(a["photo"], (examples / (k % 2 == 0 ? "obama.jpg" : "biden.jpg")).string());
    EXPECT_GE(a["start_ms"].get<int64_t>(), summary["started_ms"].get<int64_t>() + 500 + 1000 * static_cast<int64_t>(k));
    EXPECT_LE(a["frames_sent"].get<int>(), 8) << a.dump();
    frames += a["frames_sent"].get<int>();
  }
  EXPECT_GT(frames, 0);
  std::ifstream in(log);
  EXPECT_EQ(json::parse(in), shown);
}

TEST_F(SimTest, AppearancesThatWouldOverlapOnACameraAreRefused) {
  const auto tsv = dir_.path() / "people.tsv";
  std::ofstream(tsv) << (testing::FacesDir() / "ageitgey_face_recognition/examples/obama.jpg").string() << "\tobama\n";
  // One camera, one appearance a second, each 1.5 s long.
  EXPECT_EQ(RunSim("--url http://127.0.0.1:1 --cameras 1 --duration 1 --appearances " + tsv.string()), "");
  EXPECT_NE(RunSim("--url http://127.0.0.1:1 --cameras 2 --duration 0.2 --appearances " + tsv.string()), "");
}

TEST_F(SimTest, AStillSceneShowsNobody) {
  testing::ServerProcess server(dir_.path() / "data", {"--recognition=false"});
  ASSERT_NE(server.port(), 0);
  const std::string out = RunSim("--url http://127.0.0.1:" + std::to_string(server.port()) +
                                 " --cameras 1 --fps 10 --duration 1 --json --scene-still");
  ASSERT_FALSE(out.empty());
  const json summary = json::parse(out);
  EXPECT_EQ(summary["source"], "still");
  EXPECT_TRUE(summary["appearances"].empty());
  EXPECT_GT(summary["total"]["ok"].get<int>(), 0);
  EXPECT_EQ(summary["total"]["ok"], summary["total"]["sent"]);
}

}  // namespace
}  // namespace iotstream
