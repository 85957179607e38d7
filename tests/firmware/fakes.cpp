#include "fakes.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace iotstream::firmware::testing {

std::string HttpAnswer(int status, const std::string& body, const std::string& extra_headers) {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n" + extra_headers + "\r\n" + body;
}

TinyServer::TinyServer(std::function<std::string(int)> answer) : answer_(std::move(answer)) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof addr;
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(listen_fd_, 16) != 0 ||
      getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
    std::abort();
  }
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { Accept(); });
}

TinyServer::~TinyServer() {
  stop_ = true;
  acceptor_.join();
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    threads.swap(threads_);
  }
  for (auto& t : threads) t.join();
  close(listen_fd_);
}

std::vector<std::string> TinyServer::heads() const {
  std::lock_guard lock(mu_);
  return heads_;
}

void TinyServer::Accept() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 20) != 1) continue;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    ++connections_;
    std::lock_guard lock(mu_);
    threads_.emplace_back([this, fd] { Serve(fd); });
  }
}

void TinyServer::Serve(int fd) {
  std::string in;
  char buffer[8192];
  // Reads more bytes until done() holds; false when the peer closed or the server stops first.
  auto read_until = [&](auto done) {
    while (!done()) {
      pollfd p{fd, POLLIN, 0};
      if (stop_) return false;
      if (poll(&p, 1, 20) != 1) continue;
      const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) return false;
      in.append(buffer, static_cast<size_t>(n));
    }
    return true;
  };
  for (;;) {
    if (!read_until([&] { return in.find("\r\n\r\n") != std::string::npos; })) break;
    const size_t head_end = in.find("\r\n\r\n") + 4;
    const std::string head = in.substr(0, head_end);
    size_t body = 0;
    if (const size_t at = head.find("Content-Length: "); at != std::string::npos) {
      body = std::strtoul(head.c_str() + at + 16, nullptr, 10);
    }
    if (!read_until([&] { return in.size() >= head_end + body; })) break;
    in.erase(0, head_end + body);
    {
      std::lock_guard lock(mu_);
      heads_.push_back(head);
    }
    const std::string answer = answer_(requests_++);
    if (answer.empty()) {
      while (!stop_) {
        pollfd p{fd, 0, 0};
        poll(&p, 1, 20);
      }
      break;
    }
    if (send(fd, answer.data(), answer.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(answer.size())) break;
  }
  close(fd);
}

}  // namespace iotstream::firmware::testing
