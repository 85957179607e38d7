#include "posix_io.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

namespace iotstream::firmware {
namespace {

// poll() on one descriptor, retried across signals; returns poll's result.
int PollOne(int fd, short events, uint32_t timeout_ms) {
  pollfd p{fd, events, 0};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    const int rc = poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 0)));
    if (rc < 0 && errno == EINTR) continue;
    return rc;
  }
}

}  // namespace

PosixTransport::~PosixTransport() { Close(); }

void PosixTransport::Close() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

bool PosixTransport::Connect(const char* host, uint16_t port, uint32_t timeout_ms) {
  Close();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (getaddrinfo(host, service.c_str(), &hints, &found) != 0 || found == nullptr) return false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (addrinfo* a = found; a != nullptr && fd_ < 0; a = a->ai_next) {
    const int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    bool ok = ::connect(fd, a->ai_addr, a->ai_addrlen) == 0;
    if (!ok && errno == EINPROGRESS) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      int error = 0;
      socklen_t length = sizeof error;
      ok = PollOne(fd, POLLOUT, static_cast<uint32_t>(std::max<int64_t>(left.count(), 0))) == 1 &&
           getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0;
    }
    if (!ok) {
      ::close(fd);
      continue;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fd_ = fd;
  }
  freeaddrinfo(found);
  return fd_ >= 0;
}

bool PosixTransport::WriteAll(const uint8_t* data, size_t size, uint32_t timeout_ms) {
  if (fd_ < 0) return false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (size > 0) {
    const ssize_t n = ::send(fd_, data, size, MSG_NOSIGNAL);
    if (n > 0) {
      data += n;
      size -= static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || PollOne(fd_, POLLOUT, static_cast<uint32_t>(left.count())) != 1) return false;
      continue;
    }
    return false;
  }
  return true;
}

int PosixTransport::ReadSome(uint8_t* buffer, size_t capacity, uint32_t timeout_ms) {
  if (fd_ < 0) return -1;
  for (;;) {
    const ssize_t n = ::recv(fd_, buffer, capacity, 0);
    if (n > 0) return static_cast<int>(n);
    if (n == 0) return -1;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
    const int ready = PollOne(fd_, POLLIN, timeout_ms);
    if (ready == 0) return 0;
    if (ready < 0) return -1;
    // Readable (data, end of stream or an error): the next recv says which; the wait is over.
    timeout_ms = 0;
  }
}

uint64_t SteadyClock::MonotonicUs() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

bool SteadyClock::WallMs(int64_t* ms) {
  *ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
  return true;
}

void SteadyClock::SleepUs(uint64_t us) { std::this_thread::sleep_for(std::chrono::microseconds(us)); }

std::string LoadJpegFile(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

JpegSet LoadJpegFolder(const std::filesystem::path& folder) {
  namespace fs = std::filesystem;
  std::vector<fs::path> paths;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    std::string ext = it->path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (ext == ".jpg" || ext == ".jpeg") paths.push_back(it->path());
  }
  std::sort(paths.begin(), paths.end());
  auto frames = std::make_shared<std::vector<std::string>>();
  for (const auto& p : paths) {
    std::string bytes = LoadJpegFile(p);
    if (!bytes.empty()) frames->push_back(std::move(bytes));
  }
  return frames;
}

JpegSetCamera::JpegSetCamera(JpegSet frames, size_t first) : frames_(std::move(frames)), next_(first % frames_->size()) {}

bool JpegSetCamera::Grab(FrameView* frame) {
  last_ = next_;
  next_ = (next_ + 1) % frames_->size();
  const std::string& bytes = (*frames_)[last_];
  frame->data = reinterpret_cast<const uint8_t*>(bytes.data());
  frame->size = bytes.size();
  return true;
}

void StderrLog::Line(const char* text) {
  const std::string line = prefix_ + ": " + text + "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace iotstream::firmware
