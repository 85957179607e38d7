// Private to store/: file reads and writes with POSIX calls and Status errors.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "core/status.h"

namespace iotstream::store {

// Creates or truncates `path` and writes `data`; `sync` adds an fsync before closing (for files an
// acknowledged answer depends on). IOError naming the file on failure. The parent folder must exist.
Status WriteWholeFile(const std::filesystem::path& path, std::string_view data, bool sync);
// The file's bytes; NotFound (with `what` in the message) if it does not exist, IOError if a read fails.
Result<std::string> ReadWholeFile(const std::filesystem::path& path, const std::string& what);

// Writes all of `data` at `fd`'s position (its end, when opened with O_APPEND); IOError naming `path` on failure,
// after which the file may hold part of `data`.
Status WriteAll(int fd, const std::string& path, std::string_view data);
// `size` bytes at `offset`; NotFound (with `what`) if the file does not exist or ends before them.
Result<std::string> ReadFileRange(const std::filesystem::path& path, uint64_t offset, uint64_t size,
                                  const std::string& what);

}  // namespace iotstream::store
