#include "notify/mqtt_outbox.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "notify/mqtt.h"

namespace iotstream::notify {
namespace {

MqttMessage Msg(const std::string& topic, const std::string& payload = "x") { return MqttMessage{topic, payload}; }

// Sends what the window allows, giving ids from *next_mid; returns the topics sent.
std::vector<std::string> SendAll(MqttOutbox& box, size_t window, int* next_mid) {
  std::vector<std::string> sent;
  while (const MqttMessage* m = box.Next(window)) {
    sent.push_back(m->topic);
    box.MarkSent((*next_mid)++);
  }
  return sent;
}

TEST(MqttOutbox, SendsInOrderWithinTheWindowAndForgetsAckedMessages) {
  MqttOutbox box(100, 1 << 20);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(box.Push(Msg("t" + std::to_string(i))));
  int mid = 1;
  EXPECT_EQ(SendAll(box, 2, &mid), (std::vector<std::string>{"t0", "t1"}));
  EXPECT_EQ(box.Ack(2)->topic, "t1");  // acks may come in any order; an ack hands back its message
  EXPECT_FALSE(box.Ack(2).has_value());
  EXPECT_EQ(SendAll(box, 2, &mid), (std::vector<std::string>{"t2"}));
  EXPECT_TRUE(box.Ack(1).has_value());
  EXPECT_TRUE(box.Ack(3).has_value());
  EXPECT_EQ(SendAll(box, 2, &mid), (std::vector<std::string>{"t3", "t4"}));
  EXPECT_EQ(box.size(), 2u);
  EXPECT_TRUE(box.Ack(4).has_value());
  EXPECT_TRUE(box.Ack(5).has_value());
  EXPECT_EQ(box.size(), 0u);
  EXPECT_EQ(box.bytes(), 0u);
}

TEST(MqttOutbox, RefusesBeyondItsBounds) {
  MqttOutbox by_count(2, 1 << 20);
  EXPECT_TRUE(by_count.Push(Msg("a")));
  EXPECT_TRUE(by_count.Push(Msg("b")));
  EXPECT_FALSE(by_count.Push(Msg("c")));
  EXPECT_EQ(by_count.size(), 2u);

  MqttOutbox by_bytes(100, 10);
  EXPECT_TRUE(by_bytes.Push(Msg("a", "12345678")));  // 9 bytes
  EXPECT_FALSE(by_bytes.Push(Msg("b", "12")));
  EXPECT_TRUE(by_bytes.Push(Msg("", "1")));
}

TEST(MqttOutbox, AfterAReconnectNewMessagesWaitForTheResentOnes) {
  MqttOutbox box(100, 1 << 20);
  for (const char* t : {"a", "b", "c"}) ASSERT_TRUE(box.Push(Msg(t)));
  int mid = 1;
  EXPECT_EQ(SendAll(box, 2, &mid), (std::vector<std::string>{"a", "b"}));
  box.OnReconnect();  // the library re-sends a and b
  EXPECT_TRUE(box.Ack(1).has_value());
  EXPECT_EQ(box.Next(2), nullptr) << "c must not overtake b";
  EXPECT_TRUE(box.Ack(2).has_value());
  EXPECT_EQ(SendAll(box, 2, &mid), (std::vector<std::string>{"c"}));
}

TEST(MqttOutbox, SessionMessagesGoAheadOfTheWaitingOnesAndReplaceTheirUnsentCopies) {
  MqttOutbox box(2, 1 << 20);
  ASSERT_TRUE(box.Push(Msg("e1")));
  ASSERT_TRUE(box.Push(Msg("e2")));
  int mid = 1;
  EXPECT_EQ(SendAll(box, 1, &mid), (std::vector<std::string>{"e1"}));
  box.PushSession({Msg("available", "online"), Msg("config")});
  box.PushSession({Msg("config", "newer")});  // replaces the unsent copy
  EXPECT_EQ(box.size(), 4u) << "session messages are not refused by the bounds";
  EXPECT_TRUE(box.Ack(1).has_value());
  std::vector<std::string> order;
  while (const MqttMessage* m = box.Next(10)) {
    order.push_back(m->topic + "=" + m->payload);
    box.MarkSent(mid++);
  }
  EXPECT_EQ(order, (std::vector<std::string>{"config=newer", "available=online", "e2=x"}));
}

TEST(MqttOutbox, DropNextRemovesARefusedMessage) {
  MqttOutbox box(10, 1 << 20);
  ASSERT_TRUE(box.Push(Msg("bad")));
  ASSERT_TRUE(box.Push(Msg("good")));
  box.DropNext();
  ASSERT_NE(box.Next(1), nullptr);
  EXPECT_EQ(box.Next(1)->topic, "good");
  EXPECT_EQ(box.size(), 1u);
}

TEST(MqttUrl, ParsesHostPortCredentialsAndTls) {
  auto plain = ParseMqttUrl("mqtt://broker.lan:1884");
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_FALSE(plain.value().tls);
  EXPECT_EQ(plain.value().host, "broker.lan");
  EXPECT_EQ(plain.value().port, 1884);
  EXPECT_EQ(plain.value().user, "");

  auto creds = ParseMqttUrl("mqtts://ha:p%40ss:word@10.0.0.2");
  ASSERT_TRUE(creds.ok()) << creds.status().ToString();
  EXPECT_TRUE(creds.value().tls);
  EXPECT_EQ(creds.value().port, 8883);
  EXPECT_EQ(creds.value().user, "ha");
  EXPECT_EQ(creds.value().password, "p@ss:word");
  EXPECT_EQ(creds.value().host, "10.0.0.2");

  auto v6 = ParseMqttUrl("mqtt://[::1]:1883/");
  ASSERT_TRUE(v6.ok()) << v6.status().ToString();
  EXPECT_EQ(v6.value().host, "::1");
  EXPECT_EQ(ParseMqttUrl("mqtt://host").value().port, 1883);
}

TEST(MqttUrl, RejectsWhatIsNotAnMqttUrl) {
  for (const char* bad : {"", "http://host:1883", "mqtt://", "mqtt://host:", "mqtt://host:0", "mqtt://host:65536",
                          "mqtt://host:12x", "mqtt://host/topic", "mqtt://@host", "mqtt://u:%zz@host", "mqtt://[::1"}) {
    auto r = ParseMqttUrl(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_TRUE(r.status().IsInvalidArgument()) << bad;
    }
  }
}

}  // namespace
}  // namespace iotstream::notify
