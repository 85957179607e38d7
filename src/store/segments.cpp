#include "store/segments.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/clock.h"
#include "core/log.h"
#include "store/files.h"

namespace iotstream::store {
namespace fs = std::filesystem;
namespace {

std::string HourFolder(int64_t ms) { return FormatUtc(ms, "%Y%m%d%H"); }

}  // namespace

Segments::Segments(fs::path root, uint64_t segment_max_bytes)
    : root_(std::move(root)), frames_root_(root_ / "frames"), segment_max_bytes_(segment_max_bytes) {}

Segments::~Segments() { CloseAll(); }

Result<SegmentRepair> Segments::Repair(const std::unordered_map<std::string, uint64_t>& indexed_end) {
  SegmentRepair out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(frames_root_, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    const std::string rel = it->path().lexically_relative(root_).generic_string();
    const auto want = indexed_end.find(rel);
    if (want == indexed_end.end()) {
      fs::remove(it->path(), ec);
      ++out.orphans;
      continue;
    }
    uint64_t size = it->file_size(ec);
    if (!ec && size > want->second) {
      fs::resize_file(it->path(), want->second, ec);
      size = want->second;
      ++out.trimmed;
    }
    if (ec) return Status::IOError("cannot repair " + it->path().string() + ": " + ec.message());
    out.sizes[rel] = size;
  }
  if (ec) return Status::IOError("cannot scan " + frames_root_.string() + ": " + ec.message());
  return out;
}

Result<SegmentSpan> Segments::Append(const std::string& device, int64_t received_ts_ms, uint64_t frame_id,
                                     std::string_view bytes) {
  OpenSegment* seg = nullptr;
  if (Status st = SegmentFor(device, HourFolder(received_ts_ms), frame_id, &seg); !st.ok()) return st;
  SegmentSpan span{seg->rel, seg->size};
  if (Status st = WriteAll(seg->fd, seg->rel, bytes); !st.ok()) {
    Truncate(span.rel, span.offset);
    return st;
  }
  seg->size += bytes.size();
  return span;
}

// The device's segment for a frame received in `hour`: the open one while it is of that hour and under
// segment_max_bytes, else a new one named after `first_id` (ids never repeat, so neither do segment names).
Status Segments::SegmentFor(const std::string& device, const std::string& hour, uint64_t first_id,
                            OpenSegment** out) {
  OpenSegment& seg = open_[device];
  *out = &seg;
  if (seg.fd >= 0 && seg.hour == hour && seg.size < segment_max_bytes_) {
    struct stat info {};
    if (::fstat(seg.fd, &info) != 0 || info.st_nlink > 0) return Status::Ok();
    // Appends to an unlinked file would succeed and be lost: start a new segment, folders made again.
    IOT_LOG(kError) << "store: " << seg.rel << " was removed from disk while open (was the frames folder deleted?);"
                    << " its frames are lost, new ones go to a new segment";
    known_dirs_.clear();
  }
  Close(&seg);
  const fs::path dir = frames_root_ / device / hour;
  const std::string rel = "frames/" + device + "/" + hour + "/" + std::to_string(first_id) + ".seg";
  const fs::path full = root_ / rel;
  int fd = -1;
  // Twice at most: a folder made earlier may have been removed since (ENOENT), so it is made again once.
  for (int attempt = 0; attempt < 2 && fd < 0; ++attempt) {
    if (attempt > 0 && errno != ENOENT) break;
    if (attempt > 0 || known_dirs_.count(dir.string()) == 0) {
      std::error_code ec;
      fs::create_directories(dir, ec);
      if (ec) return Status::IOError("cannot create " + dir.string() + ": " + ec.message());
      if (known_dirs_.size() > 4096) known_dirs_.clear();
      known_dirs_.insert(dir.string());
    }
    fd = ::open(full.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  }
  struct stat info {};
  if (fd < 0 || ::fstat(fd, &info) != 0) {
    const Status st = Status::IOError("open " + full.string() + ": " + std::strerror(errno));
    if (fd >= 0) ::close(fd);
    return st;
  }
  seg = OpenSegment{fd, rel, hour, static_cast<uint64_t>(info.st_size)};
  return Status::Ok();
}

void Segments::Truncate(const std::string& rel, uint64_t size) {
  std::error_code ec;
  fs::resize_file(root_ / rel, size, ec);
  if (ec) IOT_LOG(kWarn) << "store: cannot cut " << rel << " back to " << size << " bytes: " << ec.message();
  for (auto& [device, seg] : open_) {
    if (seg.rel == rel) seg.size = size;
  }
}

void Segments::AddFrame(const std::string& rel) { ++segment_frames_[rel]; }

void Segments::RemoveFrame(const std::string& device, const std::string& rel) {
  const auto it = segment_frames_.find(rel);
  if (it == segment_frames_.end() || --it->second > 0) return;
  segment_frames_.erase(it);
  const auto open = open_.find(device);
  if (open == open_.end() || open->second.rel != rel) RemoveSegment(rel);
}

void Segments::SetFrameCounts(std::unordered_map<std::string, uint64_t> frames_per_segment) {
  segment_frames_ = std::move(frames_per_segment);
}

// Stops appending to `seg`; its file goes if retention has already taken all of its frames.
void Segments::Close(OpenSegment* seg) {
  if (seg->fd < 0) return;
  ::close(seg->fd);
  if (segment_frames_.count(seg->rel) == 0) RemoveSegment(seg->rel);
  *seg = OpenSegment{};
}

// Removes a segment no row points into, and its hour folder once that is empty.
void Segments::RemoveSegment(const std::string& rel) {
  std::error_code ec;
  const fs::path full = root_ / rel;
  fs::remove(full, ec);
  if (fs::is_empty(full.parent_path(), ec) && !ec) {
    fs::remove(full.parent_path(), ec);
    known_dirs_.erase(full.parent_path().string());
  }
}

void Segments::RemoveDevice(const std::string& device) {
  if (auto it = open_.find(device); it != open_.end()) {
    if (it->second.fd >= 0) ::close(it->second.fd);
    open_.erase(it);
  }
  const std::string prefix = "frames/" + device + "/";
  std::erase_if(segment_frames_, [&](const auto& kv) { return kv.first.rfind(prefix, 0) == 0; });
  known_dirs_.clear();
  std::error_code ec;
  fs::remove_all(frames_root_ / device, ec);
}

void Segments::CloseAll() {
  for (auto& [device, segment] : open_) {
    if (segment.fd >= 0) ::close(segment.fd);
  }
  open_.clear();
}

}  // namespace iotstream::store
