// The recognition API and background recognition against the real binary: enrol on the recognition port,
// post camera frames on the main port, and watch events arrive on /ws and in /api/v1/events.
// Fails when the descriptor weights are not fetched (scripts/fetch-models.sh; test.sh runs it).
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/jpeg_encode.h"
#include "support/raw_tcp.h"
#include "support/server_test.h"

namespace iotstream {
namespace {

using nlohmann::json;
using testing::FaceJpeg;
using testing::HttpClient;
using testing::MultipartBody;
using testing::WsClient;

constexpr const char* kExamples = "ageitgey_face_recognition/examples/";

class RecognitionApiTest : public testing::ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(std::filesystem::exists(testing::ModelsDir() / "face_recognition_model.bin"))
        << "no descriptor weights in " << testing::ModelsDir()
        << ": run scripts/fetch-models.sh (test.sh does) or set IOTSTREAM_MODELS_DIR";
  }
  // The server with the descriptor weights, one recognition worker, and `extra`.
  testing::ServerProcess StartRecognition(std::vector<std::string> extra = {}) const {
    std::vector<std::string> a{"--models-dir", testing::ModelsDir().string(), "--max-workers", "1"};
    a.insert(a.end(), extra.begin(), extra.end());
    return Start(std::move(a));
  }
  static testing::HttpResult Enrol(HttpClient& c, const std::string& name, const std::string& photo) {
    return c.Request("POST", "/api/v1/recognition/add-permitted-face",
                     MultipartBody("enrol", {{"name", name, "", ""}, {"image", FaceJpeg(photo), "p.jpg", "image/jpeg"}}),
                     {{"Content-Type", "multipart/form-data; boundary=enrol"}});
  }
  static json Json(const testing::HttpResult& r) { return json::parse(r.body, nullptr, false); }
};

TEST_F(RecognitionApiTest, EnrolledPersonSeenByACameraBecomesAnEvent) {
  auto server = StartRecognition({"--recognition-sample-rate", "1", "--event-dedup-s", "60"});
  ASSERT_NE(server.recognition_port(), 0);
  HttpClient recog(server.recognition_port());
  auto enrolled = Enrol(recog, "Barack Obama", std::string(kExamples) + "obama.jpg");
  ASSERT_EQ(enrolled.status, 200) << enrolled.body;
  const int64_t person = Json(enrolled)["person_id"];

  WsClient ws(server.port(), "/ws");
  ASSERT_TRUE(ws.connected());
  ASSERT_FALSE(testing::NextEvent(ws, "hello").is_null());  // joined the hub: it gets the events to come
  HttpClient cam(server.port());
  ASSERT_EQ(cam.PostJpeg("/api/v1/stream/fast", obama_, "door").status, 200);

  json event = testing::NextEvent(ws, "person_recognised", std::chrono::seconds(20));
  ASSERT_FALSE(event.is_null());
  EXPECT_EQ(event["name"], "Barack Obama");
  EXPECT_EQ(event["person_id"], person);
  EXPECT_EQ(event["device_id"], "door");
  EXPECT_LT(event["distance"].get<double>(), 0.6);
  EXPECT_GT(event["box"]["w"].get<int>(), 40);
  EXPECT_EQ(event["camera_name"], "door");
  EXPECT_GE(event["latency_ms"].get<int64_t>(), 0);
  EXPECT_EQ(event["frame_url"], "/api/v1/devices/" + event["device_id"].get<std::string>() + "/frames/" +
                                    std::to_string(event["frame_id"].get<uint64_t>()));
  EXPECT_TRUE(testing::WaitFor([&] { return cam.Get(event["frame_url"].get<std::string>()).status == 200; }));

  // More sightings within the window fold into that one event.
  for (int i = 0; i < 2; ++i) ASSERT_EQ(cam.PostJpeg("/api/v1/stream/fast", obama_, "door").status, 200);
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        json h = Json(recog.Get("/health"));
        return h["pool"]["busy"] == 0 && h["pool"]["pending_cameras"] == 0;
      },
      std::chrono::seconds(60)));
  auto events = Json(cam.Get("/api/v1/events?device_id=door&type=person_recognised"));
  ASSERT_EQ(events["events"].size(), 1u) << events.dump();
  const json perf = Json(cam.Get("/api/v1/system/performance"));
  EXPECT_GE(perf["recognition"]["jobs_completed"].get<int>(), 1) << perf.dump();
  EXPECT_TRUE(perf["recognition"]["jobs_dropped"].is_number()) << perf.dump();
  EXPECT_EQ(events["events"][0]["id"], event["id"]);
  // The camera's own events are in the same log, before the recognition, and paged forward by since_id.
  auto all = Json(cam.Get("/api/v1/events?since_id=0"));
  std::vector<std::string> types;
  for (const auto& e : all["events"]) types.push_back(e["type"]);
  ASSERT_GE(types.size(), 4u) << all.dump();
  EXPECT_EQ(std::vector<std::string>(types.begin(), types.begin() + 4),
            (std::vector<std::string>{"person_added", "device_added", "device_online", "person_recognised"}));
  const int64_t first = all["events"][0]["id"];
  auto after = Json(cam.Get("/api/v1/events?since_id=" + std::to_string(first)));
  EXPECT_EQ(after["events"][0]["id"], all["events"][1]["id"]);
  auto thumb = cam.Get(event["thumbnail_url"].get<std::string>());
  EXPECT_EQ(thumb.status, 200);
  EXPECT_EQ(thumb.headers["content-type"], "image/jpeg");
}

// The need scheduler tracks the face between recognitions: one event for the appearance, and appearance_ended
// naming that event once the face has left the picture.
TEST_F(RecognitionApiTest, AnAppearanceEndsWhenTheFaceLeavesThePictureAndNamesItsEvent) {
  auto server = StartRecognition({"--event-dedup-s", "60"});
  HttpClient recog(server.recognition_port());
  ASSERT_EQ(Enrol(recog, "Barack Obama", std::string(kExamples) + "obama.jpg").status, 200);
  WsClient ws(server.port(), "/ws");
  ASSERT_TRUE(ws.connected());
  ASSERT_FALSE(testing::NextEvent(ws, "hello").is_null());
  const std::string empty = testing::EncodeJpeg(std::vector<uint8_t>(320 * 240, 128), 320, 240, 1, 85);
  HttpClient cam(server.port());
  // The empty room first: a camera's first picture only teaches the motion check its background.
  ASSERT_EQ(cam.PostJpeg("/api/v1/stream/fast", empty, "door").status, 200);
  ASSERT_TRUE(testing::WaitFor(
      [&] { return testing::MetricValue(cam.Get("/metrics").body, "recognition_motion_checks_total") >= 1; },
      std::chrono::seconds(60)));
  for (int i = 0; i < 10; ++i) {  // he stands in view for a second, at 10 fps
    ASSERT_EQ(cam.PostJpeg("/api/v1/stream/fast", obama_, "door").status, 200);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const json seen = testing::NextEvent(ws, "person_recognised", std::chrono::seconds(30));
  ASSERT_FALSE(seen.is_null());
  EXPECT_EQ(seen["name"], "Barack Obama");

  // He walks off: the camera goes on sending the empty room until the appearance is over.
  std::atomic<bool> stop{false};
  std::thread room([&] {
    HttpClient c(server.port());
    while (!stop) {
      (void)c.PostJpeg("/api/v1/stream/fast", empty, "door");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  const json ended = testing::NextEvent(ws, "appearance_ended", std::chrono::seconds(30));
  stop = true;
  room.join();
  ASSERT_FALSE(ended.is_null());
  EXPECT_EQ(ended["event_id"], seen["id"]);
  EXPECT_EQ(ended["name"], "Barack Obama");
  EXPECT_EQ(ended["person_id"], seen["person_id"]);
  EXPECT_EQ(ended["device_id"], "door");
  EXPECT_GE(ended["duration_ms"].get<int64_t>(), 0);
  EXPECT_LE(ended["last_seen"].get<int64_t>(), ended["ts"].get<int64_t>());
  auto logged = Json(cam.Get("/api/v1/events?type=appearance_ended,person_recognised&device_id=door"));
  EXPECT_EQ(logged["events"].size(), 2u) << "one event for the appearance, one for its end: " << logged.dump();
}

TEST_F(RecognitionApiTest, RecognizeAndEnrolmentAnswers) {
  auto server = StartRecognition();
  HttpClient c(server.recognition_port());
  auto health = Json(c.Get("/health"));
  EXPECT_EQ(health["models_loaded"], true);
  EXPECT_EQ(health["gallery"]["faces"], 0);
  EXPECT_EQ(health["pool"]["moving_cameras"], 0) << "no camera has sent anything";

  ASSERT_EQ(Enrol(c, "Joe Biden", std::string(kExamples) + "biden.jpg").status, 200);
  ASSERT_EQ(Enrol(c, "Barack Obama", std::string(kExamples) + "obama.jpg").status, 200);
  auto second = Enrol(c, "Barack Obama", std::string(kExamples) + "obama2.jpg");  // several photos per person
  ASSERT_EQ(second.status, 200);

  auto two = c.Request("POST", "/api/v1/recognize", FaceJpeg(std::string(kExamples) + "two_people.jpg"),
                       {{"Content-Type", "image/jpeg"}});
  ASSERT_EQ(two.status, 200) << two.body;
  json r = Json(two);
  ASSERT_EQ(r["faces"].size(), 2u);
  std::set<std::string> names;
  for (const auto& f : r["faces"]) {
    EXPECT_EQ(f["permitted"], true);
    names.insert(f["name"].get<std::string>());
  }
  EXPECT_EQ(names, (std::set<std::string>{"Barack Obama", "Joe Biden"}));
  for (const char* stage : {"decode", "detect", "align", "describe", "match"}) {
    EXPECT_TRUE(r["timing_ms"][stage].is_number()) << stage;
  }

  auto none = c.Request("POST", "/api/v1/recognize", FaceJpeg("davisking_dlib/dlib/test/ffmpeg_data/giraffe.jpg"),
                        {{"Content-Type", "image/jpeg"}});
  ASSERT_EQ(none.status, 200);
  EXPECT_TRUE(Json(none)["faces"].empty());
  // A stranger is not named.
  auto stranger = c.Request("POST", "/api/v1/recognize", FaceJpeg(std::string(kExamples) + "lin-manuel-miranda.png"),
                            {{"Content-Type", "image/png"}});
  ASSERT_EQ(stranger.status, 200) << stranger.body;
  ASSERT_EQ(Json(stranger)["faces"].size(), 1u);
  EXPECT_TRUE(Json(stranger)["faces"][0]["name"].is_null());
  EXPECT_EQ(Json(stranger)["faces"][0]["permitted"], false);

  // The upload rule camera ingest uses: a JPEG under curl's default type, a PNG in an unnamed part.
  auto curl_type = c.Request("POST", "/api/v1/recognize", biden_, {{"Content-Type", "application/x-www-form-urlencoded"}});
  ASSERT_EQ(curl_type.status, 200) << curl_type.body;
  ASSERT_EQ(Json(curl_type)["faces"].size(), 1u);
  EXPECT_EQ(Json(curl_type)["faces"][0]["name"], "Joe Biden");
  auto png_part = c.Request(
      "POST", "/api/v1/recognize",
      MultipartBody("b", {{"upload", FaceJpeg(std::string(kExamples) + "lin-manuel-miranda.png"), "x.png", ""}}),
      {{"Content-Type", "multipart/form-data; boundary=b"}});
  ASSERT_EQ(png_part.status, 200) << png_part.body;
  EXPECT_EQ(Json(png_part)["faces"].size(), 1u);

  auto not_image = c.Request("POST", "/api/v1/recognize", "this is text", {{"Content-Type", "image/jpeg"}});
  EXPECT_EQ(not_image.status, 400);
  EXPECT_TRUE(Json(not_image)["error"].is_string());
  auto zero = Enrol(c, "Nobody", "davisking_dlib/dlib/test/ffmpeg_data/dog.jpg");
  EXPECT_EQ(zero.status, 422);
  EXPECT_EQ(Json(zero)["error"], "no face found");
  auto many = Enrol(c, "Crowd", std::string(kExamples) + "two_people.jpg");
  EXPECT_EQ(many.status, 422);
  EXPECT_EQ(Json(many)["error"], "2 faces found");
  auto nameless = c.Request("POST", "/api/v1/recognition/add-permitted-face",
                            MultipartBody("b", {{"image", biden_, "b.jpg", ""}}),
                            {{"Content-Type", "multipart/form-data; boundary=b"}});
  EXPECT_EQ(nameless.status, 400);

  auto people = Json(c.Get("/api/v1/recognition/permitted-faces"));
  ASSERT_EQ(people["total"], 2);
  json obama;
  for (const auto& p : people["people"]) {
    if (p["name"] == "Barack Obama") obama = p;
  }
  ASSERT_FALSE(obama.is_null());
  EXPECT_EQ(obama["faces"], 2);
  EXPECT_EQ(c.Get(obama["thumbnail_url"].get<std::string>()).status, 200);
  const std::string pid = std::to_string(obama["person_id"].get<int64_t>());
  const std::string fid = std::to_string(obama["face_ids"][1].get<int64_t>());
  const std::string person = "/api/v1/recognition/permitted-faces/" + pid;
  auto rename = [&c](const std::string& path, const std::string& body) {
    return c.Request("PATCH", path, body, {{"Content-Type", "application/json"}});
  };
  EXPECT_EQ(rename(person, R"({"name":"Joe Biden"})").status, 409);  // taken by another person
  EXPECT_EQ(rename(person, R"({"name":""})").status, 400);
  EXPECT_EQ(rename(person, R"(["Barack"])").status, 400);
  EXPECT_EQ(rename("/api/v1/recognition/permitted-faces/999", R"({"name":"X"})").status, 404);
  auto renamed = rename(person, R"({"name":"President Obama"})");
  ASSERT_EQ(renamed.status, 200) << renamed.body;
  auto seen = Json(c.Request("POST", "/api/v1/recognize", obama_, {{"Content-Type", "image/jpeg"}}));
  ASSERT_EQ(seen["faces"].size(), 1u);
  EXPECT_EQ(seen["faces"][0]["name"], "President Obama");  // the gallery in memory follows the rename

  EXPECT_EQ(c.Request("DELETE", person + "/faces/" + fid).status, 200);
  EXPECT_EQ(c.Request("DELETE", person).status, 200);
  EXPECT_EQ(c.Request("DELETE", person).status, 404);
  EXPECT_EQ(Json(c.Get("/health"))["gallery"]["people"], 1);
  // The same routes answer on the main port.
  HttpClient main(server.port());
  EXPECT_EQ(Json(main.Get("/api/v1/recognition/permitted-faces"))["total"], 1);
  // Enrolments, the rename and the deletion are in the event log, in order.
  std::vector<std::string> changes;
  ASSERT_TRUE(testing::WaitFor([&] {
    changes.clear();
    const json log = Json(main.Get("/api/v1/events?since_id=0"));
    for (const auto& e : log["events"]) {
      const std::string type = e["type"];
      if (type.rfind("person_", 0) == 0) changes.push_back(type + ":" + e["name"].get<std::string>());
    }
    return changes.size() == 4;
  })) << ::testing::PrintToString(changes);
  EXPECT_EQ(changes, (std::vector<std::string>{"person_added:Joe Biden", "person_added:Barack Obama",
                                               "person_updated:President Obama", "person_removed:President Obama"}));
}

TEST_F(RecognitionApiTest, AcknowledgedEnrolmentSurvivesKill9AndStreamPathAnswersWithNames) {
  {
    auto server = StartRecognition();
    HttpClient c(server.recognition_port());
    ASSERT_EQ(Enrol(c, "Barack Obama", std::string(kExamples) + "obama.jpg").status, 200);
    EXPECT_EQ(server.Stop(SIGKILL), 128 + SIGKILL);
  }
  auto server = StartRecognition();
  HttpClient cam(server.port());
  auto r = cam.PostJpeg("/api/v1/stream/stream", obama_, "porch");
  ASSERT_EQ(r.status, 200) << r.body;
  json body = Json(r);
  EXPECT_EQ(body["stored"], true);
  ASSERT_EQ(body["recognition"]["faces"].size(), 1u);
  EXPECT_EQ(body["recognition"]["faces"][0]["name"], "Barack Obama");
}

TEST_F(RecognitionApiTest, WrongMatchFeedbackTurnsTheFaceUnknown) {
  // A loose threshold makes Biden pass for Obama: the kind of mistake feedback exists for.
  auto server = StartRecognition({"--match-threshold", "1.5", "--event-dedup-s", "0"});
  HttpClient c(server.port());
  ASSERT_EQ(Enrol(c, "Barack Obama", std::string(kExamples) + "obama.jpg").status, 200);
  auto first = Json(c.PostJpeg("/api/v1/stream/stream", biden_, "gate"));
  ASSERT_EQ(first["recognition"]["faces"][0]["name"], "Barack Obama");
  // The event log is written just after the answer.
  json events;
  ASSERT_TRUE(testing::WaitFor([&] {
    events = Json(c.Get("/api/v1/events?device_id=gate&type=person_recognised"));
    return events["events"].size() == 1;
  })) << events.dump();
  const std::string id = std::to_string(events["events"][0]["id"].get<int64_t>());

  EXPECT_EQ(c.Request("POST", "/api/v1/events/" + id + "/feedback", "{\"correct\": 3}").status, 400);
  EXPECT_EQ(c.Request("POST", "/api/v1/events/999999/feedback", "{\"correct\": false}").status, 404);
  auto fb = c.Request("POST", "/api/v1/events/" + id + "/feedback", "{\"correct\": false}");
  ASSERT_EQ(fb.status, 200) << fb.body;
  EXPECT_EQ(Json(c.Get("/api/v1/events/" + id))["feedback"], "wrong");

  auto again = Json(c.PostJpeg("/api/v1/stream/stream", biden_, "gate"));
  ASSERT_EQ(again["recognition"]["faces"].size(), 1u);
  EXPECT_TRUE(again["recognition"]["faces"][0]["name"].is_null());
  EXPECT_TRUE(testing::WaitFor([&] {
    return Json(c.Get("/api/v1/events?device_id=gate&type=unknown_face"))["events"].size() == 1;
  }));
}

TEST_F(RecognitionApiTest, APhotoWithSeveralFacesAsksWhichOneAndEnrolsTheBoxGiven) {
  auto server = StartRecognition();
  HttpClient c(server.port());
  const std::string photo = FaceJpeg(std::string(kExamples) + "two_people.jpg");
  auto enrol = [&](const std::string& box) {
    std::vector<testing::FormField> fields{{"name", "Picked", "", ""}};
    if (!box.empty()) fields.push_back({"box", box, "", ""});
    fields.push_back({"image", photo, "p.jpg", "image/jpeg"});
    return c.Request("POST", "/api/v1/recognition/add-permitted-face", MultipartBody("pick", fields),
                     {{"Content-Type", "multipart/form-data; boundary=pick"}});
  };
  const auto ask = enrol("");
  ASSERT_EQ(ask.status, 422) << ask.body;
  const json asked = Json(ask);
  EXPECT_EQ(asked["error"], "2 faces found");
  EXPECT_EQ(asked["hint"], "pick one: send its box as box=x,y,w,h");
  ASSERT_EQ(asked["faces"].size(), 2u);
  EXPECT_GT(asked["width"].get<int>(), 0);
  const json second = asked["faces"][1]["box"];
  const std::string box = std::to_string(second["x"].get<int>()) + "," + std::to_string(second["y"].get<int>()) +
                          "," + std::to_string(second["w"].get<int>()) + "," + std::to_string(second["h"].get<int>());
  const auto picked = enrol(box);
  ASSERT_EQ(picked.status, 200) << picked.body;
  EXPECT_EQ(Json(picked)["box"], second);
  EXPECT_EQ(enrol("0,0,4,4").status, 422);
  EXPECT_EQ(Json(enrol("0,0,4,4"))["error"], "no face at the given box");
  EXPECT_EQ(enrol("1,2,three").status, 400);
  EXPECT_EQ(Json(c.Get("/api/v1/recognition/permitted-faces"))["people"][0]["faces"], 1);
}

TEST_F(RecognitionApiTest, StrangersAreGroupedNamedAtOnceAndAnEventSaysWhoItWas) {
  auto server = StartRecognition({"--event-dedup-s", "0"});
  HttpClient c(server.port());
  for (const std::string* face : {&biden_, &biden_, &biden_, &obama_, &obama_}) {
    ASSERT_EQ(c.PostJpeg("/api/v1/stream/stream", *face, "gate").status, 200);
  }
  json strangers;
  ASSERT_TRUE(testing::WaitFor([&] {
    strangers = Json(c.Get("/api/v1/recognition/strangers"));
    return strangers["strangers"].size() == 2 && strangers["strangers"][0]["sightings"] == 2 &&
           strangers["strangers"][1]["sightings"] == 3;
  })) << strangers.dump();
  const json biden = strangers["strangers"][1];  // seen first, so listed last
  EXPECT_EQ(biden["cameras"], json::parse(R"([{"device_id":"gate","sightings":3}])"));
  EXPECT_EQ(biden["thumbnail_urls"].size(), 3u);
  EXPECT_EQ(c.Get(biden["thumbnail_urls"][0].get<std::string>()).headers["content-type"], "image/jpeg");
  EXPECT_EQ(strangers["window_hours"], 24) << "the footage's retention age";

  const std::string biden_id = std::to_string(biden["id"].get<int64_t>());
  EXPECT_EQ(c.Request("POST", "/api/v1/recognition/strangers/" + biden_id + "/enrol", "{\"name\": \"\"}").status, 400);
  EXPECT_EQ(c.Request("POST", "/api/v1/recognition/strangers/999999/enrol", "{\"name\": \"X\"}").status, 404);
  EXPECT_EQ(c.Get("/api/v1/recognition/strangers?hours=0").status, 400);
  const auto named = c.Request("POST", "/api/v1/recognition/strangers/" + biden_id + "/enrol", "{\"name\": \"Joe Biden\"}");
  ASSERT_EQ(named.status, 200) << named.body;
  EXPECT_EQ(Json(named)["face_ids"].size(), 3u);
  EXPECT_TRUE(Json(named)["new_person"].get<bool>());
  strangers = Json(c.Get("/api/v1/recognition/strangers"));
  ASSERT_EQ(strangers["strangers"].size(), 1u) << strangers.dump();
  auto seen = Json(c.PostJpeg("/api/v1/stream/stream", biden_, "gate"));
  EXPECT_EQ(seen["recognition"]["faces"][0]["name"], "Joe Biden") << seen.dump();

  // "This is ..." on one event: the face it kept is enrolled.
  const std::string obama_event = std::to_string(strangers["strangers"][0]["event_ids"][0].get<int64_t>());
  const auto is = c.Request("POST", "/api/v1/events/" + obama_event + "/enrol", "{\"name\": \"Barack Obama\"}");
  ASSERT_EQ(is.status, 200) << is.body;
  EXPECT_EQ(Json(is)["name"], "Barack Obama");
  seen = Json(c.PostJpeg("/api/v1/stream/stream", obama_, "gate"));
  EXPECT_EQ(seen["recognition"]["faces"][0]["name"], "Barack Obama") << seen.dump();
  EXPECT_TRUE(Json(c.Get("/api/v1/recognition/strangers"))["strangers"].empty());
  const json online = Json(c.Get("/api/v1/events?type=device_online"))["events"][0];
  const auto refused = c.Request("POST", "/api/v1/events/" + std::to_string(online["id"].get<int64_t>()) + "/enrol",
                                 "{\"name\": \"Nobody\"}");
  EXPECT_EQ(refused.status, 400) << refused.body;

  // The log by person and by several kinds at once.
  const int64_t joe = Json(named)["person_id"];
  json about;
  ASSERT_TRUE(testing::WaitFor([&] {
    about = Json(c.Get("/api/v1/events?type=person_recognised,person_added&person_id=" + std::to_string(joe)));
    return about["events"].size() == 2;
  })) << about.dump();
  EXPECT_EQ(about["events"][0]["type"], "person_recognised");
  EXPECT_EQ(about["events"][1]["type"], "person_added");
  json kinds;  // the last recognition's event is logged after its answer
  EXPECT_TRUE(testing::WaitFor([&] {
    kinds = Json(c.Get("/api/v1/events?type=unknown_face,person_recognised"));
    return kinds["events"].size() == 7u;
  })) << kinds.dump();
  const auto bad = c.Get("/api/v1/events?type=unknown_face,sneeze");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(Json(bad)["error"].get<std::string>().find("person_recognised"), std::string::npos);
}

}  // namespace
}  // namespace iotstream
