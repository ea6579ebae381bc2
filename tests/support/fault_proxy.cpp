#include "fault_proxy.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace beanpole::testing {
namespace {

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

[[noreturn]] void fail(const char* what) {
  throw std::runtime_error(std::string("fault_proxy: ") + what + ": " + std::strerror(errno));
}

bool send_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

/// One proxied connection: the client's socket and the server's.
struct link {
  int client = -1;
  int server = -1;
};

void close_link(link& l) {
  if (l.client >= 0) ::close(l.client);
  if (l.server >= 0) ::close(l.server);
  l.client = l.server = -1;
}

}  // namespace

fault_proxy::fault_proxy(std::uint16_t upstream_port) : upstream_port_(upstream_port) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) fail("socket");
  sockaddr_in addr = loopback(0);
  if (::bind(listen_fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) fail("bind");
  if (::listen(listen_fd_, 16) != 0) fail("listen");
  socklen_t len = sizeof addr;
  if (::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    fail("getsockname");
  }
  port_ = ntohs(addr.sin_port);
  if (::pipe2(wake_fds_, O_CLOEXEC) != 0) fail("pipe");
  thread_ = std::thread([this] { run(); });
}

fault_proxy::~fault_proxy() {
  const char byte = 0;
  (void)!::write(wake_fds_[1], &byte, 1);
  thread_.join();
  ::close(listen_fd_);
  ::close(wake_fds_[0]);
  ::close(wake_fds_[1]);
}

beanpole::endpoint fault_proxy::endpoint() const {
  return beanpole::endpoint::tcp("127.0.0.1", port_);
}

void fault_proxy::cut_on(std::string prefix) {
  const std::lock_guard lock(mutex_);
  prefix_ = std::move(prefix);
  armed_ = true;
}

void fault_proxy::run() {
  std::vector<link> links;
  std::vector<char> buf(64 * 1024);
  for (;;) {
    std::vector<pollfd> fds{{wake_fds_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
    for (const auto& l : links) {
      fds.push_back({l.client, POLLIN, 0});
      fds.push_back({l.server, POLLIN, 0});
    }
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[0].revents != 0) break;
    if (fds[1].revents & POLLIN) {
      const int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0) {
        const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        const sockaddr_in up = loopback(upstream_port_);
        if (s >= 0 && ::connect(s, reinterpret_cast<const sockaddr*>(&up), sizeof up) == 0) {
          links.push_back({c, s});
        } else {
          ::close(c);
          if (s >= 0) ::close(s);
        }
      }
    }
    // Only the links that were polled: one accepted just now has no pollfd yet.
    const std::size_t polled = (fds.size() - 2) / 2;
    for (std::size_t i = 0; i < polled; ++i) {
      link& l = links[i];
      for (const bool from_client : {true, false}) {
        const pollfd& p = fds[2 + 2 * i + (from_client ? 0 : 1)];
        if (l.client < 0 || p.revents == 0) continue;
        const int in = from_client ? l.client : l.server;
        const int out = from_client ? l.server : l.client;
        const ssize_t n = ::recv(in, buf.data(), buf.size(), 0);
        if (n <= 0) {
          close_link(l);
          continue;
        }
        const std::string_view data(buf.data(), static_cast<std::size_t>(n));
        bool cut = false;
        if (from_client) {
          const std::lock_guard lock(mutex_);
          if (armed_ && data.starts_with(prefix_)) {
            armed_ = false;
            cut = true;
          }
        }
        if (!send_all(out, data.data(), data.size())) {
          close_link(l);
          continue;
        }
        if (cut) {
          // Let the server act on the command, then drop both sides before its reply.
          ::usleep(50 * 1000);
          ++cuts_;  // before the close, so that the client sees the count when it sees the cut
          ::shutdown(l.client, SHUT_RDWR);
          close_link(l);
        }
      }
    }
    std::erase_if(links, [](const link& l) { return l.client < 0; });
  }
  for (auto& l : links) close_link(l);
}

}  // namespace beanpole::testing
