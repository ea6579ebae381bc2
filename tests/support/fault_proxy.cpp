#include "fault_proxy.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <limits>
#include <optional>
#include <random>
#include <stdexcept>
#include <vector>

namespace beanpole::testing {
namespace {

using clock_type = std::chrono::steady_clock;
constexpr std::uint64_t never = std::numeric_limits<std::uint64_t>::max();

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

/// Non-blocking, so that a stalled or slow peer never holds up the other connections; no Nagle,
/// so that every small segment leaves as its own TCP segment.
void prepare(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/// Bytes flowing one way through a connection, and where that direction's next faults fall.
struct flow {
  std::string pending;  // read, not yet all passed on; nothing more is read until it is
  std::size_t offset = 0;
  bool split = false;  // `pending` goes out in 1-7 byte segments
  std::uint64_t until_cut = never;
  std::uint64_t until_stall = never;
  clock_type::time_point resume_at{};  // stalled until then
};

/// One proxied connection: the client's socket and the server's.
struct link {
  int client = -1;
  int server = -1;
  flow up;    // client to server
  flow down;  // server to client
  bool random = false;
  std::mt19937_64 rng;
  bool cut_when_sent = false;  // a targeted cut: once `up` is passed on, wait, then close
  std::optional<clock_type::time_point> close_at;
};

void close_link(link& l, bool reset) {
  for (const int fd : {l.client, l.server}) {
    if (fd < 0) continue;
    if (reset) {
      const linger abort{1, 0};  // close sends RST at once
      ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
    } else {
      ::shutdown(fd, SHUT_RDWR);
    }
    ::close(fd);
  }
  l.client = l.server = -1;
}

/// Uniform in [1, 2 * mean]: `mean` bytes apart on average; `never` for 0.
std::uint64_t draw(std::mt19937_64& rng, std::size_t mean) {
  if (mean == 0) return never;
  return std::uniform_int_distribution<std::uint64_t>(1, 2 * std::uint64_t{mean})(rng);
}

}  // namespace

std::uint64_t fault_schedule::seed_for(std::string_view test) {
  std::uint64_t seed = 0;
  if (const char* env = std::getenv("BEANPOLE_FAULT_SEED"); env != nullptr && *env != '\0') {
    seed = std::strtoull(env, nullptr, 10);
  } else {
    std::random_device rd;
    seed = (std::uint64_t{rd()} << 32) | rd();
  }
  std::cerr << "fault schedule of " << test << ": seed " << seed
            << " (replay: BEANPOLE_FAULT_SEED=" << seed << ")" << std::endl;
  return seed;
}

fault_proxy::fault_proxy(std::uint16_t upstream_port, fault_schedule schedule)
    : upstream_port_(upstream_port), schedule_(schedule) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) fail("socket");
  sockaddr_in addr = loopback(0);
  if (::bind(listen_fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) fail("bind");
  if (::listen(listen_fd_, 128) != 0) fail("listen");
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
  std::uint64_t accepted = 0;

  // Reads a chunk from `in` into `f`; false when the connection is over.
  const auto receive = [&](link& l, flow& f, int in, bool from_client) {
    const ssize_t n = ::recv(in, buf.data(), buf.size(), 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
    if (n <= 0) return false;
    f.pending.assign(buf.data(), static_cast<std::size_t>(n));
    f.offset = 0;
    f.split = l.random && schedule_.split > 0 &&
              std::bernoulli_distribution(schedule_.split)(l.rng) && n > 1;
    if (f.split) ++splits_;
    if (from_client) {
      const std::lock_guard lock(mutex_);
      if (armed_ && f.pending.starts_with(prefix_)) {
        armed_ = false;
        l.cut_when_sent = true;
      }
    }
    return true;
  };

  // Passes on what it can of `f` to `out`, cutting or stalling where the schedule says; false
  // when the connection is over.
  const auto transmit = [&](link& l, flow& f, int out, clock_type::time_point now) {
    std::uint64_t size = f.pending.size() - f.offset;
    if (f.split) {
      size = std::min<std::uint64_t>(size, std::uniform_int_distribution<int>(1, 7)(l.rng));
    }
    size = std::min({size, f.until_cut, f.until_stall});
    const ssize_t n = ::send(out, f.pending.data() + f.offset, size, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
    if (n <= 0) return false;
    const auto sent = static_cast<std::uint64_t>(n);
    f.offset += sent;
    if (f.offset == f.pending.size()) {
      f.pending.clear();
      f.offset = 0;
    }
    if (f.until_cut != never && (f.until_cut -= sent) == 0) {
      ++cuts_;
      close_link(l, /*reset=*/true);
      return true;
    }
    if (f.until_stall != never && (f.until_stall -= sent) == 0) {
      ++stalls_;
      const auto ms = std::uniform_int_distribution<std::int64_t>(
          1, std::max<std::int64_t>(1, schedule_.max_stall.count()))(l.rng);
      f.resume_at = now + std::chrono::milliseconds(ms);
      f.until_stall = draw(l.rng, schedule_.stall_every);
    }
    if (&f == &l.up && l.cut_when_sent && f.pending.empty()) {
      // Let the server act on the command, then drop both sides before its reply.
      l.cut_when_sent = false;
      l.close_at = now + std::chrono::milliseconds(50);
    }
    return true;
  };

  for (;;) {
    auto now = clock_type::now();
    // Targeted cuts whose time has come.
    for (auto& l : links) {
      if (l.client >= 0 && l.close_at && now >= *l.close_at) {
        ++cuts_;  // before the close, so that the client sees the count when it sees the cut
        close_link(l, /*reset=*/false);
      }
    }
    std::erase_if(links, [](const link& l) { return l.client < 0; });

    std::vector<pollfd> fds{{wake_fds_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
    std::optional<clock_type::time_point> wake_at;
    const auto until = [&](clock_type::time_point t) {
      if (!wake_at || t < *wake_at) wake_at = t;
    };
    for (const auto& l : links) {
      const bool reading = !l.close_at && !l.cut_when_sent;
      const auto ready = [&](const flow& f) {
        if (f.pending.empty()) return false;
        if (f.resume_at > now) until(f.resume_at);
        return f.resume_at <= now;
      };
      short client_events = 0;
      short server_events = 0;
      if (reading && l.up.pending.empty()) client_events |= POLLIN;
      if (!l.close_at && ready(l.down)) client_events |= POLLOUT;
      if (reading && l.down.pending.empty()) server_events |= POLLIN;
      if (ready(l.up)) server_events |= POLLOUT;
      if (l.close_at) until(*l.close_at);
      fds.push_back({l.client, client_events, 0});
      fds.push_back({l.server, server_events, 0});
    }
    int timeout = -1;
    if (wake_at) {
      timeout =
          static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(*wake_at - now).count());
      timeout = std::max(timeout, 0);
    }
    if (::poll(fds.data(), fds.size(), timeout) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[0].revents != 0) break;
    now = clock_type::now();
    if (fds[1].revents & POLLIN) {
      const int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0) {
        const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        const sockaddr_in up = loopback(upstream_port_);
        if (s >= 0 && ::connect(s, reinterpret_cast<const sockaddr*>(&up), sizeof up) == 0) {
          prepare(c);
          prepare(s);
          link l;
          l.client = c;
          l.server = s;
          l.random = schedule_.active() && random_faults_.load();
          if (l.random) {
            // The n-th connection's schedule depends on the seed and n only.
            std::seed_seq seq{static_cast<std::uint32_t>(schedule_.seed),
                              static_cast<std::uint32_t>(schedule_.seed >> 32),
                              static_cast<std::uint32_t>(accepted)};
            l.rng.seed(seq);
            for (flow* f : {&l.up, &l.down}) {
              f->until_cut = draw(l.rng, schedule_.cut_every);
              f->until_stall = draw(l.rng, schedule_.stall_every);
            }
          }
          ++accepted;
          ++connections_;
          links.push_back(std::move(l));
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
      const short client_ev = fds[2 + 2 * i].revents;
      const short server_ev = fds[3 + 2 * i].revents;
      if ((client_ev | server_ev) & (POLLERR | POLLNVAL)) {
        close_link(l, /*reset=*/false);
        continue;
      }
      if ((client_ev & POLLOUT) && !transmit(l, l.down, l.client, now)) close_link(l, false);
      if (l.client >= 0 && (server_ev & POLLOUT) && !transmit(l, l.up, l.server, now)) {
        close_link(l, false);
      }
      // A hang-up reported while a flow still holds bytes (not polled for input) would wake
      // every poll until they are out: the connection is over anyway.
      if (l.client >= 0 && (client_ev & (POLLIN | POLLHUP)) &&
          (!l.up.pending.empty() || !receive(l, l.up, l.client, /*from_client=*/true))) {
        close_link(l, false);
      }
      if (l.client >= 0 && (server_ev & (POLLIN | POLLHUP)) &&
          (!l.down.pending.empty() || !receive(l, l.down, l.server, /*from_client=*/false))) {
        close_link(l, false);
      }
    }
    std::erase_if(links, [](const link& l) { return l.client < 0; });
  }
  for (auto& l : links) close_link(l, false);
}

}  // namespace beanpole::testing
