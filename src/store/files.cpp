#include "store/files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace iotstream::store {

Status WriteAll(int fd, const std::string& path, std::string_view data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::IOError("write " + path + ": " + std::strerror(errno));
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status WriteWholeFile(const std::filesystem::path& path, std::string_view data, bool sync) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError("open " + path.string() + ": " + std::strerror(errno));
  if (Status st = WriteAll(fd, path.string(), data); !st.ok()) {
    ::close(fd);
    return st;
  }
  if (sync && ::fsync(fd) != 0) {
    const Status st = Status::IOError("fsync " + path.string() + ": " + std::strerror(errno));
    ::close(fd);
    return st;
  }
  if (::close(fd) != 0) return Status::IOError("close " + path.string() + ": " + std::strerror(errno));
  return Status::Ok();
}

Result<std::string> ReadWholeFile(const std::filesystem::path& path, const std::string& what) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::NotFound("no " + what);
  std::string out;
  char buf[64 * 1024];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  const int read_errno = errno;
  ::close(fd);
  if (n < 0) return Status::IOError("read " + path.string() + ": " + std::strerror(read_errno));
  return out;
}

Result<std::string> ReadFileRange(const std::filesystem::path& path, uint64_t offset, uint64_t size,
                                  const std::string& what) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::NotFound("no " + what);
  std::string out(size, '\0');
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pread(fd, out.data() + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int read_errno = errno;
      ::close(fd);
      if (n == 0) return Status::NotFound("no " + what + " (" + path.string() + " ends before it)");
      return Status::IOError("read " + path.string() + ": " + std::strerror(read_errno));
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return out;
}

}  // namespace iotstream::store
