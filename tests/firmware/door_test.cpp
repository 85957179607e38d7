// Door mode: the scan of /stream answers for a permitted face, and the door's output over (manual) time, driven
// through the real Uploader over a transport with canned answers.
#include "uploader/door.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fakes.h"

namespace iotstream::firmware {
namespace {

using testing::CannedTransport;
using testing::HttpAnswer;
using testing::ManualClock;
using testing::RecordingLog;
using testing::RecordingOut;

// Shaped like iotstream's /api/v1/stream/stream answers (docs/api.md).
std::string StreamAnswer(const std::string& faces) {
  return R"({"success":true,"device_id":"door","frame_id":7,"width":640,"height":480,"size":100,)"
         R"("timestamp":1700000000000,"stored":true,"recognition":{"faces":[)" +
         faces + R"(],"timing_ms":{"decode":3.1,"detect":20.5,"align":1,"describe":9,"match":0.1}}})";
}
const std::string kAlice =
    R"({"box":{"x":10,"y":20,"w":100,"h":100},"name":"Alice","person_id":3,"distance":0.41,"permitted":true})";
const std::string kStranger =
    R"({"box":{"x":300,"y":20,"w":90,"h":90},"name":null,"person_id":null,"distance":0.72,"permitted":false})";

TEST(DoorTest, FindsThePermittedFaceInAStreamAnswer) {
  std::string name = "before";
  EXPECT_TRUE(FindPermittedFace(StreamAnswer(kAlice), &name));
  EXPECT_EQ(name, "Alice");
  name = "before";
  EXPECT_TRUE(FindPermittedFace(StreamAnswer(kStranger + "," + kAlice), &name));
  EXPECT_EQ(name, "Alice");
  EXPECT_TRUE(FindPermittedFace(R"({ "recognition" : { "faces" : [ { "permitted" : true , "name" : "Jos\u00e9 \"J\"" } ] } })",
                                &name));
  EXPECT_EQ(name, "Jos? \"J\"");
}

TEST(DoorTest, FindsNoPermittedFaceWhereThereIsNone) {
  std::string name = "untouched";
  EXPECT_FALSE(FindPermittedFace(StreamAnswer(kStranger), &name));
  EXPECT_FALSE(FindPermittedFace(StreamAnswer(""), &name));
  EXPECT_FALSE(FindPermittedFace(R"({"success":true,"stored":true,"recognition":null})", &name));
  EXPECT_FALSE(FindPermittedFace(R"({"permitted":true,"name":"top level is not a face"})", &name));
  EXPECT_FALSE(FindPermittedFace(R"({"error":"recognition: timed out","frame_id":9,"stored":true})", &name));
  EXPECT_FALSE(FindPermittedFace(R"({"recognition":{"faces":[{"permitted":true,"name":"cut off)", &name));
  EXPECT_FALSE(FindPermittedFace("not json", &name));
  EXPECT_EQ(name, "untouched");
}

class DoorModeTest : public ::testing::Test {
 protected:
  void Build(std::vector<std::string> answers) {
    transport_ = std::make_unique<CannedTransport>(std::move(answers));
    UploaderOptions o;
    o.host = "door.test";
    o.path = "/api/v1/stream/stream";
    o.device_id = "door";
    uploader_ = std::make_unique<Uploader>(o, *transport_, clock_, log_);
    door_ = std::make_unique<Door>(DoorOptions{1000, 5000, 10}, *uploader_, out_, clock_, log_);
  }

  ManualClock clock_;
  RecordingLog log_;
  RecordingOut out_;
  testing::TinyJpegCamera camera_;
  std::unique_ptr<CannedTransport> transport_;
  std::unique_ptr<Uploader> uploader_;
  std::unique_ptr<Door> door_;
};

TEST_F(DoorModeTest, APermittedFaceSwitchesTheOutputOnForOpenMs) {
  Build({HttpAnswer(200, StreamAnswer(kAlice)), HttpAnswer(200, StreamAnswer(""))});
  EXPECT_FALSE(out_.on());
  EXPECT_TRUE(door_->RunOnce(camera_, false));
  EXPECT_TRUE(out_.on());
  EXPECT_EQ(door_->last_name(), "Alice");
  ASSERT_EQ(transport_->requests.size(), 1u);
  EXPECT_EQ(transport_->requests[0].rfind("POST /api/v1/stream/stream HTTP/1.1\r\n", 0), 0u);

  // Next post after a second finds nobody; the door stays open until 5 s after Alice.
  const uint64_t opened = clock_.MonotonicUs();
  while (clock_.MonotonicUs() < opened + 4'990'000) {
    door_->RunOnce(camera_, false);
    ASSERT_TRUE(out_.on()) << "closed early at +" << (clock_.MonotonicUs() - opened) << " us";
  }
  while (clock_.MonotonicUs() < opened + 5'000'000) door_->RunOnce(camera_, false);
  door_->RunOnce(camera_, false);
  EXPECT_FALSE(out_.on());
  EXPECT_EQ(transport_->requests.size(), 6u);  // one a second: at 0, 1, 2, 3, 4 and 5 s
}

TEST_F(DoorModeTest, AStrangerLeavesTheOutputOff) {
  Build({HttpAnswer(200, StreamAnswer(kStranger))});
  for (int i = 0; i < 300; ++i) door_->RunOnce(camera_, false);
  EXPECT_FALSE(out_.on());
  EXPECT_GE(transport_->requests.size(), 3u);
}

TEST_F(DoorModeTest, AnErrorAnswerLeavesTheOutputOff) {
  Build({HttpAnswer(504, R"({"error":"recognition: timed out","recognition":{"faces":[{"permitted":true}]}})")});
  door_->RunOnce(camera_, false);
  EXPECT_FALSE(out_.on());
}

TEST_F(DoorModeTest, TheTriggerPostsAtOnceOncePerRise) {
  Build({HttpAnswer(200, StreamAnswer(""))});
  door_->RunOnce(camera_, false);
  ASSERT_EQ(transport_->requests.size(), 1u);
  door_->RunOnce(camera_, false);
  EXPECT_EQ(transport_->requests.size(), 1u);  // within the interval
  door_->RunOnce(camera_, true);
  EXPECT_EQ(transport_->requests.size(), 2u);  // the rise
  door_->RunOnce(camera_, true);
  EXPECT_EQ(transport_->requests.size(), 2u);  // still high: no new rise
  door_->RunOnce(camera_, false);
  door_->RunOnce(camera_, true);
  EXPECT_EQ(transport_->requests.size(), 3u);
}

}  // namespace
}  // namespace iotstream::firmware
