#include "core/frame_sink.h"

#include <gtest/gtest.h>

#include <vector>

#include "core/event.h"

namespace iotstream {
namespace {

FramePtr MakeFrame(uint64_t id) {
  Frame::Meta m;
  m.id = id;
  m.device_id = "cam";
  return std::make_shared<const Frame>(std::move(m), "JPEG", 0, 4);
}

// Keeps what it was offered; reports `result` at once, or later through Finish() when `deferred`.
class RecordingSink final : public FrameSink {
 public:
  void Offer(const FramePtr& frame, FramePath path, DoneCallback done) override {
    offers.push_back({frame->id(), path, static_cast<bool>(done)});
    if (!done) return;
    if (deferred) {
      pending = std::move(done);
    } else {
      done(result);
    }
  }
  void Finish() { std::exchange(pending, nullptr)(result); }

  struct Offered {
    uint64_t id;
    FramePath path;
    bool with_done;
  };
  std::vector<Offered> offers;
  Status result;
  bool deferred = false;
  DoneCallback pending;
};

TEST(FrameHandOff, FastPathOffersEverySinkWithoutDone) {
  RecordingSink waited, other;
  FrameHandOff hand_off;
  hand_off.AddSink(&waited, /*wait_on_stream=*/true);
  hand_off.AddSink(&other, /*wait_on_stream=*/false);
  hand_off.Publish(MakeFrame(7));
  for (const auto* s : {&waited, &other}) {
    ASSERT_EQ(s->offers.size(), 1u);
    EXPECT_EQ(s->offers[0].id, 7u);
    EXPECT_EQ(s->offers[0].path, FramePath::kFast);
    EXPECT_FALSE(s->offers[0].with_done);
  }
}

TEST(FrameHandOff, StreamPathWaitsForEveryWaitedSinkAndReportsTheFirstError) {
  RecordingSink a, b, unwaited;
  a.deferred = b.deferred = true;
  a.result = Status::Unavailable("queue full");
  b.result = Status::IOError("disk");
  FrameHandOff hand_off;
  hand_off.AddSink(&a, true);
  hand_off.AddSink(&unwaited, false);
  hand_off.AddSink(&b, true);
  int calls = 0;
  Status got;
  hand_off.PublishAndWait(MakeFrame(1), [&](Status st) {
    ++calls;
    got = st;
  });
  EXPECT_EQ(unwaited.offers.at(0).path, FramePath::kStream);
  EXPECT_FALSE(unwaited.offers.at(0).with_done);
  EXPECT_TRUE(a.offers.at(0).with_done);
  a.Finish();
  EXPECT_EQ(calls, 0);  // b has not reported yet
  b.Finish();
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(got.IsUnavailable()) << got.ToString();
}

TEST(FrameHandOff, StreamPathWithNoWaitedSinkAnswersAtOnce) {
  RecordingSink live;
  FrameHandOff hand_off;
  hand_off.AddSink(&live, false);
  bool answered = false;
  hand_off.PublishAndWait(MakeFrame(2), [&](Status st) { answered = st.ok(); });
  EXPECT_TRUE(answered);
  ASSERT_EQ(live.offers.size(), 1u);
  EXPECT_EQ(live.offers[0].path, FramePath::kStream);
}

class RecordingPublisher final : public EventPublisher {
 public:
  void Publish(const EventPtr& event) override { seen.push_back(event); }
  std::vector<EventPtr> seen;
};

TEST(EventBus, EveryPublisherGetsTheSameEvent) {
  RecordingPublisher ws, mqtt;
  EventBus bus;
  bus.AddPublisher(&ws);
  bus.AddPublisher(&mqtt);
  auto event = std::make_shared<const Event>(Event{"device_online", "cam", R"({"type":"device_online"})"});
  bus.Publish(event);
  ASSERT_EQ(ws.seen.size(), 1u);
  ASSERT_EQ(mqtt.seen.size(), 1u);
  EXPECT_EQ(ws.seen[0].get(), event.get());  // built once, shared
  EXPECT_EQ(mqtt.seen[0].get(), event.get());
}

}  // namespace
}  // namespace iotstream
