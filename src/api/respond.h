// Private to api/: how handlers turn a Status into an answer, and how they leave the I/O thread for disk work.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "core/work_pool.h"
#include "http/http.h"

namespace iotstream::api {

// 400 invalid argument, 404 not found, 413 too large, 415 unsupported, 503 unavailable, 504 timeout, else 500.
int HttpStatusOf(const Status& st);
// {"error": message} with that status; 503 carries Retry-After: 1.
http::Response ErrorOf(const Status& st);
// 200 image/jpeg with the bytes, or the error.
http::Response JpegOf(Result<std::string> jpeg);
// A positive id (> 0), or nullopt (see ParseInt in core/parse.h).
std::optional<int64_t> ParseId(std::string_view text);
// Runs `work` on `pool` (which answers through `s` itself); answers 503 now when the pool's queue is full.
void OnDiskPool(WorkPool& pool, const http::Responder& s, std::function<void()> work);

}  // namespace iotstream::api
