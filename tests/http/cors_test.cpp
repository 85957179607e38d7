#include "http/cors.h"

#include <gtest/gtest.h>

namespace iotstream::http {
namespace {

const std::vector<std::string> kAllowed = {"https://ha.example:8123"};

std::string HeaderOf(const Response& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return {};
}

Request Preflight(std::string origin, std::string method, std::string path) {
  Request r;
  r.method = Method::kOptions;
  r.path = std::move(path);
  r.headers = {{"Origin", std::move(origin)}, {"Access-Control-Request-Method", std::move(method)},
               {"Access-Control-Request-Headers", "authorization, content-type"}};
  return r;
}

Router Routes() {
  Router router;
  router.Add(Method::kPatch, "/api/v1/devices/{id}", [](Request&&, Responder) {});
  return router;
}

TEST(Cors, OnlyTheListedOriginsAreAllowedExactlyAsideFromCase) {
  EXPECT_TRUE(CorsOriginAllowed("https://ha.example:8123", kAllowed));
  EXPECT_TRUE(CorsOriginAllowed("HTTPS://HA.example:8123", kAllowed));
  EXPECT_FALSE(CorsOriginAllowed("https://ha.example", kAllowed));
  EXPECT_FALSE(CorsOriginAllowed("http://ha.example:8123", kAllowed));
  EXPECT_FALSE(CorsOriginAllowed("https://ha.example:8123.evil.example", kAllowed));
  EXPECT_FALSE(CorsOriginAllowed("", kAllowed));
  EXPECT_FALSE(CorsOriginAllowed("https://ha.example:8123", {}));
}

TEST(Cors, APreflightNeedsOptionsAnOriginAndARequestedMethod) {
  EXPECT_TRUE(IsPreflight(Preflight("https://ha.example:8123", "PATCH", "/x")));
  Request no_method = Preflight("https://ha.example:8123", "", "/x");
  EXPECT_FALSE(IsPreflight(no_method));
  Request get = Preflight("https://ha.example:8123", "PATCH", "/x");
  get.method = Method::kGet;
  EXPECT_FALSE(IsPreflight(get));
}

TEST(Cors, AnAllowedOriginsPreflightForAServedMethodIsAnsweredWithItsHeaders) {
  const Response r = AnswerPreflight(Preflight("https://ha.example:8123", "PATCH", "/api/v1/devices/cam1"), Routes(),
                                     kAllowed);
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(HeaderOf(r, "Access-Control-Allow-Origin"), "https://ha.example:8123");
  EXPECT_EQ(HeaderOf(r, "Access-Control-Allow-Credentials"), "true");
  EXPECT_EQ(HeaderOf(r, "Access-Control-Allow-Methods"), "PATCH");
  EXPECT_EQ(HeaderOf(r, "Access-Control-Allow-Headers"), "authorization, content-type");
  EXPECT_EQ(HeaderOf(r, "Vary"), "Origin");
}

TEST(Cors, OtherOriginsGet403WithoutCorsHeadersAndUnknownRoutesTheirStatus) {
  const Router router = Routes();
  const Response evil = AnswerPreflight(Preflight("http://evil.example", "PATCH", "/api/v1/devices/cam1"), router,
                                        kAllowed);
  EXPECT_EQ(evil.status, 403);
  EXPECT_NE(evil.body.find("--allowed-origin"), std::string::npos) << evil.body;
  EXPECT_EQ(HeaderOf(evil, "Access-Control-Allow-Origin"), "");

  const Response other_method =
      AnswerPreflight(Preflight("https://ha.example:8123", "DELETE", "/api/v1/devices/cam1"), router, kAllowed);
  EXPECT_EQ(other_method.status, 405);
  EXPECT_EQ(HeaderOf(other_method, "Access-Control-Allow-Origin"), "https://ha.example:8123");
  EXPECT_EQ(AnswerPreflight(Preflight("https://ha.example:8123", "GET", "/nowhere"), router, kAllowed).status, 404);
  EXPECT_EQ(AnswerPreflight(Preflight("https://ha.example:8123", "BREW", "/nowhere"), router, kAllowed).status, 405);
}

}  // namespace
}  // namespace iotstream::http
