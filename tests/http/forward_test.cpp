// Router::Forwarder on real loopback sockets: a front server relaying some requests to an upstream server.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "http/http.h"
#include "support/raw_tcp.h"
#include "support/test_support.h"

namespace iotstream::http {
namespace {

using iotstream::testing::HttpClient;

std::unique_ptr<Server> StartOn(Router router, Metrics& metrics) {
  ServerOptions o;
  o.bind_address = "127.0.0.1";
  o.port = 0;
  o.io_threads = 1;
  auto started = Server::Start(o, std::move(router), metrics);
  EXPECT_TRUE(started.ok()) << started.status().ToString();
  return started.ok() ? std::move(started).value() : nullptr;
}

// What a server saw of a request, as JSON.
Response Seen(const char* who, const Request& r) {
  return Response::Json(200, nlohmann::json{{"who", who},
                                            {"path", r.target},
                                            {"body", r.body},
                                            {"forwarded_for", r.header("X-Forwarded-For")},
                                            {"forwarded_by", r.header(kForwardedByHeader)},
                                            {"secret", r.header("Authorization")}}
                                 .dump());
}

class ForwardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Router up;
    up.Add(Method::kGet, "/items/{id}", [](Request&& r, Responder s) { s.Send(Seen("upstream", r)); });
    up.Add(Method::kPost, "/items/{id}", [](Request&& r, Responder s) { s.Send(Seen("upstream", r)); });
    upstream_ = StartOn(std::move(up), upstream_metrics_);
    ASSERT_NE(upstream_, nullptr);
  }

  // A front server whose items named "far*" are the upstream's (at `upstream_port`).
  void StartFront(unsigned short upstream_port) {
    Router front;
    front.Add(Method::kGet, "/items/{id}", [](Request&& r, Responder s) { s.Send(Seen("front", r)); });
    front.Add(Method::kPost, "/items/{id}", [](Request&& r, Responder s) { s.Send(Seen("front", r)); });
    front.Add(Method::kGet, "/other/{id}", [](Request&& r, Responder s) { s.Send(Seen("front", r)); });
    front.SetForwarder([upstream_port](const Request& r, std::string_view pattern) -> std::optional<Upstream> {
      if (pattern.substr(0, 7) != "/items/" || r.param("id").substr(0, 3) != "far") return std::nullopt;
      return Upstream{"127.0.0.1", std::to_string(upstream_port), "front-node", "node up (test)"};
    });
    front_ = StartOn(std::move(front), front_metrics_);
    ASSERT_NE(front_, nullptr);
  }

  void TearDown() override {
    if (front_) front_->Stop(std::chrono::milliseconds(100));
    if (upstream_) upstream_->Stop(std::chrono::milliseconds(100));
  }

  Metrics upstream_metrics_, front_metrics_;
  std::unique_ptr<Server> upstream_, front_;
};

TEST_F(ForwardTest, TheForwardersRequestsAreAnsweredByTheUpstreamWithTheirHeadersAndBody) {
  StartFront(upstream_->port());
  HttpClient c(front_->port());
  auto far = c.Request("GET", "/items/far1?x=1", "", {{"Authorization", "Bearer t"}, {"X-Forwarded-For", "192.0.2.9"}});
  ASSERT_EQ(far.status, 200) << far.body;
  auto seen = nlohmann::json::parse(far.body);
  EXPECT_EQ(seen["who"], "upstream");
  EXPECT_EQ(seen["path"], "/items/far1?x=1");
  EXPECT_EQ(seen["secret"], "Bearer t");  // credentials go along: the upstream decides again
  EXPECT_EQ(seen["forwarded_for"], "192.0.2.9, 127.0.0.1");
  EXPECT_EQ(seen["forwarded_by"], "front-node");
  // One exchange per forwarded connection: a kept-alive client never sends its next request to the wrong server.
  EXPECT_EQ(far.headers["connection"], "close");

  auto posted = c.Request("POST", "/items/far2", std::string(100'000, 'b'));
  ASSERT_EQ(posted.status, 200) << posted.body;
  EXPECT_EQ(nlohmann::json::parse(posted.body)["body"].get<std::string>().size(), 100'000u);

  auto near = c.Get("/items/near");
  EXPECT_EQ(nlohmann::json::parse(near.body)["who"], "front");
  EXPECT_EQ(nlohmann::json::parse(c.Get("/other/far").body)["who"], "front");
  EXPECT_EQ(iotstream::testing::MetricValue(front_metrics_.ExportPrometheus(), "http_http_forwarded_total"), 2u);
}

TEST_F(ForwardTest, ARequestForwardedOnceIsAnsweredWhereItArrives) {
  StartFront(upstream_->port());
  HttpClient c(front_->port());
  auto r = c.Request("GET", "/items/far", "", {{std::string(kForwardedByHeader), "another-node"}});
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(nlohmann::json::parse(r.body)["who"], "front");
}

TEST_F(ForwardTest, AnUnreachableUpstreamIs502NamingIt) {
  const unsigned short closed = iotstream::testing::FreePort();
  StartFront(closed);
  HttpClient c(front_->port());
  auto r = c.Get("/items/far");
  EXPECT_EQ(r.status, 502);
  const auto error = nlohmann::json::parse(r.body)["error"].get<std::string>();
  EXPECT_NE(error.find("node up (test) cannot be reached"), std::string::npos) << error;
  EXPECT_EQ(iotstream::testing::MetricValue(front_metrics_.ExportPrometheus(), "http_http_forward_failures_total"),
            1u);
  // The front still answers its own requests.
  EXPECT_EQ(c.Get("/items/near").status, 200);
}

}  // namespace
}  // namespace iotstream::http
