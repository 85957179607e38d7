#include "ingest/multipart.h"

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

}  // namespace

Result<std::string> MultipartBoundary(std::string_view content_type) {
  const std::string lower = AsciiLower(content_type);
  if (lower.rfind("multipart/", 0) != 0) return Status::InvalidArgument("not a multipart content type");
  std::string b = HeaderParam(content_type, "boundary");
  if (b.empty()) return Status::InvalidArgument("multipart content type without a boundary");
  if (b.size() > 200) return Status::InvalidArgument("multipart boundary longer than 200 characters");
  return b;
}

Result<std::vector<FormPart>> ParseMultipart(std::string_view body, std::string_view boundary) {
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
  while (true) {
    pos += delim.size();
    if (body.substr(pos, 2) == "--") return parts;  // closing delimiter
    // rest of the delimiter line (transport padding) up to LF
    const size_t eol = body.find('\n', pos);
    if (eol == std::string_view::npos) return Status::InvalidArgument("multipart body ends inside a boundary line");
    const size_t head_start = eol + 1;
    // the part's headers end at an empty line
    size_t head_end = head_start;
    size_t data_start = std::string_view::npos;
    while (head_end <= body.size()) {
      const size_t nl = body.find('\n', head_end);
      if (nl == std::string_view::npos) break;
      std::string_view line = body.substr(head_end, nl - head_end);
      if (line.empty() || line == "\r") {
        data_start = nl + 1;
        break;
      }
      head_end = nl + 1;
    }
    if (data_start == std::string_view::npos) return Status::InvalidArgument("multipart part without a header end");
    // the data ends right before the line end that precedes the next delimiter
    size_t next = body.find("\n" + delim, data_start - 1);
    while (next != std::string_view::npos && next + 1 < data_start) next = body.find("\n" + delim, next + 1);
    if (next == std::string_view::npos) return Status::InvalidArgument("multipart body has no closing boundary");
    size_t data_end = next;
    if (data_end > data_start && body[data_end - 1] == '\r') --data_end;

    FormPart part;
    part.data = data_end >= data_start ? body.substr(data_start, data_end - data_start) : std::string_view{};
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
    pos = next + 1;
  }
}

std::string_view UploadedImage::Field(std::string_view name) const {
  for (const auto& p : form) {
    if (p.name == name) return p.data;
  }
  return {};
}

Result<UploadedImage> FindImage(std::string_view body, std::string_view content_type) {
  const std::string media = AsciiLower(Trim(content_type.substr(0, content_type.find(';'))));
  UploadedImage out;
  if (media == "multipart/form-data") {
    auto boundary = MultipartBoundary(content_type);
    if (!boundary.ok()) return boundary.status();
    auto parts = ParseMultipart(body, boundary.value());
    if (!parts.ok()) return parts.status();
    out.form = std::move(parts).value();
    for (const char* field : {"image", "file", "frame"}) {
      for (const auto& p : out.form) {
        if (p.name == field) {
          out.image = p.data;
          return out;
        }
      }
    }
    return Status::InvalidArgument("multipart upload has no 'image' (or 'file', 'frame') field");
  }
  if (!media.empty() && media.rfind("image/", 0) != 0 && media != "application/octet-stream") {
    return Status::Unsupported("content type '" + std::string(content_type) +
                               "' not accepted: send an image (e.g. image/jpeg), application/octet-stream or "
                               "multipart/form-data");
  }
  out.image = body;
  return out;
}

}  // namespace iotstream::ingest
