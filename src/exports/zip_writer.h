// ZipWriter: files stored (not compressed: JPEGs do not shrink) into a ZIP archive, streamed to disk one entry at a
// time through Debian's minizip, so an archive of many frames never sits in memory.
//
// Thread-safety: none; one thread uses a writer. Blocking (disk): never on an I/O thread.
// Ownership: the writer owns the open archive; the destructor of an unfinished writer closes and removes the file.
// Errors: IOError when the archive cannot be created or written (the writer is then unusable: Finish fails);
// InvalidArgument for an entry of 4 GiB or more (the writer stays usable).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace iotstream::exports {

class ZipWriter {
 public:
  // Creates (truncates) the archive at `path`.
  static Result<std::unique_ptr<ZipWriter>> Create(const std::string& path);
  ~ZipWriter();
  ZipWriter(const ZipWriter&) = delete;
  ZipWriter& operator=(const ZipWriter&) = delete;

  // Appends the entry `name` holding `bytes`, stored, dated `mtime_ms` (Unix epoch, shown in UTC). Names are the
  // caller's to keep unique.
  Status Add(const std::string& name, std::string_view bytes, int64_t mtime_ms);
  // Writes the central directory and closes the file; the writer takes nothing after this.
  Status Finish();

 private:
  struct Impl;
  explicit ZipWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace iotstream::exports
