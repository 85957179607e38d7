#include "ingest/multipart.h"

#include <algorithm>

#include "core/parse.h"

namespace iotstream::ingest {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Value of parameter `key` in a header value like `form-data; name="image"; filename="a.jpg"`.
std::string HeaderParam(std::string_view value, std::string_view key) {
  size_t pos = 0;
  while (pos < value.size()) {
    size_t semi = value.find(';', pos);
    // a quoted value may hold ';'
    std::string_view item = value.substr(pos, semi == std::string_view::npos ? std::string_view::npos : semi - pos);
    const size_t eq = item.find('=');
    if (eq != std::string_view::npos && AsciiLower(Trim(item.substr(0, eq))) == key) {
      std::string_view v = Trim(value.substr(pos + eq + 1));
      if (!v.empty() && v.front() == '"') {
        std::string out;
        for (size_t i = 1; i < v.size(); ++i) {
          if (v[i] == '\\' && i + 1 < v.size()) {
            out.push_back(v[++i]);
          } else if (v[i] == '"') {
            break;
          } else {
            out.push_back(v[i]);
          }
        }
        return out;
      }
      const size_t end = v.find(';');
      return std::string(Trim(v.substr(0, end)));
    }
    if (semi == std::string_view::npos) break;
    pos = semi + 1;
  }
  return {};
}

// "Name: value" with a token for a name: what a part header line looks like (binary data seldom does).
bool IsHeaderLine(std::string_view line) {
  const size_t colon = line.substr(0, 65).find(':');
  if (colon == 0 || colon == std::string_view::npos) return false;
  return std::all_of(line.begin(), line.begin() + static_cast<std::ptrdiff_t>(colon), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

}  // namespace

Result<std::string> MultipartBoundary(std::string_view content_type) {
  const std::string lower = AsciiLower(content_type);
  if (lower.rfind("multipart/", 0) != 0) return Status::InvalidArgument("not a multipart content type");
  std::string b = HeaderParam(content_type, "boundary");
  if (b.empty()) return Status::InvalidArgument("multipart content type without a boundary");
  if (b.size() > 200) return Status::InvalidArgument("multipart boundary longer than 200 characters");
  return b;
}

Result<std::vector<FormPart>> ParseMultipart(std::string_view body, std::string_view boundary,
                                             const MultipartLimits& limits) {
  const std::string delim = "--" + std::string(boundary);
  // The first delimiter is at the start or after a line end (a preamble may precede it).
  size_t pos;
  if (body.substr(0, delim.size()) == delim) {
    pos = 0;
  } else {
    pos = body.find("\n" + delim);
    if (pos == std::string_view::npos) return Status::InvalidArgument("multipart body has no opening boundary");
    pos += 1;
  }
  std::vector<FormPart> parts;
  const std::string next_delim = "\n" + delim;
  while (true) {
    pos += delim.size();
    if (body.substr(pos, 2) == "--") return parts;  // closing delimiter
    if (parts.size() == limits.max_parts) {
      return Status::TooLarge("multipart body has more than " + std::to_string(limits.max_parts) + " parts");
    }
    // rest of the delimiter line (transport padding) up to LF
    const size_t eol = body.find('\n', pos);
    if (eol == std::string_view::npos) return Status::InvalidArgument("multipart body ends inside a boundary line");
    const size_t head_start = eol + 1;
    // The part ends right before the line end that precedes the next delimiter; a last part whose closing
    // delimiter never came runs to the end of the body (a truncated image then fails its own check).
    size_t next = body.find(next_delim, head_start == 0 ? 0 : head_start - 1);
    const bool last = next == std::string_view::npos;
    size_t part_end = last ? body.size() : next;
    if (last) {
      while (part_end > head_start && (body[part_end - 1] == '\n' || body[part_end - 1] == '\r')) --part_end;
    }
    // Its headers end at an empty line. A firmware that forgot that line goes straight from its last header to
    // the data: the first line that is not a header ("Name: value") starts the data then.
    size_t head_end = head_start;
    size_t data_start = part_end;
    while (head_end < part_end) {
      const size_t nl = body.find('\n', head_end);
      const size_t line_end = nl == std::string_view::npos || nl >= part_end ? part_end : nl;
      std::string_view line = body.substr(head_end, line_end - head_end);
      if (line.empty() || line == "\r") {
        data_start = std::min(line_end + 1, part_end);
        break;
      }
      if (!IsHeaderLine(line)) {
        data_start = head_end;
        break;
      }
      if (line_end - head_start >= limits.max_part_header_bytes) {
        return Status::TooLarge("a multipart part's header is longer than " +
                                std::to_string(limits.max_part_header_bytes) + " bytes");
      }
      head_end = line_end + 1;
    }
    head_end = std::min(head_end, part_end);
    size_t data_end = std::max(part_end, data_start);
    if (!last && data_end > data_start && body[data_end - 1] == '\r') --data_end;

    FormPart part;
    part.data = body.substr(data_start, data_end - data_start);
    std::string_view headers = body.substr(head_start, head_end - head_start);
    while (!headers.empty()) {
      const size_t nl = headers.find('\n');
      std::string_view line = Trim(headers.substr(0, nl));
      headers = nl == std::string_view::npos ? std::string_view{} : headers.substr(nl + 1);
      const size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      const std::string name = AsciiLower(Trim(line.substr(0, colon)));
      const std::string_view value = Trim(line.substr(colon + 1));
      if (name == "content-disposition") {
        part.name = HeaderParam(value, "name");
        part.filename = HeaderParam(value, "filename");
      } else if (name == "content-type") {
        part.content_type = std::string(value);
      }
    }
    parts.push_back(std::move(part));
    if (last) return parts;
    pos = next + 1;
  }
}

std::string_view UploadedImage::Field(std::string_view name) const {
  for (const auto& p : form) {
    if (p.name == name) return p.data;
  }
  return {};
}

namespace {

// Where an image starts in `data`: at 0 when it starts like one, or just after a few stray header bytes a firmware
// left in a part (within kStrayBytes); npos when it holds none there.
constexpr size_t kStrayBytes = 1024;
size_t ImageStart(std::string_view data, ImageKind kinds) {
  constexpr std::string_view kJpegStart("\xFF\xD8\xFF", 3);
  constexpr std::string_view kPngStart("\x89PNG\r\n\x1A\n", 8);
  const std::string_view head = data.substr(0, kStrayBytes + kPngStart.size());
  size_t at = head.find(kJpegStart);
  if (kinds == ImageKind::kJpegOrPng) at = std::min(at, head.find(kPngStart));
  return at <= kStrayBytes ? at : std::string_view::npos;
}

// The first `max` bytes of `text` with every byte but printable ASCII shown as '.': outside bytes quoted in an error.
std::string Printable(std::string_view text, size_t max) {
  std::string shown;
  for (char c : text.substr(0, max)) shown += (c >= 0x20 && c < 0x7F) ? c : '.';
  return shown;
}

// "123 bytes starting with 'GIF89a..'": what a body without an image held, for the error.
std::string Describe(std::string_view data) {
  return std::to_string(data.size()) + " bytes" + (data.empty() ? "" : " starting with '" + Printable(data, 16) + "'");
}

// The boundary of a multipart body: the Content-Type's when the body holds it, else the body's own first line
// ("--boundary"), as a firmware that sends a wrong or no boundary parameter still writes its parts soundly.
std::string BoundaryOf(std::string_view body, std::string_view content_type) {
  auto declared = MultipartBoundary(content_type);
  if (declared.ok() && body.find("--" + declared.value()) != std::string_view::npos) return declared.value();
  if (body.substr(0, 2) != "--") return {};
  const size_t eol = body.find_first_of("\r\n");
  const std::string_view line = body.substr(2, eol == std::string_view::npos ? 0 : eol - 2);
  if (line.empty() || line.size() > 200 || line.find(' ') != std::string_view::npos) return {};
  return std::string(line);
}

const char* KindName(ImageKind kinds) { return kinds == ImageKind::kJpeg ? "a JPEG" : "a JPEG or PNG"; }

}  // namespace

Result<UploadedImage> FindImage(std::string_view body, std::string_view content_type, ImageKind kinds,
                                const MultipartLimits& limits) {
  const std::string media = AsciiLower(Trim(content_type.substr(0, content_type.find(';'))));
  UploadedImage out;
  if (ImageStart(body, kinds) == 0) {
    out.image = body;
    return out;
  }
  const std::string boundary = BoundaryOf(body, content_type);
  if (!boundary.empty()) {
    auto parts = ParseMultipart(body, boundary, limits);
    if (!parts.ok()) return parts.status();
    out.form = std::move(parts).value();
    const FormPart* named = nullptr;
    for (const char* field : {"image", "file", "frame"}) {
      for (const auto& p : out.form) {
        if (named == nullptr && p.name == field) named = &p;
      }
    }
    if (named != nullptr) {
      if (const size_t at = ImageStart(named->data, kinds); at != std::string_view::npos) {
        out.image = named->data.substr(at);
        return out;
      }
    }
    for (const auto& p : out.form) {
      if (const size_t at = ImageStart(p.data, kinds); at != std::string_view::npos) {
        out.image = p.data.substr(at);
        return out;
      }
    }
    if (named != nullptr) {
      out.image = named->data;  // not an image: its own check says what is wrong with it
      return out;
    }
    std::string found;
    for (const auto& p : out.form) {
      found += (found.empty() ? "" : ", ") + ("'" + Printable(p.name, 64) + "' (" + Describe(p.data) + ")");
    }
    return Status::InvalidArgument("multipart upload holds no image: expected " + std::string(KindName(kinds)) +
                                   " in a part (preferably named 'image', 'file' or 'frame'); found " +
                                   (found.empty() ? std::string("no parts") : found));
  }
  if (media == "multipart/form-data") {
    return Status::InvalidArgument("multipart upload without a usable boundary and no image in its " + Describe(body));
  }
  if (!media.empty() && media.rfind("image/", 0) != 0 && media != "application/octet-stream") {
    return Status::Unsupported("no image in the body: content type '" + std::string(content_type) + "' and " +
                               Describe(body) + "; send " + KindName(kinds) +
                               " (any content type) or multipart/form-data");
  }
  out.image = body;
  return out;
}

}  // namespace iotstream::ingest
