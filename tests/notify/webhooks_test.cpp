#include "notify/webhooks.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "events/schema.h"
#include "notify/receiver.h"
#include "support/test_ca.h"
#include "support/test_support.h"

namespace iotstream::notify {
namespace {

using iotstream::testing::Receiver;
using iotstream::testing::TempDir;
using iotstream::testing::WaitFor;
using nlohmann::json;

constexpr std::chrono::seconds kWait{20};

// The test's own HMAC-SHA256, straight from OpenSSL, in hex.
std::string Hmac(const std::string& body, const std::string& key) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(body.data()),
       body.size(), md, &len);
  char hex[3];
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(hex, sizeof hex, "%02x", md[i]);
    out += hex;
  }
  return out;
}

std::vector<int64_t> IdsOf(const std::vector<Receiver::Request>& requests) {
  std::vector<int64_t> ids;
  for (const auto& r : requests) ids.push_back(json::parse(r.body).at("id").get<int64_t>());
  return ids;
}

class WebhooksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    records_ = store::Records::Open(dir_.path().string()).value();
    options_.first_backoff_ms = 20;
    options_.max_backoff_ms = 100;
  }

  void Start() {
    auto started = WebhookPublisher::Start(options_, dir_.path().string(), *records_, metrics_);
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    publisher_ = std::move(started).value();
  }

  store::WebhookRecord Spec(const std::string& url) {
    store::WebhookRecord w;
    w.url = url;
    return w;
  }

  int64_t Create(store::WebhookRecord spec) {
    auto created = publisher_->Create(std::move(spec));
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    return created.ok() ? created.value().id : 0;
  }

  // Logs an event as the event hub does; publishes it unless told not to (a crash before the bus).
  int64_t Log(store::EventRecord e, bool publish = true) {
    EXPECT_TRUE(records_->AppendEvent(&e, "").ok());
    if (publish) publisher_->Publish(events::ToEvent(e));
    return e.id;
  }
  int64_t DeviceEvent(const char* type, const std::string& device, bool publish = true) {
    return Log(events::DeviceEvent(type, device, NowMs(), nullptr), publish);
  }
  int64_t Recognised(const std::string& device, int64_t person_id, const std::string& name) {
    store::EventRecord e;
    e.type = name.empty() ? events::type::kUnknownFace : events::type::kPersonRecognised;
    e.ts_ms = NowMs();
    e.device_id = device;
    e.person_id = person_id;
    e.name = name;
    e.message = json{{"type", e.type},         {"ts", e.ts_ms},
                     {"device_id", device},    {"person_id", person_id},
                     {"name", name.empty() ? json(nullptr) : json(name)}, {"frame_received_at", e.ts_ms - 5}}
                    .dump();
    return Log(std::move(e));
  }

  // Logs `n` device events of `type` from cam0, cam1, ...; their ids are appended to `sent`.
  void DeviceEvents(int n, const char* type, std::vector<int64_t>* sent) {
    for (int i = 0; i < n; ++i) sent->push_back(DeviceEvent(type, "cam" + std::to_string(i)));
  }
  // Waits until `receiver` has as many events as `sent`: they are `sent`, in order, over `connections` connections.
  void ExpectReceived(const Receiver& receiver, const std::vector<int64_t>& sent, size_t connections) {
    ASSERT_TRUE(WaitFor([&] { return receiver.Accepted().size() >= sent.size(); }, kWait));
    EXPECT_EQ(IdsOf(receiver.Accepted()), sent);
    EXPECT_EQ(receiver.Connections(), connections);
  }

  uint64_t CounterValue(const std::string& name) { return metrics_.CounterValue(name).value(); }

  TempDir dir_;
  std::unique_ptr<store::Records> records_;
  Metrics metrics_;
  WebhookOptions options_;
  std::unique_ptr<WebhookPublisher> publisher_;
};

TEST_F(WebhooksTest, ADeliveryIsSignedWithTheSecretAndNamesItsEventAndDelivery) {
  Receiver receiver;
  Start();
  auto spec = Spec(receiver.Url("/signed?x=1"));
  spec.secret = "correct horse battery staple";
  const int64_t hook = Create(spec);
  const int64_t event = Recognised("door", 7, "alice");

  ASSERT_TRUE(WaitFor([&] { return receiver.Accepted().size() == 1; }, kWait));
  const auto req = receiver.Accepted()[0];
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.target, "/signed?x=1");
  EXPECT_EQ(req.headers.at("content-type"), "application/json");
  EXPECT_EQ(req.headers.at("x-iotstream-event"), "person_recognised");
  EXPECT_EQ(req.headers.at("x-iotstream-delivery"), std::to_string(hook) + "-" + std::to_string(event));
  EXPECT_EQ(req.headers.at("x-iotstream-signature"), "sha256=" + Hmac(req.body, "correct horse battery staple"));
  EXPECT_NE(req.headers.at("x-iotstream-signature"), "sha256=" + Hmac(req.body, "another secret"));
  const json body = json::parse(req.body);
  EXPECT_EQ(body["id"], event);
  EXPECT_EQ(body["name"], "alice");
  EXPECT_EQ(body, events::EventJson(records_->GetEvent(event).value()));  // what the log and /ws have

  EXPECT_TRUE(WaitFor([&] { return CounterValue("notify_webhook_delivered_total") == 1; }, kWait));
  EXPECT_TRUE(WaitFor([&] { return metrics_.GaugeValue("notify_webhook_backlog").value() == 0; }, kWait));
  EXPECT_EQ(metrics_.HistogramOf("event_latency_seconds", {{"output", "webhook"}}).value()->count(), 1u);
  auto list = publisher_->List().value();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_TRUE(list[0].secret.empty());  // never shown again
  EXPECT_TRUE(list[0].last_success_ms.has_value());
}

TEST_F(WebhooksTest, FiltersPickByTypeCameraPersonAndNotPerson) {
  Receiver receiver;
  Start();
  auto types = Spec(receiver.Url("/types"));
  types.types = {"person_recognised", "unknown_face"};
  auto cameras = Spec(receiver.Url("/cameras"));
  cameras.cameras = {"garden"};
  auto persons = Spec(receiver.Url("/persons"));
  persons.persons = {"alice", "8"};  // by name, by id
  auto not_persons = Spec(receiver.Url("/not"));
  not_persons.not_persons = {"alice"};
  for (auto* s : {&types, &cameras, &persons, &not_persons}) Create(*s);

  const int64_t online = DeviceEvent(events::type::kDeviceOnline, "door");
  const int64_t alice = Recognised("door", 7, "alice");
  const int64_t bob = Recognised("garden", 8, "bob");
  const int64_t carol = Recognised("garden", 9, "carol");
  const int64_t unknown = Recognised("door", 7, "");  // nearest is alice, but it is not her

  const std::map<std::string, std::vector<int64_t>> want{
      {"/types", {alice, bob, carol, unknown}},
      {"/cameras", {bob, carol}},
      {"/persons", {alice, bob}},
      {"/not", {online, bob, carol, unknown}},
  };
  ASSERT_TRUE(WaitFor([&] { return receiver.Accepted().size() == 12; }, kWait)) << receiver.Accepted().size();
  std::map<std::string, std::vector<int64_t>> got;
  for (const auto& r : receiver.Accepted()) got[r.target].push_back(json::parse(r.body)["id"].get<int64_t>());
  EXPECT_EQ(got, want);
}

TEST_F(WebhooksTest, AReceiverThatIsDownThenBackGetsEveryEventOnceInOrder) {
  Receiver receiver;
  receiver.Refuse();
  Start();
  Create(Spec(receiver.Url()));
  std::vector<int64_t> sent;
  DeviceEvents(5, events::type::kDeviceOnline, &sent);
  ASSERT_TRUE(WaitFor([&] { return CounterValue("notify_webhook_failed_attempts_total") >= 2; }, kWait));
  EXPECT_EQ(receiver.Seen(), 0u);
  receiver.Listen();
  receiver.Answer(500);  // up but failing
  ASSERT_TRUE(WaitFor([&] { return receiver.Seen() >= 2; }, kWait));
  auto list = publisher_->List().value();
  EXPECT_EQ(list[0].backlog, 5);
  EXPECT_GE(list[0].failures, 3);
  DeviceEvents(5, events::type::kDeviceOffline, &sent);
  receiver.Answer(200);

  ASSERT_TRUE(WaitFor([&] { return receiver.Accepted().size() >= sent.size(); }, kWait));
  EXPECT_TRUE(WaitFor([&] { return publisher_->List().value()[0].backlog == 0; }, kWait));
  EXPECT_EQ(IdsOf(receiver.Accepted()), sent);
  EXPECT_EQ(CounterValue("notify_webhook_given_up_total"), 0u);
}

TEST_F(WebhooksTest, AfterItsRetryTimeADeliveryIsGivenUpAndTheNextOneGoes) {
  Receiver receiver;
  receiver.Answer(500);
  options_.retry_ms = 0;  // the first failure is the last
  Start();
  Create(Spec(receiver.Url()));
  DeviceEvent(events::type::kDeviceOnline, "door");
  ASSERT_TRUE(WaitFor([&] { return CounterValue("notify_webhook_given_up_total") == 1; }, kWait));
  auto list = publisher_->List().value();
  EXPECT_EQ(list[0].last_error, "HTTP 500");
  EXPECT_EQ(list[0].given_up, 1);
  EXPECT_EQ(list[0].backlog, 0);
  receiver.Answer(204);
  const int64_t next = DeviceEvent(events::type::kDeviceOffline, "door");
  ASSERT_TRUE(WaitFor([&] { return receiver.Accepted().size() == 1; }, kWait));
  EXPECT_EQ(IdsOf(receiver.Accepted()), std::vector<int64_t>{next});
}

TEST_F(WebhooksTest, WhatIsOwedOrNotYetFannedOutSurvivesARestart) {
  Receiver receiver;
  receiver.Refuse();
  options_.urls = {receiver.Url("/configured")};
  Start();
  std::vector<int64_t> sent;
  DeviceEvents(3, events::type::kDeviceOnline, &sent);
  ASSERT_TRUE(WaitFor([&] { return metrics_.GaugeValue("notify_webhook_backlog").value() == 3; }, kWait));
  publisher_.reset();
  // Logged while no publisher ran (as when the process dies between the log and the fan-out).
  sent.push_back(DeviceEvent(events::type::kDeviceOffline, "cam0", /*publish=*/false));

  receiver.Listen();
  Start();
  sent.push_back(DeviceEvent(events::type::kDeviceOffline, "cam1"));
  ASSERT_TRUE(WaitFor([&] { return receiver.Accepted().size() >= sent.size(); }, kWait));
  EXPECT_EQ(IdsOf(receiver.Accepted()), sent);
  auto list = publisher_->List().value();
  ASSERT_EQ(list.size(), 1u);  // the configured webhook kept its id
  EXPECT_TRUE(list[0].configured);
}

TEST_F(WebhooksTest, EventsTheQueueDroppedAreReadFromTheLog) {
  Receiver receiver;
  options_.max_queued = 1;
  Start();
  Create(Spec(receiver.Url()));
  std::vector<int64_t> sent;
  DeviceEvents(50, events::type::kDeviceOnline, &sent);
  ASSERT_TRUE(WaitFor([&] { return receiver.Accepted().size() >= sent.size(); }, kWait));
  EXPECT_EQ(IdsOf(receiver.Accepted()), sent);
}

TEST_F(WebhooksTest, BadWebhooksAreRefusedAndConfiguredOnesCannotBeDeleted) {
  options_.urls = {"http://127.0.0.1:9/configured"};
  Start();
  for (const char* url : {"ftp://x/", "http://", "http://h:0/", "http://h:70000/", "http://u@h/", "http://h/a b",
                          "http://[::1/"}) {
    EXPECT_TRUE(publisher_->Create(Spec(url)).status().IsInvalidArgument()) << url;
  }
  EXPECT_TRUE(CheckWebhookUrl("https://[::1]:8443/x?y=z").ok());
  EXPECT_TRUE(CheckWebhookUrl("http://hooks.example").ok());
  auto typo = Spec("http://127.0.0.1:9/");
  typo.types = {"person_recognized"};
  EXPECT_TRUE(publisher_->Create(typo).status().IsInvalidArgument());
  auto empty_entry = Spec("http://127.0.0.1:9/");
  empty_entry.cameras = {""};
  EXPECT_TRUE(publisher_->Create(empty_entry).status().IsInvalidArgument());

  const int64_t configured = publisher_->List().value().at(0).id;
  EXPECT_TRUE(publisher_->Delete(configured).IsInvalidArgument());
  EXPECT_TRUE(publisher_->Delete(configured + 100).IsNotFound());
  const int64_t mine = Create(Spec("http://127.0.0.1:9/mine"));
  EXPECT_TRUE(publisher_->Delete(mine).ok());
  EXPECT_EQ(publisher_->List().value().size(), 1u);
  EXPECT_EQ(WebhookSignature("", ""), Hmac("", ""));
}

TEST(WebhookStart, ABadConfiguredUrlIsRefused) {
  TempDir dir;
  Metrics metrics;
  auto records = store::Records::Open(dir.path().string()).value();
  WebhookOptions options;
  options.urls = {"localhost:8080/hook"};
  EXPECT_TRUE(WebhookPublisher::Start(options, dir.path().string(), *records, metrics).status().IsInvalidArgument());
}

TEST_F(WebhooksTest, ManyEventsGoOverOneKeptAliveConnection) {
  Receiver receiver;
  Start();
  Create(Spec(receiver.Url()));
  std::vector<int64_t> sent;
  DeviceEvents(20, events::type::kDeviceOnline, &sent);
  ExpectReceived(receiver, sent, 1);
  EXPECT_EQ(CounterValue("notify_webhook_failed_attempts_total"), 0u);
}

TEST_F(WebhooksTest, AConnectionTheReceiverClosedIsReplacedWithoutAFailedAttempt) {
  Receiver receiver;
  Start();
  Create(Spec(receiver.Url()));
  std::vector<int64_t> sent;
  DeviceEvents(3, events::type::kDeviceOnline, &sent);
  ASSERT_TRUE(WaitFor([&] { return receiver.Accepted().size() >= sent.size(); }, kWait));
  receiver.CloseConnections();  // as a receiver's idle timeout would, between two deliveries
  DeviceEvents(3, events::type::kDeviceOffline, &sent);
  ExpectReceived(receiver, sent, 2);
  EXPECT_EQ(CounterValue("notify_webhook_failed_attempts_total"), 0u);
}

TEST_F(WebhooksTest, AReceiverThatClosesAfterEachAnswerGetsEveryEventOnANewConnection) {
  Receiver::Options closing;
  closing.close_each = true;
  Receiver receiver(closing);
  Start();
  Create(Spec(receiver.Url()));
  std::vector<int64_t> sent;
  DeviceEvents(5, events::type::kDeviceOnline, &sent);
  ExpectReceived(receiver, sent, 5);
  EXPECT_EQ(CounterValue("notify_webhook_failed_attempts_total"), 0u);
}

TEST_F(WebhooksTest, AReceiverThatGoesDownWhileConnectedIsRetriedOnANewConnection) {
  Receiver receiver;
  Start();
  Create(Spec(receiver.Url()));
  std::vector<int64_t> sent{DeviceEvent(events::type::kDeviceOnline, "door")};
  ASSERT_TRUE(WaitFor([&] { return receiver.Accepted().size() == 1; }, kWait));
  receiver.Refuse();  // its connection closed, new ones refused
  sent.push_back(DeviceEvent(events::type::kDeviceOffline, "door"));
  sent.push_back(DeviceEvent(events::type::kDeviceOnline, "door"));
  ASSERT_TRUE(WaitFor([&] { return CounterValue("notify_webhook_failed_attempts_total") >= 2; }, kWait));
  EXPECT_EQ(receiver.Seen(), 1u);
  receiver.Listen();
  ExpectReceived(receiver, sent, 2);
  EXPECT_EQ(CounterValue("notify_webhook_given_up_total"), 0u);
}

TEST_F(WebhooksTest, AnAttemptWithoutAnAnswerTimesOutAndTheEventGoesLaterOnANewConnection) {
  Receiver receiver;
  options_.request_timeout = std::chrono::milliseconds(200);
  Start();
  Create(Spec(receiver.Url()));
  std::vector<int64_t> sent{DeviceEvent(events::type::kDeviceOnline, "door")};
  ASSERT_TRUE(WaitFor([&] { return receiver.Accepted().size() == 1; }, kWait));
  receiver.Hold(true);  // reads the next request on the kept-alive connection and never answers
  sent.push_back(DeviceEvent(events::type::kDeviceOffline, "door"));
  ASSERT_TRUE(WaitFor([&] { return CounterValue("notify_webhook_failed_attempts_total") >= 1; }, kWait));
  const std::string error = publisher_->List().value()[0].last_error;
  EXPECT_TRUE(error.starts_with("reading the answer")) << error;
  receiver.Hold(false);
  ASSERT_TRUE(WaitFor([&] { return receiver.Accepted().size() >= sent.size(); }, kWait));
  EXPECT_EQ(IdsOf(receiver.Accepted()), sent);
  EXPECT_GE(receiver.Connections(), 2u);  // the one that timed out was closed
  EXPECT_EQ(CounterValue("notify_webhook_given_up_total"), 0u);
}

TEST_F(WebhooksTest, AnHttpsWebhookIsVerifiedAgainstTheCaFileOverOneConnection) {
  const auto certs = iotstream::testing::MakeTestCertificates(dir_.path());
  ASSERT_FALSE(certs.ca_file.empty());
  Receiver::Options https;
  https.cert_file = certs.cert_file;
  https.key_file = certs.key_file;
  Receiver receiver(https);
  ASSERT_TRUE(receiver.Url().starts_with("https://127.0.0.1:"));
  options_.ca_file = certs.ca_file;
  Start();
  Create(Spec(receiver.Url()));
  std::vector<int64_t> sent;
  DeviceEvents(5, events::type::kDeviceOnline, &sent);
  ExpectReceived(receiver, sent, 1);
}

TEST_F(WebhooksTest, AnHttpsReceiverOutsideTheTrustedCasGetsNothing) {
  const auto certs = iotstream::testing::MakeTestCertificates(dir_.path());
  ASSERT_FALSE(certs.ca_file.empty());
  Receiver::Options https;
  https.cert_file = certs.cert_file;
  https.key_file = certs.key_file;
  Receiver receiver(https);
  Start();  // the system's CAs, which did not sign the receiver's certificate
  Create(Spec(receiver.Url()));
  DeviceEvent(events::type::kDeviceOnline, "door");
  ASSERT_TRUE(WaitFor([&] { return CounterValue("notify_webhook_failed_attempts_total") >= 2; }, kWait));
  EXPECT_EQ(receiver.Seen(), 0u);
  const std::string error = publisher_->List().value()[0].last_error;
  EXPECT_TRUE(error.starts_with("TLS handshake")) << error;
}

TEST(WebhookStart, AnUnreadableCaFileIsRefused) {
  TempDir dir;
  Metrics metrics;
  auto records = store::Records::Open(dir.path().string()).value();
  WebhookOptions options;
  options.ca_file = (dir.path() / "no-such-ca.pem").string();
  EXPECT_TRUE(WebhookPublisher::Start(options, dir.path().string(), *records, metrics).status().IsInvalidArgument());
}

}  // namespace
}  // namespace iotstream::notify
