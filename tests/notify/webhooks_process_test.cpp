// The webhooks through the real iotstream binary: the API routes, and a backlog that outlives kill -9.
#include <signal.h>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "notify/receiver.h"
#include "support/server_test.h"
#include "support/test_ca.h"

namespace iotstream::testing {
namespace {

using nlohmann::json;

constexpr std::chrono::seconds kWait{30};

class WebhooksProcessTest : public ServerTest {};

json Body(const HttpResult& r) { return json::parse(r.body, nullptr, false); }

std::vector<int64_t> LoggedIds(HttpClient& http) {
  std::vector<int64_t> ids;
  const json events = Body(http.Get("/api/v1/events?since_id=0&limit=1000"));
  if (!events.is_object()) return ids;
  for (const auto& e : events["events"]) ids.push_back(e["id"].get<int64_t>());
  return ids;
}

TEST_F(WebhooksProcessTest, WebhooksAreCreatedListedAndDeletedThroughTheApi) {
  ServerProcess server = Start({"--recognition=false", "--webhook", "http://127.0.0.1:9/configured"});
  ASSERT_NE(server.port(), 0);
  HttpClient http(server.port());
  const std::vector<std::pair<std::string, std::string>> json_type{{"Content-Type", "application/json"}};

  for (const char* bad : {"not json", "[]", R"({"secret":"x"})", R"({"url":5})", R"({"url":"ftp://example.com/"})",
                          R"({"url":"http://127.0.0.1:9/","types":["no_such_event"]})",
                          R"({"url":"http://127.0.0.1:9/","cameras":"door"})",
                          R"({"url":"http://127.0.0.1:9/","persons":[1]})"}) {
    const HttpResult r = http.Request("POST", "/api/v1/webhooks", bad, json_type);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_TRUE(Body(r).contains("error")) << bad << ": " << r.body;
  }

  const HttpResult created = http.Request(
      "POST", "/api/v1/webhooks",
      R"({"url":"http://127.0.0.1:9/mine","secret":"s3","types":["person_recognised","person_added"],"not_persons":["alice"]})",
      json_type);
  ASSERT_EQ(created.status, 201) << created.body;
  const json hook = Body(created);
  EXPECT_EQ(hook["secret"], "s3");
  EXPECT_EQ(hook["signed"], true);
  EXPECT_EQ(hook["types"], json::array({"person_recognised", "person_added"}));  // every kind the log keeps
  EXPECT_EQ(hook["cameras"], nullptr);
  EXPECT_EQ(hook["source"], "api");
  const int64_t id = hook["id"].get<int64_t>();

  const json list = Body(http.Get("/api/v1/webhooks"));
  ASSERT_EQ(list["count"], 2) << list.dump();
  EXPECT_EQ(list["webhooks"][0]["source"], "flag");
  EXPECT_EQ(list["webhooks"][1]["id"], id);
  EXPECT_FALSE(list["webhooks"][1].contains("secret"));
  for (const char* key : {"last_success_ms", "last_error", "failures", "backlog"}) {
    EXPECT_TRUE(list["webhooks"][1].contains(key)) << key;
  }

  const int64_t configured = list["webhooks"][0]["id"].get<int64_t>();
  EXPECT_EQ(http.Request("DELETE", "/api/v1/webhooks/" + std::to_string(configured)).status, 400);
  EXPECT_EQ(http.Request("DELETE", "/api/v1/webhooks/abc").status, 400);
  const HttpResult unknown = http.Request("DELETE", "/api/v1/webhooks/" + std::to_string(id + 100));
  EXPECT_EQ(unknown.status, 404);
  EXPECT_TRUE(Body(unknown).contains("error"));
  EXPECT_EQ(http.Request("DELETE", "/api/v1/webhooks/" + std::to_string(id)).status, 200);
  EXPECT_EQ(Body(http.Get("/api/v1/webhooks"))["count"], 1);
}

TEST_F(WebhooksProcessTest, ABacklogSurvivesKillNineAndArrivesOnceInOrder) {
  Receiver receiver;
  receiver.Refuse();
  const std::vector<std::string> args{"--recognition=false", "--webhook", receiver.Url("/hook")};
  std::vector<int64_t> before_kill;
  {
    ServerProcess server = Start(args);
    ASSERT_NE(server.port(), 0);
    HttpClient http(server.port());
    for (int i = 0; i < 4; ++i) {
      ASSERT_EQ(http.PostJpeg("/api/v1/stream/stream", obama_, "cam" + std::to_string(i)).status, 200);
    }
    // Every logged event (device_added and device_online of each camera) waits in the outbox.
    ASSERT_TRUE(WaitFor(
        [&] {
          before_kill = LoggedIds(http);
          const json hooks = Body(http.Get("/api/v1/webhooks"));
          return before_kill.size() >= 8 && hooks.is_object() &&
                 hooks["webhooks"][0]["backlog"] == static_cast<int64_t>(before_kill.size());
        },
        kWait))
        << http.Get("/api/v1/webhooks").body;
    EXPECT_EQ(server.Stop(SIGKILL), 128 + SIGKILL);
  }
  EXPECT_EQ(receiver.Seen(), 0u);

  receiver.Listen();
  ServerProcess server = Start(args);
  ASSERT_NE(server.port(), 0);
  HttpClient http(server.port());
  auto received = [&] {
    std::vector<int64_t> ids;
    for (const auto& r : receiver.Accepted()) ids.push_back(json::parse(r.body)["id"].get<int64_t>());
    return ids;
  };
  ASSERT_TRUE(WaitFor([&] { return received().size() >= before_kill.size(); }, kWait)) << server.Log();
  const std::vector<int64_t> got = received();
  // Exactly once and in order: strictly increasing; nothing logged before the kill is missing.
  for (size_t i = 1; i < got.size(); ++i) EXPECT_LT(got[i - 1], got[i]) << "at " << i;
  for (int64_t id : before_kill) EXPECT_NE(std::find(got.begin(), got.end(), id), got.end()) << "event " << id;
  for (const auto& r : receiver.Accepted()) {
    EXPECT_EQ(r.headers.at("x-iotstream-event"), json::parse(r.body)["type"].get<std::string>());
  }
}

TEST_F(WebhooksProcessTest, AnHttpsWebhookIsDeliveredOverOneConnectionWithTheCaFileGiven) {
  const TestCertificates certs = MakeTestCertificates(dir_.path());
  ASSERT_FALSE(certs.ca_file.empty());
  Receiver::Options https;
  https.cert_file = certs.cert_file;
  https.key_file = certs.key_file;
  Receiver receiver(https);
  ServerProcess server =
      Start({"--recognition=false", "--webhook", receiver.Url("/hook"), "--webhook-ca-file", certs.ca_file});
  ASSERT_NE(server.port(), 0);
  HttpClient http(server.port());
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(http.PostJpeg("/api/v1/stream/stream", obama_, "cam" + std::to_string(i)).status, 200);
  }
  // device_added and device_online of each camera.
  ASSERT_TRUE(WaitFor([&] { return receiver.Accepted().size() >= 6; }, kWait)) << server.Log();
  EXPECT_EQ(receiver.Connections(), 1u);
  const json hooks = Body(http.Get("/api/v1/webhooks"));
  EXPECT_EQ(hooks["webhooks"][0]["failures"], 0) << hooks.dump();
}

TEST_F(WebhooksProcessTest, TheCaFileFlagIsListedAndAMissingFileStopsTheStart) {
  const std::string bin = std::getenv("IOTSTREAM_BIN");
  const CommandResult help = RunCommand(bin + " --help");
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("--webhook-ca-file"), std::string::npos);
  const CommandResult missing = RunCommand(bin + " --data-dir " + data().string() + " --webhook-ca-file " +
                                           (dir_.path() / "no-such-ca.pem").string() + " 2>&1");
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.out.find("--webhook-ca-file: no such file"), std::string::npos) << missing.out;
}

}  // namespace
}  // namespace iotstream::testing
