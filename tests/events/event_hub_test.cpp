// The event hub against a real event log (SQLite in a temporary folder): every kind is logged with an increasing
// id and published in the order it happened; presence and storage pressure make their own events.
#include "events/events.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <mutex>
#include <vector>

#include "core/clock.h"
#include "events/schema.h"
#include "vision/thumbnail.h"
#include "support/test_support.h"

namespace iotstream::events {
namespace {

using nlohmann::json;

class Collector final : public EventPublisher {
 public:
  void Publish(const EventPtr& event) override {
    std::lock_guard lock(mu_);
    seen_.push_back(json::parse(event->json));
  }
  std::vector<json> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  std::mutex mu_;
  std::vector<json> seen_;
};

class EventHubTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = store::Records::Open(dir_.path().string());
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    records_ = std::move(opened).value();
    bus_.AddPublisher(&out_);
    hub_ = std::make_unique<EventHub>(options_, *records_, gallery_, registry_, bus_, metrics_);
    registry_.SetStateListener([this](const std::string& id, ingest::DeviceRegistry::Change c, int64_t ts) {
      hub_->OnDeviceChange(id, c, ts);
    });
  }
  std::vector<std::string> Types() {
    std::vector<std::string> types;
    for (const auto& e : out_.seen()) types.push_back(e["type"]);
    return types;
  }
  bool WaitForCount(size_t n) {
    return testing::WaitFor([&] { return out_.seen().size() >= n; });
  }

  testing::TempDir dir_;
  EventOptions options_{.dedup_window_ms = 10'000, .presence_timeout_ms = 60'000, .pressure_interval_ms = 60'000};
  std::unique_ptr<store::Records> records_;
  vision::Gallery gallery_;
  ingest::DeviceRegistry registry_{{.offline_after_ms = 10'000}};
  Metrics metrics_;
  EventBus bus_;
  Collector out_;
  std::unique_ptr<EventHub> hub_;
};

TEST_F(EventHubTest, DeviceChangesAreLoggedWithIncreasingIdsAndPublishedInOrder) {
  registry_.RecordAccepted("cam", 100, 640, 480, 1'000);
  registry_.CheckOffline(20'000);
  ASSERT_TRUE(registry_.Update("cam", {.name = "Porch"}).ok());
  hub_->OnDeviceUpdated("cam", 20'001);
  hub_->OnDeviceRemoved("cam", 20'002);
  ASSERT_TRUE(WaitForCount(5));
  EXPECT_EQ(Types(), (std::vector<std::string>{"device_added", "device_online", "device_offline", "device_updated",
                                               "device_removed"}));
  const auto seen = out_.seen();
  for (size_t i = 1; i < seen.size(); ++i) EXPECT_GT(seen[i]["id"], seen[i - 1]["id"]);
  EXPECT_EQ(seen[3]["device"]["name"], "Porch");
  store::EventQuery q;
  q.since_id = 0;
  auto logged = records_->ListEvents(q);
  ASSERT_TRUE(logged.ok());
  ASSERT_EQ(logged.value().size(), 5u);
  EXPECT_EQ(EventJson(logged.value()[2]), seen[2]);  // the log keeps what was sent
}

TEST_F(EventHubTest, APersonNotSeenForTheTimeoutHasLeftOnce) {
  Frame::Meta m;
  m.id = 1;
  m.device_id = "door";
  const int64_t now = NowMs();
  m.received_ts_ms = now;
  auto frame = std::make_shared<const Frame>(std::move(m), "", 0, 0);
  vision::Recognition r;
  vision::RecognizedFace face;
  face.match.person_id = 3;
  face.match.name = "Ada";
  face.match.distance = 0.3f;
  r.faces.push_back(face);
  hub_->OnRecognition(frame, r);
  ASSERT_TRUE(WaitForCount(1));
  hub_->CheckPresence(now + 30'000);  // within the timeout: still here
  hub_->CheckPresence(now + 70'000);  // the sighting was at `now` plus the little this test took
  hub_->CheckPresence(now + 80'000);
  ASSERT_TRUE(WaitForCount(2));
  hub_.reset();  // writes what is queued: no third event may hide behind the wait
  EXPECT_EQ(Types(), (std::vector<std::string>{"person_recognised", "person_left"}));
  const json left = out_.seen()[1];
  EXPECT_EQ(left["name"], "Ada");
  EXPECT_EQ(left["person_id"], 3);
  EXPECT_EQ(left["device_id"], "door");
}

TEST_F(EventHubTest, AFaceThatContinuesItsTrackMakesNoNewEvent) {
  hub_.reset();
  EventOptions no_window = options_;
  no_window.dedup_window_ms = 0;  // only the tracking decides here
  hub_ = std::make_unique<EventHub>(no_window, *records_, gallery_, registry_, bus_, metrics_);
  Frame::Meta m;
  m.id = 1;
  m.device_id = "door";
  auto frame = std::make_shared<const Frame>(std::move(m), "", 0, 0);
  vision::RecognizedFace face;
  face.match.person_id = 3;
  face.match.name = "Ada";
  for (const bool continued : {false, true, true, false}) {
    vision::Recognition r;
    face.continued = continued;
    r.faces.push_back(face);
    hub_->OnRecognition(frame, r);
  }
  hub_.reset();
  EXPECT_EQ(Types(), (std::vector<std::string>{"person_recognised", "person_recognised"}));
  EXPECT_EQ(metrics_.CounterValue("events_deduplicated_total").value(), 2u);
}

TEST_F(EventHubTest, AnAppearancesEventKeepsItsBestFaceAndItsEndIsLoggedWithThatEvent) {
  Frame::Meta m;
  m.id = 1;
  m.device_id = "door";
  auto frame = std::make_shared<const Frame>(std::move(m), "", 0, 0);
  const auto face_of = [](uint64_t track, std::optional<int64_t> person, bool continued, bool better, float shade) {
    vision::RecognizedFace f;
    f.track_id = track;
    f.match.person_id = person;
    f.match.name = person ? "Ada" : "";
    f.continued = continued;
    f.better = better;
    f.face.descriptor[0] = shade;
    f.face.chip.assign(static_cast<size_t>(vision::kChipSize) * vision::kChipSize * 3, static_cast<uint8_t>(shade * 255));
    return f;
  };
  const auto recognise = [&](const vision::RecognizedFace& f) {
    vision::Recognition r;
    r.faces.push_back(f);
    hub_->OnRecognition(frame, r);
  };
  recognise(face_of(5, 3, false, false, 0.1f));  // Ada comes in: an event
  recognise(face_of(5, 3, true, false, 0.2f));   // the same appearance: nothing
  const auto best = face_of(5, 3, true, true, 0.8f);
  recognise(best);                                   // nearer: the event's face from now on
  recognise(face_of(6, std::nullopt, false, false, 0.3f));  // a stranger: an event
  recognise(face_of(7, std::nullopt, false, false, 0.4f));  // another, within the window: folded, no event
  hub_->OnAppearanceEnded("door", 5, 3, 1'000, 2'500);
  hub_->OnAppearanceEnded("door", 7, std::nullopt, 1'000, 1'500);  // began folded: ends silently
  hub_->OnAppearanceEnded("door", 6, std::nullopt, 1'200, 1'300);
  hub_->OnAppearanceEnded("door", 99, 3, 1'000, 1'100);  // never recognised here: nothing
  hub_.reset();
  ASSERT_EQ(Types(), (std::vector<std::string>{"person_recognised", "unknown_face", "appearance_ended",
                                               "appearance_ended"}));
  const auto seen = out_.seen();
  const json& ada = seen[2];
  EXPECT_EQ(ada["event_id"], seen[0]["id"]);
  EXPECT_EQ(ada["person_id"], 3);
  EXPECT_EQ(ada["name"], "Ada");
  EXPECT_EQ(ada["device_id"], "door");
  EXPECT_EQ(ada["first_seen"], 1'000);
  EXPECT_EQ(ada["duration_ms"], 1'500);
  EXPECT_EQ(seen[3]["event_id"], seen[1]["id"]);
  EXPECT_TRUE(seen[3]["name"].is_null());

  auto event = records_->GetEvent(seen[0]["id"].get<int64_t>());
  ASSERT_TRUE(event.ok());
  ASSERT_EQ(event.value().descriptor.size(), vision::kDescriptorSize);
  EXPECT_FLOAT_EQ(event.value().descriptor[0], 0.8f) << "the best face's descriptor, for feedback and enrolment";
  EXPECT_EQ(EventJson(event.value())["box"], seen[0]["box"]) << "the message stays as sent";
  auto thumbnail = records_->ReadEventThumbnail(seen[0]["id"].get<int64_t>());
  ASSERT_TRUE(thumbnail.ok());
  EXPECT_EQ(thumbnail.value(), vision::FaceThumbnail(best.face).value());
  EXPECT_EQ(metrics_.CounterValue("events_better_faces_total").value(), 1u);
}

TEST_F(EventHubTest, StoragePressureIsReportedOncePerReasonPerInterval) {
  hub_->OnStoragePressure("queue_full", 3, 10, 100, 1'000);
  hub_->OnStoragePressure("queue_full", 4, 10, 100, 30'000);   // within the interval: folded
  hub_->OnStoragePressure("disk_budget", 0, 96, 100, 30'000);  // another reason
  hub_->OnStoragePressure("queue_full", 1, 10, 100, 61'001);
  hub_.reset();
  EXPECT_EQ(Types(), (std::vector<std::string>{"storage_pressure", "storage_pressure", "storage_pressure"}));
  const auto seen = out_.seen();
  EXPECT_EQ(seen[0]["frames_dropped"], 3);
  EXPECT_EQ(seen[1]["reason"], "disk_budget");
  EXPECT_EQ(seen[2]["frames_dropped"], 1);
}

}  // namespace
}  // namespace iotstream::events
