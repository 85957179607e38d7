// The fields of an upload that name things: the device id (X-Device-ID, ?device_id=, the form field, the peer's
// address) and the capture time (X-Frame-Timestamp, ?timestamp=, the form field), through the query string's
// percent-decoding and Ingestor::Accept. A device id that is accepted becomes a folder name under the data folder:
// it must never hold a path separator or a NUL byte, or be "." or "..".
//
// Input: five lines (X-Device-ID, the query string, X-Frame-Timestamp, the peer address, Content-Type), then the
// body: a byte 'J' there stands for a small valid JPEG (the fields are what is under test), else the body as sent.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/metrics.h"
#include "core/parse.h"
#include "http/http.h"
#include "ingest/ingest.h"

namespace {

using namespace iotstream;

// 8x8 grey, baseline, made by fuzz/make_corpus.sh.
const unsigned char kTinyJpeg[] = {
#include "tiny_jpeg.inc"
};

constexpr int64_t kNow = 1'750'000'000'000;

bool SafeFolderName(std::string_view id) {
  return !id.empty() && id != "." && id != ".." && id.find('/') == std::string_view::npos &&
         id.find('\\') == std::string_view::npos && id.find('\0') == std::string_view::npos;
}

std::string_view NextLine(std::string_view* in) {
  const size_t nl = in->find('\n');
  const std::string_view line = in->substr(0, nl);
  in->remove_prefix(nl == std::string_view::npos ? in->size() : nl + 1);
  return line;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Metrics metrics;
  static ingest::DeviceRegistry registry({});
  static ingest::Ingestor ingestor({}, registry, metrics, 1);

  std::string_view in(reinterpret_cast<const char*>(data), size);
  http::Request req;
  ingest::Upload u;
  u.header_device_id = std::string(NextLine(&in));
  req.query = std::string(NextLine(&in));
  u.header_timestamp = std::string(NextLine(&in));
  u.remote_address = std::string(NextLine(&in));
  u.content_type = std::string(NextLine(&in));
  // As api/UploadOf takes them from the request.
  u.query_device_id = req.query_param("device_id").value_or("");
  u.query_timestamp = req.query_param("timestamp").value_or("");
  u.body = in == "J" ? std::string(reinterpret_cast<const char*>(kTinyJpeg), sizeof kTinyJpeg) : std::string(in);

  for (const std::string* text : {&u.header_timestamp, &u.query_timestamp}) {
    if (auto v = ParseInt(*text); v && ParseInt(std::to_string(*v)) != v) std::abort();
  }
  if (http::PercentDecode(req.query, true).size() > req.query.size()) std::abort();

  auto resolved = ingest::ResolveDeviceId(u, "");
  if (resolved.ok() && !SafeFolderName(resolved.value())) std::abort();
  auto frame = ingestor.Accept(std::move(u), kNow);
  if (frame.ok()) {
    const Frame::Meta& m = frame.value()->meta();
    if (!SafeFolderName(m.device_id) || !ingest::IsValidDeviceId(m.device_id)) std::abort();
    constexpr int64_t kDay = 24LL * 3600 * 1000;  // Ingestor::Options::max_clock_skew_ms
    if (m.capture_ts_ms < kNow - kDay || m.capture_ts_ms > kNow + kDay) std::abort();
    if (!registry.Remove(m.device_id).ok()) std::abort();  // keeps the registry small across runs
  }
  return 0;
}
