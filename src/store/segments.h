// Segments: the segment files frame bytes are appended to, private to store/. Each device has at most one open
// segment, <root>/frames/<device>/<YYYYMMDDHH>/<first_frame_id>.seg, replaced when the hour of the received time
// changes or it reaches segment_max_bytes. Segments also counts the index rows that point into each segment, so
// that a segment goes from disk with its last row (the device's open one only when it is closed).
//
// Thread-safety: none; the storage thread owns it (Repair runs before that thread starts).
// Ownership: holds the open segments' file descriptors and closes them in CloseAll() or on destruction, leaving
// the files on disk. Paths given and returned ("rel") are relative to the store's root, as the index names them.
// Errors: Append and Repair return IOError naming the file; the clean-up calls (Truncate, RemoveFrame,
// RemoveDevice) log or ignore what fails, as a file left behind is removed by the next Repair.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "core/status.h"

namespace iotstream::store {

// Where an appended frame's bytes went.
struct SegmentSpan {
  std::string rel;      // the segment, relative to the root
  uint64_t offset = 0;  // the first byte of the frame in it
};

// What Repair changed on disk.
struct SegmentRepair {
  std::unordered_map<std::string, uint64_t> sizes;  // each indexed segment found -> its size after repair
  size_t orphans = 0;                               // files no row names, removed
  size_t trimmed = 0;                               // segments cut back to their last indexed byte
};

class Segments {
 public:
  Segments(std::filesystem::path root, uint64_t segment_max_bytes);
  ~Segments();
  Segments(const Segments&) = delete;
  Segments& operator=(const Segments&) = delete;

  // Makes the folder agree with the index: removes every file under <root>/frames that `indexed_end` (segment ->
  // end of its last indexed frame) does not name, and cuts longer segments back to that end.
  Result<SegmentRepair> Repair(const std::unordered_map<std::string, uint64_t>& indexed_end);

  // Appends `bytes` to `device`'s segment for frames received at `received_ts_ms`, opening a new one named after
  // `frame_id` when needed. On a failed write the segment is cut back to where the frame would have started.
  // An open segment removed from disk (its folder deleted) is logged and replaced by a new one, folders made
  // again; the rows of its frames stay until the next Repair (reads of them answer NotFound).
  Result<SegmentSpan> Append(const std::string& device, int64_t received_ts_ms, uint64_t frame_id,
                             std::string_view bytes);
  // Cuts `rel` back to `size` bytes: undoes appends whose index rows did not commit.
  void Truncate(const std::string& rel, uint64_t size);

  // An index row now points into `rel`.
  void AddFrame(const std::string& rel);
  // The row of a frame of `device` in `rel` is gone; the segment goes with its last row unless it is open.
  void RemoveFrame(const std::string& device, const std::string& rel);
  // Replaces the per-segment row counts (after the index was recounted).
  void SetFrameCounts(std::unordered_map<std::string, uint64_t> frames_per_segment);

  // Closes the device's open segment and removes its folder with every segment in it.
  void RemoveDevice(const std::string& device);
  // Closes every open segment, keeping the files.
  void CloseAll();

 private:
  // A device's segment being appended to.
  struct OpenSegment {
    int fd = -1;
    std::string rel;    // its path under root_, as the index names it
    std::string hour;   // the hour folder it is in
    uint64_t size = 0;  // bytes in the file
  };

  Status SegmentFor(const std::string& device, const std::string& hour, uint64_t first_id, OpenSegment** out);
  void Close(OpenSegment* seg);
  void RemoveSegment(const std::string& rel);

  const std::filesystem::path root_;
  const std::filesystem::path frames_root_;
  const uint64_t segment_max_bytes_;
  std::unordered_set<std::string> known_dirs_;
  std::unordered_map<std::string, OpenSegment> open_;         // by device id
  std::unordered_map<std::string, uint64_t> segment_frames_;  // indexed frames per segment path
};

}  // namespace iotstream::store
