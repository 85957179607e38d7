// Frame: one camera JPEG as it travels from the HTTP read to every sink (store, live view, recognition).
//
// Immutable after construction and shared as FramePtr: any number of threads may read one concurrently,
// and the bytes are never copied after the HTTP body was read (the body string is moved in whole; a
// multipart upload keeps its envelope and the JPEG is a view into it).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace iotstream {

class Frame {
 public:
  struct Meta {
    uint64_t id = 0;                // unique, increasing across restarts
    std::string device_id;          // validated: [A-Za-z0-9._:-]{1,64}
    int64_t capture_ts_ms = 0;      // the camera's timestamp, or received_ts_ms when it sent none
    int64_t received_ts_ms = 0;     // server wall clock at acceptance
    int width = 0;
    int height = 0;
  };

  // REQUIRES: jpeg_offset + jpeg_size <= body.size().
  Frame(Meta meta, std::string body, size_t jpeg_offset, size_t jpeg_size)
      : meta_(std::move(meta)), body_(std::move(body)), offset_(jpeg_offset), size_(jpeg_size) {}

  Frame(const Frame&) = delete;
  Frame& operator=(const Frame&) = delete;

  const Meta& meta() const { return meta_; }
  uint64_t id() const { return meta_.id; }
  const std::string& device_id() const { return meta_.device_id; }
  std::string_view jpeg() const { return std::string_view(body_).substr(offset_, size_); }

 private:
  Meta meta_;
  std::string body_;
  size_t offset_;
  size_t size_;
};

using FramePtr = std::shared_ptr<const Frame>;

}  // namespace iotstream
