// iotstream-sim, the binary, for a couple of seconds against the real server: its JSON summary adds up (the frame
// slots and the 2xx answers within --slo-ms too) and the server knows the simulated cameras.
#include <cstdio>
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

}  // namespace
}  // namespace iotstream
