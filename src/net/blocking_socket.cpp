#include "net/blocking_socket.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "beanpole/error.hpp"
#include "net/tls_session.hpp"

namespace beanpole::detail {
namespace {

using std::chrono::milliseconds;
using clock_type = coarse_clock;

std::error_code last_error() {
  return {errno, std::system_category()};
}

class netdb_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "netdb"; }
  std::string message(int ev) const override { return ::gai_strerror(ev); }
};

const std::error_category& netdb_category() {
  static const netdb_category_impl instance;
  return instance;
}

/// `time_left` as poll() takes it: -1 for "no limit".
int poll_timeout(const deadline& until) {
  const auto left = time_left(until);
  return left ? static_cast<int>(std::min<long long>(left->count(), 1 << 30)) : -1;
}

/// Connects `fd` (non-blocking) to `addr`, waiting until `until`.
std::error_code connect_one(int fd, const sockaddr* addr, socklen_t len, const deadline& until) {
  if (::connect(fd, addr, len) == 0) return {};
  if (errno != EINPROGRESS) return last_error();
  pollfd pfd{fd, POLLOUT, 0};
  for (;;) {
    const int n = ::poll(&pfd, 1, poll_timeout(until));
    if (n > 0) break;
    if (n == 0) return errc::connect_timeout;
    if (errno != EINTR) return last_error();
  }
  int err = 0;
  socklen_t err_len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len) != 0) return last_error();
  return err == 0 ? std::error_code{} : std::error_code{err, std::system_category()};
}

/// A socket of `family`, non-blocking while it connects.
int open_socket(int family) {
  return ::socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
}

std::error_code make_blocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) return last_error();
  return {};
}

/// A socket of `family` connected to `addr` within `until` (still non-blocking), or -1 and `ec`.
int open_connected(int family, const sockaddr* addr, socklen_t len, const deadline& until,
                   std::error_code& ec) {
  const int fd = open_socket(family);
  if (fd < 0) {
    ec = last_error();
    return -1;
  }
  ec = connect_one(fd, addr, len, until);
  if (ec) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

blocking_socket::blocking_socket(blocking_socket&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      tls_(std::move(other.tls_)),
      tls_detail_(std::move(other.tls_detail_)),
      recv_timeout_(other.recv_timeout_),
      send_timeout_(other.send_timeout_) {}

blocking_socket& blocking_socket::operator=(blocking_socket&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    tls_ = std::move(other.tls_);
    tls_detail_ = std::move(other.tls_detail_);
    recv_timeout_ = other.recv_timeout_;
    send_timeout_ = other.send_timeout_;
  }
  return *this;
}

blocking_socket::blocking_socket() = default;

blocking_socket::~blocking_socket() {
  close();
}

void blocking_socket::close() noexcept {
  tls_.reset();  // before its socket: no close_notify is sent, the connection is simply dropped
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  recv_timeout_ = send_timeout_ = milliseconds{0};
}

std::error_code blocking_socket::io_error() {
  if (tls_ && errno == EPROTO) {
    tls_detail_ = tls_->detail();
    return tls_->failure();
  }
  return last_error();
}

std::error_code blocking_socket::connect(const endpoint& ep, milliseconds timeout) {
  close();
  tls_detail_.clear();
  const deadline until = timeout.count() > 0 ? deadline{clock_type::now() + timeout} : std::nullopt;

  if (ep.is_unix()) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (ep.unix_path.size() >= sizeof addr.sun_path) return errc::invalid_address;
    std::memcpy(addr.sun_path, ep.unix_path.c_str(), ep.unix_path.size() + 1);
    std::error_code ec;
    const int fd =
        open_connected(AF_UNIX, reinterpret_cast<const sockaddr*>(&addr), sizeof addr, until, ec);
    if (fd < 0) return ec;
    fd_ = fd;
    return make_blocking(fd_);
  }

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(ep.port);
  if (const int rc = ::getaddrinfo(ep.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return rc == EAI_SYSTEM ? last_error() : std::error_code{rc, netdb_category()};
  }
  const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, &::freeaddrinfo);

  std::error_code ec = errc::not_connected;
  for (const addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    const int fd = open_connected(ai->ai_family, ai->ai_addr, ai->ai_addrlen, until, ec);
    if (fd < 0) {
      if (ec == errc::connect_timeout) break;  // the time is spent on every address alike
      continue;
    }
    // Each request goes out in one write and is answered before the next: Nagle's algorithm
    // would hold small writes back for the peer's delayed ACK (about 40 ms each).
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (ep.is_tls()) {  // on the non-blocking socket, so that the deadline bounds it
      tls_ = tls_session::handshake(fd, ep, until, ec, tls_detail_);
      if (!tls_) {
        ::close(fd);
        return ec;
      }
    }
    fd_ = fd;
    return make_blocking(fd_);
  }
  return ec;
}

std::optional<milliseconds> time_left(const deadline& until) {
  if (!until) return std::nullopt;
  const auto left = std::chrono::ceil<milliseconds>(*until - clock_type::now());
  return left.count() > 0 ? left : milliseconds{0};
}

std::error_code blocking_socket::set_timeout(int option, milliseconds wanted) {
  milliseconds& cached = option == SO_RCVTIMEO ? recv_timeout_ : send_timeout_;
  if (wanted == cached) return {};
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(wanted.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>(wanted.count() % 1000 * 1000);
  if (::setsockopt(fd_, SOL_SOCKET, option, &tv, sizeof tv) != 0) return last_error();
  cached = wanted;
  return {};
}

std::error_code blocking_socket::write_all(std::string_view data, milliseconds timeout,
                                           coarse_clock::time_point start) {
  if (fd_ < 0) return errc::not_connected;
  // The first send gets the whole budget; only a request that leaves in pieces reads the clock.
  const deadline until = timeout.count() > 0 ? deadline{start + timeout} : std::nullopt;
  milliseconds budget = timeout;
  while (!data.empty()) {
    if (budget != send_timeout_) {  // checked here, so the usual command makes no call
      if (auto ec = set_timeout(SO_SNDTIMEO, budget)) return ec;
    }
    const ssize_t n = tls_ ? tls_->send(data.data(), data.size())
                           : ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return errc::reply_timeout;
      if (errno != EINTR) return io_error();
    } else {
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    if (!data.empty() && until) {
      budget = *time_left(until);
      if (budget.count() == 0) return errc::reply_timeout;
    }
  }
  return {};
}

std::error_code blocking_socket::read_some(char* buf, std::size_t size, milliseconds timeout,
                                           std::size_t& got) {
  if (fd_ < 0) return errc::not_connected;
  if (timeout != recv_timeout_) {
    if (auto ec = set_timeout(SO_RCVTIMEO, timeout)) return ec;
  }
  for (;;) {
    const ssize_t n = tls_ ? tls_->recv(buf, size) : ::recv(fd_, buf, size, 0);
    if (n > 0) {
      got = static_cast<std::size_t>(n);
      return {};
    }
    if (n == 0) return errc::connection_lost;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return errc::reply_timeout;
    // EINTR: SA_RESTART handlers restart recv themselves; others land here, and one more recv
    // with the same timeout keeps the bound within twice the budget.
    if (errno != EINTR) return io_error();
  }
}

}  // namespace beanpole::detail
