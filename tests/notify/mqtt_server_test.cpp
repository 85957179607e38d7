// The real iotstream binary with --mqtt-url, a real broker (Debian's mosquitto) and a real subscriber: the camera's
// state and discovery after a posted frame, a recognition's topics, the last will on kill -9, offline on a clean
// stop, and start-up refusing a bad URL. Fails when mosquitto, the face photos or the descriptor weights are missing.
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "notify/broker.h"
#include "support/server_test.h"
#include "support/test_support.h"

namespace iotstream {
namespace {

using nlohmann::json;
using testing::Broker;
using testing::HttpClient;
using testing::MultipartBody;
using testing::Subscriber;
using testing::WaitFor;

class MqttServerTest : public testing::ServerTest {
 protected:
  static int64_t enrolled_id(const testing::HttpResult& r) { return json::parse(r.body)["person_id"].get<int64_t>(); }
  void SetUp() override {
    ServerTest::SetUp();
    if (HasFatalFailure()) return;
    broker_ = std::make_unique<Broker>(dir_.path() / "broker");
    ASSERT_NE(broker_->port(), 0);
    sub_ = std::make_unique<Subscriber>(broker_->port());
    ASSERT_TRUE(WaitFor([this] { return sub_->subscribed(); }));
  }
  // The server publishing to the broker under the prefix "iot", and `extra`.
  testing::ServerProcess StartWithMqtt(std::vector<std::string> extra = {"--recognition", "false"}) const {
    std::vector<std::string> a{"--mqtt-url", broker_->url(), "--mqtt-prefix", "iot"};
    a.insert(a.end(), extra.begin(), extra.end());
    return Start(std::move(a));
  }

  std::unique_ptr<Broker> broker_;
  std::unique_ptr<Subscriber> sub_;
};

TEST_F(MqttServerTest, APostedFrameSetsTheCameraOnlineWithItsDiscoveryAndStopSaysOffline) {
  auto server = StartWithMqtt();
  ASSERT_NE(server.port(), 0);
  ASSERT_TRUE(WaitFor([this] { return sub_->Last("iot/available") == "online"; })) << server.Log();
  HttpClient cam(server.port());
  ASSERT_EQ(cam.PostJpeg("/api/v1/stream/fast", obama_, "porch").status, 200);

  ASSERT_TRUE(WaitFor([this] { return sub_->Last("iot/porch/state") == "online"; })) << server.Log();
  ASSERT_TRUE(WaitFor([this] { return sub_->Last("homeassistant/camera/iotstream_porch/image/config").has_value(); }));
  const json config = json::parse(*sub_->Last("homeassistant/camera/iotstream_porch/image/config"));
  EXPECT_EQ(config["topic"], "iot/porch/image");
  ASSERT_TRUE(WaitFor([this] { return sub_->On("iot/events").size() >= 2; }));
  const json added = json::parse(sub_->On("iot/events")[0]);
  const json online = json::parse(sub_->On("iot/events")[1]);
  EXPECT_EQ(added["type"], "device_added");
  EXPECT_EQ(online["type"], "device_online");
  EXPECT_LT(added["id"].get<int64_t>(), online["id"].get<int64_t>());  // as the event log numbered them

  const json perf = json::parse(cam.Get("/api/v1/system/performance").body);
  ASSERT_TRUE(perf.contains("mqtt")) << perf.dump();
  EXPECT_EQ(perf["mqtt"]["connected"], true);
  EXPECT_EQ(perf["mqtt"]["dropped"], 0);
  // Everything sent was acknowledged, the session messages of the connect included: the queue is empty, not
  // below it.
  EXPECT_TRUE(WaitFor([&] { return cam.Get("/metrics").body.find("\nnotify_mqtt_queue_depth 0\n") != std::string::npos; }))
      << cam.Get("/metrics").body.substr(0, 2000);

  EXPECT_EQ(server.Stop(SIGTERM), 0);
  EXPECT_TRUE(WaitFor([this] { return sub_->Last("iot/available") == "offline"; }));
  EXPECT_EQ(sub_->On("iot/available").size(), 2u) << "online, then offline from the server itself (not its will)";
}

TEST_F(MqttServerTest, TheLastWillSaysOfflineWhenTheServerIsKilled) {
  auto server = StartWithMqtt();
  ASSERT_NE(server.port(), 0);
  ASSERT_TRUE(WaitFor([this] { return sub_->Last("iot/available") == "online"; })) << server.Log();
  server.Stop(SIGKILL);
  ASSERT_TRUE(WaitFor([this] { return sub_->Last("iot/available") == "offline"; }));
}

TEST_F(MqttServerTest, ARecognisedPersonReachesThePersonTopicsAndTheEventEntity) {
  ASSERT_TRUE(std::filesystem::exists(testing::ModelsDir() / "face_recognition_model.bin"))
      << "no descriptor weights in " << testing::ModelsDir()
      << ": run scripts/fetch-models.sh (test.sh does) or set IOTSTREAM_MODELS_DIR";
  auto server = StartWithMqtt({"--models-dir", testing::ModelsDir().string(), "--max-workers", "1"});
  ASSERT_NE(server.recognition_port(), 0);
  HttpClient recog(server.recognition_port());
  auto enrolled = recog.Request(
      "POST", "/api/v1/recognition/add-permitted-face",
      MultipartBody("enrol", {{"name", "Barack Obama", "", ""},
                              {"image", testing::FaceJpeg("ageitgey_face_recognition/examples/obama.jpg"), "p.jpg",
                               "image/jpeg"}}),
      {{"Content-Type", "multipart/form-data; boundary=enrol"}});
  ASSERT_EQ(enrolled.status, 200) << enrolled.body;

  const std::string tracker = "homeassistant/device_tracker/iotstream_person_barack_obama/presence/config";
  ASSERT_TRUE(WaitFor([&] { return sub_->Last(tracker).has_value(); })) << "enrolment adds the person's configs";

  HttpClient cam(server.port());
  testing::WsClient viewer(server.port(), "/ws");
  ASSERT_TRUE(viewer.connected());
  ASSERT_EQ(testing::NextEvent(viewer, "hello")["type"], "hello");
  const auto posted = cam.PostJpeg("/api/v1/stream/stream", obama_, "hall");
  ASSERT_EQ(posted.status, 200) << posted.body;
  ASSERT_TRUE(WaitFor([this] { return sub_->Last("iot/person/barack_obama/state") == "hall"; })) << server.Log();
  EXPECT_EQ(sub_->Last("iot/hall/person"), "Barack Obama");
  ASSERT_TRUE(WaitFor([this] { return sub_->Last("iot/events/recognition").has_value(); }));
  const json event = json::parse(*sub_->Last("iot/events/recognition"));
  EXPECT_EQ(event["event_type"], "person_recognised");
  EXPECT_EQ(event["name"], "Barack Obama");
  ASSERT_TRUE(WaitFor([this] { return sub_->Last("iot/hall/image").has_value(); })) << server.Log();
  EXPECT_EQ(sub_->Last("iot/hall/image"), obama_) << "the recognised frame's JPEG";
  EXPECT_EQ(testing::NextEvent(viewer, "person_recognised")["name"], "Barack Obama");

  // Frame arrival to event out, per output: the viewer's socket and the broker's acknowledgement.
  for (const char* output : {"ws", "mqtt"}) {
    const std::string count = std::string("event_latency_seconds_count{output=\"") + output + "\"} 1\n";
    EXPECT_TRUE(WaitFor([&] { return cam.Get("/metrics").body.find(count) != std::string::npos; }))
        << output << "\n" << cam.Get("/metrics").body;
  }

  // A rename moves the person's entities to the new name; a deletion removes them.
  const std::string person = "/api/v1/recognition/permitted-faces/" + std::to_string(enrolled_id(enrolled));
  ASSERT_EQ(recog.Request("PATCH", person, R"({"name":"President Obama"})", {{"Content-Type", "application/json"}})
                .status,
            200);
  const std::string renamed = "homeassistant/device_tracker/iotstream_person_president_obama/presence/config";
  ASSERT_TRUE(WaitFor([&] { return sub_->Last(tracker) == ""; })) << "the old name's config is removed";
  ASSERT_TRUE(WaitFor([&] { return sub_->Last(renamed).has_value(); }));
  EXPECT_EQ(json::parse(*sub_->Last(renamed))["device"]["name"], "President Obama");
  ASSERT_TRUE(WaitFor([&] { return sub_->Last("iot/person/president_obama/state") == "hall"; }));
  EXPECT_EQ(sub_->Last("iot/person/barack_obama/state"), "");

  ASSERT_EQ(recog.Request("DELETE", person).status, 200);
  ASSERT_TRUE(WaitFor([&] { return sub_->Last(renamed) == ""; })) << server.Log();
  EXPECT_TRUE(WaitFor([&] { return sub_->Last("iot/person/president_obama/state") == ""; }));
}

TEST_F(MqttServerTest, MqttsDeliversWithTheBrokersCaAndRefusesABrokerItCannotVerify) {
  Broker tls_broker(dir_.path() / "tls-broker", /*persistent=*/false, /*tls=*/true);
  ASSERT_NE(tls_broker.tls_port(), 0);
  Subscriber sub(tls_broker.port());  // the plain listener of the same broker sees what arrived over TLS
  ASSERT_TRUE(WaitFor([&] { return sub.subscribed(); }));
  {
    auto server = Start({"--mqtt-url", tls_broker.tls_url(), "--mqtt-ca-file", tls_broker.ca_file().string(),
                         "--mqtt-prefix", "iot", "--recognition", "false"});
    ASSERT_NE(server.port(), 0);
    ASSERT_TRUE(WaitFor([&] { return sub.Last("iot/available") == "online"; })) << server.Log();
    HttpClient cam(server.port());
    ASSERT_EQ(cam.PostJpeg("/api/v1/stream/fast", obama_, "porch").status, 200);
    ASSERT_TRUE(WaitFor([&] { return sub.Last("iot/porch/state") == "online"; })) << server.Log();
    EXPECT_EQ(server.Stop(SIGTERM), 0);
  }
  // Another CA did not sign the broker's certificate: no connection, and the log says why.
  Broker other(dir_.path() / "other-ca", /*persistent=*/false, /*tls=*/true);
  ASSERT_NE(other.tls_port(), 0);
  auto server = Start({"--mqtt-url", tls_broker.tls_url(), "--mqtt-ca-file", other.ca_file().string(),
                       "--mqtt-prefix", "untrusted", "--recognition", "false"});
  ASSERT_NE(server.port(), 0);
  ASSERT_TRUE(WaitFor([&] { return server.Log().find("certificate verify failed") != std::string::npos; }))
      << server.Log();
  EXPECT_FALSE(sub.Last("untrusted/available").has_value());
}

TEST_F(MqttServerTest, ABadMqttUrlStopsTheStartWithExitCode2) {
  const char* bin = std::getenv("IOTSTREAM_BIN");
  ASSERT_NE(bin, nullptr);
  const auto err = dir_.path() / "err.txt";
  const std::string command = std::string(bin) + " --mqtt-url http://broker:1883 --data-dir " +
                              (dir_.path() / "bad").string() + " 2>" + err.string();
  const int status = std::system(command.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
  EXPECT_NE(testing::ReadFile(err).find("--mqtt-url"), std::string::npos) << testing::ReadFile(err);
}

}  // namespace
}  // namespace iotstream
