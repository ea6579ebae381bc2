// A connected stream socket (TCP or Unix) with blocking I/O bounded by deadlines: the transport
// of the blocking client. Private to the library.
//
// Why not Asio here: a blocking request/response costs two system calls this way (send, then a
// recv that sleeps in the kernel until the reply comes), where a reactor costs four (send, a recv
// that finds nothing, epoll_wait, recv). On this protocol's small messages system calls are the
// whole cost, so the blocking client stays on plain sockets; what a command means is shared with
// the async client through the proto command types, not through the transport.
#pragma once

#include <time.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "beanpole/endpoint.hpp"

namespace beanpole::detail {

/// CLOCK_MONOTONIC_COARSE: a few milliseconds of resolution, at a fraction of the cost of
/// steady_clock, whose reads were a tenth of a blocking put's instructions. Timeouts here are
/// counted in hundreds of milliseconds and more.
struct coarse_clock {
  using duration = std::chrono::nanoseconds;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<coarse_clock>;
  static constexpr bool is_steady = true;
  static time_point now() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return time_point(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec));
  }
};

/// A deadline for blocking I/O; `std::nullopt` means "no limit".
using deadline = std::optional<coarse_clock::time_point>;

/// The time left until `until`, in whole milliseconds rounded up (zero when it has passed; "no
/// limit" stays no limit: `std::nullopt`).
std::optional<std::chrono::milliseconds> time_left(const deadline& until);

class tls_session;

/// Thread safety: none; the owner serializes calls.
class blocking_socket {
 public:
  blocking_socket();
  blocking_socket(const blocking_socket&) = delete;
  blocking_socket& operator=(const blocking_socket&) = delete;
  blocking_socket(blocking_socket&& other) noexcept;
  blocking_socket& operator=(blocking_socket&& other) noexcept;
  ~blocking_socket();

  /// Connects to `ep`, trying every resolved address in turn until `timeout` (zero: no limit)
  /// runs out, and for a TLS endpoint runs the handshake within the same time. Sets TCP_NODELAY
  /// on TCP sockets. Errors: resolver and socket errors (std::system_category or the netdb
  /// category), `errc::connect_timeout`, the TLS errors (see `tls_detail`).
  std::error_code connect(const endpoint& ep, std::chrono::milliseconds timeout);

  /// Sends all of `data` within `timeout` of `start` (zero: no limit), in as few system calls as
  /// the kernel allows. Errors: socket errors, `errc::reply_timeout` when the time is up (the
  /// peer stopped reading).
  std::error_code write_all(std::string_view data, std::chrono::milliseconds timeout,
                            coarse_clock::time_point start);

  /// Receives at least one byte into `buf` within `timeout` (zero: no limit). Errors: socket
  /// errors, `errc::connection_lost` when the peer closed, `errc::reply_timeout` when the time
  /// is up.
  std::error_code read_some(char* buf, std::size_t size, std::chrono::milliseconds timeout,
                            std::size_t& got);

  bool is_open() const noexcept { return fd_ >= 0; }
  void close() noexcept;

  /// What TLS said about the last TLS failure (a handshake, an alert after it); empty when the
  /// last failure was not one.
  const std::string& tls_detail() const noexcept { return tls_detail_; }

 private:
  /// The error of a failed send or recv: errno's, or the TLS session's for EPROTO.
  std::error_code io_error();

  /// Arms SO_RCVTIMEO or SO_SNDTIMEO, unless it is armed so already: a command with the usual
  /// timeout costs no setsockopt and no clock read.
  std::error_code set_timeout(int option, std::chrono::milliseconds wanted);

  int fd_ = -1;
  // Set for a TLS endpoint: send and recv go through it. Plain connections pay one test of it.
  std::unique_ptr<tls_session> tls_;
  std::string tls_detail_;
  // The SO_RCVTIMEO / SO_SNDTIMEO now in force, so the common case costs no setsockopt.
  std::chrono::milliseconds recv_timeout_{0};
  std::chrono::milliseconds send_timeout_{0};
};

}  // namespace beanpole::detail
