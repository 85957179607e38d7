// api::AccessControl's decisions on requests built in memory, with a real AuthStore in a temp folder: what the
// integration tests cannot reach from loopback (a remote /metrics scrape) and the route table's fail-closed default.
#include "api/access.h"

#include <gtest/gtest.h>

#include "core/clock.h"
#include "support/test_support.h"

namespace iotstream::api {
namespace {

using http::Method;

class AccessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = auth::AuthStore::Open(auth::AuthOptions{.data_dir = (dir_.path() / "data").string()});
    ASSERT_TRUE(s.ok());
    store_ = std::move(s).value();
    viewer_ = store_->CreateToken("viewer", auth::Role::kViewer, "", "test").value();
    camera_ = store_->CreateToken("door", auth::Role::kCamera, "door", "test").value();
    admin_ = store_->CreateToken("admin", auth::Role::kAdmin, "", "test").value();
    AccessOptions options;
    options.camera_auth = true;
    options.allowed_origins = {"https://ha.example:8123"};
    access_ = std::make_unique<AccessControl>(options, *store_, metrics_);
  }

  // The status of the guard's answer; 0 when it lets the request through.
  int Decide(Method m, const std::string& pattern, std::vector<std::pair<std::string, std::string>> headers = {},
             const std::string& address = "192.168.1.20", const std::string& query = "") {
    http::Request req;
    req.method = m;
    req.path = pattern;
    req.query = query;
    req.remote_address = address;
    req.headers = std::move(headers);
    auto r = access_->Decide(req, pattern, NowMs());
    return r ? r->status : 0;
  }

  testing::TempDir dir_;
  Metrics metrics_;
  std::unique_ptr<auth::AuthStore> store_;
  std::unique_ptr<AccessControl> access_;
  std::string viewer_, camera_, admin_;
};

TEST_F(AccessTest, MetricsNeedAViewerTokenExceptFromLoopback) {
  EXPECT_EQ(Decide(Method::kGet, "/metrics"), 401);
  EXPECT_EQ(Decide(Method::kGet, "/metrics", {}, "127.0.0.1"), 0);
  EXPECT_EQ(Decide(Method::kGet, "/metrics", {{"Authorization", "Bearer " + viewer_}}), 0);
  EXPECT_EQ(Decide(Method::kGet, "/metrics", {{"Authorization", "Bearer " + camera_}}), 403);
  EXPECT_EQ(metrics_.CounterValue("auth_unauthorized_total", {{"class", "metrics"}}).value(), 1u);
  EXPECT_EQ(metrics_.CounterValue("auth_forbidden_total", {{"class", "metrics"}}).value(), 1u);
}

TEST_F(AccessTest, AnUnclassifiedApiRouteNeedsAnAdmin) {
  EXPECT_EQ(ClassifyRoute(Method::kGet, "/api/v1/something-new").cls, RouteClass::kAdmin);
  EXPECT_EQ(Decide(Method::kGet, "/api/v1/something-new", {{"X-API-Key", viewer_}}), 403);
}

TEST_F(AccessTest, TheClusterIsReadLikeTheDeviceList) {
  EXPECT_EQ(ClassifyRoute(Method::kGet, "/api/v1/cluster").cls, RouteClass::kDevices);
  EXPECT_FALSE(ClassifyRoute(Method::kGet, "/api/v1/cluster").admin_only);
  EXPECT_EQ(Decide(Method::kGet, "/api/v1/cluster"), 401);
  EXPECT_EQ(Decide(Method::kGet, "/api/v1/cluster", {{"X-API-Key", viewer_}}), 0);
  EXPECT_EQ(Decide(Method::kGet, "/api/v1/cluster", {{"X-API-Key", admin_}}), 0);
  EXPECT_EQ(Decide(Method::kGet, "/api/v1/cluster", {{"X-API-Key", camera_}}), 403);
}

TEST_F(AccessTest, AViewerWatchesAndExportsFootage) {
  for (const auto& [m, p] : std::vector<std::pair<Method, std::string>>{
           {Method::kGet, "/api/v1/footage/{device}/timeline"},
           {Method::kPost, "/api/v1/footage/{device}/exports"},
           {Method::kGet, "/api/v1/footage/{device}/exports/{id}"},
           {Method::kGet, "/api/v1/footage/{device}/exports/{id}/file"}}) {
    EXPECT_EQ(ClassifyRoute(m, p).cls, RouteClass::kFootage) << p;
    EXPECT_EQ(Decide(m, p, {{"Authorization", "Bearer " + viewer_}}), 0) << p;
    EXPECT_EQ(Decide(m, p, {{"Authorization", "Bearer " + camera_}}), 403) << p;
    EXPECT_EQ(Decide(m, p), 401) << p;
  }
  EXPECT_EQ(ClassifyRoute(Method::kGet, "/footage.html").cls, RouteClass::kPage);
  EXPECT_EQ(ClassifyRoute(Method::kGet, "/people.html").cls, RouteClass::kPage);
  EXPECT_EQ(ClassifyRoute(Method::kGet, "/events.html").cls, RouteClass::kPage);
  EXPECT_EQ(ClassifyRoute(Method::kGet, "/system.html").cls, RouteClass::kPage);
}

TEST_F(AccessTest, AViewerSeesStrangersButOnlyAnAdminNamesThem) {
  EXPECT_EQ(Decide(Method::kGet, "/api/v1/recognition/strangers", {{"X-API-Key", viewer_}}), 0);
  for (const char* p : {"/api/v1/recognition/strangers/{id}/enrol", "/api/v1/events/{id}/enrol"}) {
    EXPECT_EQ(ClassifyRoute(Method::kPost, p).cls, RouteClass::kEnrolment) << p;
    EXPECT_EQ(Decide(Method::kPost, p, {{"X-API-Key", viewer_}}), 403) << p;
    EXPECT_EQ(Decide(Method::kPost, p, {{"X-API-Key", admin_}}), 0) << p;
  }
}

TEST_F(AccessTest, ABoundCameraTokenUploadsOnlyForItsDevice) {
  EXPECT_EQ(Decide(Method::kPost, "/api/v1/stream/fast", {{"X-API-Key", camera_}, {"X-Device-ID", "door"}}), 0);
  EXPECT_EQ(Decide(Method::kPost, "/api/v1/stream/fast", {{"X-API-Key", camera_}, {"X-Device-ID", "garage"}}), 403);
  EXPECT_EQ(Decide(Method::kPost, "/api/v1/stream/fast", {{"X-API-Key", camera_}}, "10.0.0.9", "device_id=door"), 0);
  EXPECT_EQ(Decide(Method::kPost, "/api/v1/stream/fast", {{"X-API-Key", viewer_}, {"X-Device-ID", "door"}}), 403);
}

TEST_F(AccessTest, TheQueryTokenIsTakenOnlyOnLiveUrls) {
  EXPECT_EQ(Decide(Method::kGet, "/api/v1/devices/{id}/mjpeg", {}, "10.0.0.9", "token=" + viewer_), 0);
  EXPECT_EQ(Decide(Method::kGet, "/ws", {}, "10.0.0.9", "token=" + viewer_), 0);
  EXPECT_EQ(Decide(Method::kGet, "/api/v1/devices", {}, "10.0.0.9", "token=" + viewer_), 401);
}

TEST_F(AccessTest, AllowedOriginsAreTheServersOwnAndTheConfiguredOnes) {
  EXPECT_TRUE(access_->OriginAllowed("http://192.168.1.5:9003", "192.168.1.5:9003"));
  EXPECT_TRUE(access_->OriginAllowed("https://ha.example:8123", "192.168.1.5:9003"));
  EXPECT_FALSE(access_->OriginAllowed("http://evil.example", "192.168.1.5:9003"));
  EXPECT_FALSE(access_->OriginAllowed("null", "192.168.1.5:9003"));
  EXPECT_FALSE(access_->OriginAllowed("http://192.168.1.5:9003", ""));
}

}  // namespace
}  // namespace iotstream::api
