#include <gtest/gtest.h>

#include "http/connection.h"
#include "http/http.h"

namespace iotstream::http {
namespace {

Request Make(Method m, std::string target) {
  Request r;
  r.method = m;
  r.target = target;
  const size_t q = target.find('?');
  r.path = target.substr(0, q);
  if (q != std::string::npos) r.query = target.substr(q + 1);
  return r;
}

TEST(Router, MatchesLiteralsAndCaptures) {
  Router router;
  int hit = 0;
  router.Add(Method::kGet, "/api/v1/devices", [&](Request&&, Responder) { hit = 1; });
  router.Add(Method::kGet, "/api/v1/devices/{id}", [&](Request&&, Responder) { hit = 2; });
  router.Add(Method::kGet, "/api/v1/devices/{id}/frames", [&](Request&&, Responder) { hit = 3; });
  Request r = Make(Method::kGet, "/api/v1/devices/cam%201/frames?limit=5");
  auto m = router.Find(&r);
  ASSERT_NE(m.handler, nullptr);
  (*m.handler)(Request{}, Responder(nullptr));
  EXPECT_EQ(hit, 3);
  EXPECT_EQ(r.param("id"), "cam 1");
  EXPECT_EQ(r.query_param("limit"), "5");
  Request list = Make(Method::kGet, "/api/v1/devices/");
  EXPECT_NE(router.Find(&list).handler, nullptr);
}

TEST(Router, UnknownPathIs404WrongMethodIs405) {
  Router router;
  router.Add(Method::kPost, "/api/v1/stream/fast", [](Request&&, Responder) {});
  Request get = Make(Method::kGet, "/api/v1/stream/fast");
  auto m = router.Find(&get);
  EXPECT_EQ(m.handler, nullptr);
  EXPECT_EQ(m.status, 405);
  Request other = Make(Method::kPost, "/api/v1/stream/slow");
  EXPECT_EQ(router.Find(&other).status, 404);
}

TEST(Router, HeadIsServedByGet) {
  Router router;
  router.Add(Method::kGet, "/health", [](Request&&, Responder) {});
  Request head = Make(Method::kHead, "/health");
  EXPECT_NE(router.Find(&head).handler, nullptr);
}

TEST(Router, TakeoverRoutesAreReportedApart) {
  Router router;
  router.AddTakeover(Method::kGet, "/ws/devices/{id}", [](Request&&, std::unique_ptr<Connection>) {});
  Request ws = Make(Method::kGet, "/ws/devices/cam1");
  auto m = router.Find(&ws);
  EXPECT_EQ(m.handler, nullptr);
  ASSERT_NE(m.takeover, nullptr);
  EXPECT_EQ(ws.param("id"), "cam1");
}

TEST(Request, HeadersAreCaseInsensitiveAndQueryIsDecoded) {
  Request r = Make(Method::kGet, "/x?device_id=a%2Bb&name=front+door&flag");
  r.headers = {{"X-Device-ID", "cam7"}};
  EXPECT_EQ(r.header("x-device-id"), "cam7");
  EXPECT_EQ(r.header("missing"), "");
  EXPECT_EQ(r.query_param("device_id"), "a+b");
  EXPECT_EQ(r.query_param("name"), "front door");
  EXPECT_EQ(r.query_param("flag"), "");
  EXPECT_FALSE(r.query_param("absent").has_value());
}

TEST(PercentDecode, KeepsMalformedEscapes) {
  EXPECT_EQ(PercentDecode("a%2", false), "a%2");
  EXPECT_EQ(PercentDecode("%zz%41", false), "%zzA");
  EXPECT_EQ(PercentDecode("a+b", false), "a+b");
}

TEST(Router, TheGuardSeesTheMatchedPatternAndMayRefuse) {
  Router router;
  router.Add(Method::kGet, "/api/v1/devices/{id}", [](Request&&, Responder) {});
  std::string seen;
  router.SetGuard([&](Request& req, std::string_view pattern) -> std::optional<Response> {
    seen = pattern;
    if (req.header("Authorization").empty()) return Response::Error(401, "no");
    req.principal = "token:t";
    return std::nullopt;
  });
  Request r = Make(Method::kGet, "/api/v1/devices/cam1");
  auto m = router.Find(&r);
  auto refusal = router.Admit(r, m);
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->status, 401);
  EXPECT_EQ(seen, "/api/v1/devices/{id}");
  r.headers.emplace_back("Authorization", "Bearer x");
  EXPECT_FALSE(router.Admit(r, m));
  EXPECT_EQ(r.principal, "token:t");
}

}  // namespace
}  // namespace iotstream::http
