#include "api/respond.h"

#include "core/parse.h"

namespace iotstream::api {

int HttpStatusOf(const Status& st) {
  switch (st.code()) {
    case Status::Code::kOk: return 200;
    case Status::Code::kInvalidArgument: return 400;
    case Status::Code::kUnsupported: return 415;
    case Status::Code::kTooLarge: return 413;
    case Status::Code::kNotFound: return 404;
    case Status::Code::kConflict: return 409;
    case Status::Code::kUnavailable: return 503;
    case Status::Code::kTimeout: return 504;
    case Status::Code::kIOError:
    case Status::Code::kInternal: break;
  }
  return 500;
}

http::Response ErrorOf(const Status& st) {
  http::Response r = http::Response::Error(HttpStatusOf(st), st.message());
  if (st.IsUnavailable()) r.headers.emplace_back("Retry-After", "1");
  return r;
}

http::Response JpegOf(Result<std::string> jpeg) {
  if (!jpeg.ok()) return ErrorOf(jpeg.status());
  http::Response r;
  r.content_type = "image/jpeg";
  r.body = std::move(jpeg).value();
  return r;
}

std::optional<int64_t> ParseId(std::string_view text) {
  auto v = ParseInt(text);
  if (!v || *v <= 0) return std::nullopt;
  return v;
}

void OnDiskPool(WorkPool& pool, const http::Responder& s, std::function<void()> work) {
  if (!pool.Submit(std::move(work))) s.Send(ErrorOf(Status::Unavailable("too many disk requests in flight")));
}

}  // namespace iotstream::api
