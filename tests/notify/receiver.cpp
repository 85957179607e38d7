#include "notify/receiver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cctype>

namespace iotstream::testing {

Receiver::Receiver() {
  if (!OpenSocket()) {
    ADD_FAILURE() << "the receiver cannot listen";
    return;
  }
  listening_ = true;
  thread_ = std::thread([this] { Loop(); });
}

Receiver::~Receiver() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) close(listen_fd_);
}

std::string Receiver::Url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void Receiver::Answer(int status) {
  std::lock_guard lock(mu_);
  status_ = status;
}

void Receiver::Refuse() {
  std::unique_lock lock(mu_);
  want_listening_ = false;
  cv_.wait(lock, [this] { return !listening_; });
}

void Receiver::Listen() {
  std::unique_lock lock(mu_);
  want_listening_ = true;
  cv_.wait(lock, [this] { return listening_; });
}

std::vector<Receiver::Request> Receiver::Accepted() const {
  std::lock_guard lock(mu_);
  return accepted_;
}

size_t Receiver::Seen() const {
  std::lock_guard lock(mu_);
  return seen_;
}

bool Receiver::OpenSocket() {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return false;
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port_);
  socklen_t len = sizeof addr;
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || listen(listen_fd_, 16) != 0 ||
      getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(listen_fd_);
    listen_fd_ = -1;
    return false;
  }
  if (port_ == 0) port_ = ntohs(addr.sin_port);  // set once, before the loop thread starts
  return true;
}

void Receiver::Loop() {
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      if (want_listening_ != listening_) {
        if (want_listening_) {
          listening_ = OpenSocket();
        } else {
          close(listen_fd_);
          listen_fd_ = -1;
          listening_ = false;
        }
        cv_.notify_all();
      }
    }
    if (listen_fd_ < 0) {
      poll(nullptr, 0, 10);  // wait for Listen() or the end
      continue;
    }
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 10) <= 0) continue;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) Serve(fd);
  }
}

void Receiver::Serve(int fd) {
  timeval five{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &five, sizeof five);
  std::string in;
  char buf[4096];
  size_t head_end = std::string::npos;
  Request req;
  size_t length = 0;
  while (true) {
    if (head_end == std::string::npos) {
      head_end = in.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        size_t line_end = in.find("\r\n");
        const std::string first = in.substr(0, line_end);
        req.method = first.substr(0, first.find(' '));
        req.target = first.substr(first.find(' ') + 1, first.rfind(' ') - first.find(' ') - 1);
        while (line_end < head_end) {
          const size_t next = in.find("\r\n", line_end + 2);
          const std::string line = in.substr(line_end + 2, next - line_end - 2);
          const size_t colon = line.find(':');
          std::string name = line.substr(0, colon);
          for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          std::string value = line.substr(colon + 1);
          value.erase(0, value.find_first_not_of(' '));
          req.headers[name] = value;
          line_end = next;
        }
        if (req.headers.count("content-length")) length = std::stoul(req.headers["content-length"]);
      }
    }
    if (head_end != std::string::npos && in.size() >= head_end + 4 + length) break;
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) {
      close(fd);
      return;
    }
    in.append(buf, static_cast<size_t>(n));
  }
  req.body = in.substr(head_end + 4, length);
  int status = 0;
  {
    std::lock_guard lock(mu_);
    status = status_;
    ++seen_;
    if (status >= 200 && status < 300) accepted_.push_back(req);
  }
  const std::string answer = "HTTP/1.1 " + std::to_string(status) + " Whatever\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  (void)!write(fd, answer.data(), answer.size());
  close(fd);
}

}  // namespace iotstream::testing
