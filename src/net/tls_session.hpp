// TLS over a connected blocking socket: the handshake (bounded by the connect deadline) and
// record I/O with the socket's own semantics (a timeout shows as EAGAIN), so that the blocking
// socket keeps one loop for plain and TLS. Private to the library.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <string>
#include <system_error>

#include "beanpole/endpoint.hpp"
#include "net/blocking_socket.hpp"

struct ssl_st;

namespace beanpole::detail {

/// Thread safety: none; the blocking socket that owns it serializes calls.
class tls_session {
 public:
  /// Runs the client handshake for `ep` on `fd` (connected, non-blocking) until `until`. Null
  /// with `ec` and `detail` on failure: `errc::tls_files_invalid`, `tls_handshake_failed`,
  /// `tls_certificate_not_verified`, `tls_name_mismatch`, `tls_not_spoken`, or
  /// `errc::connect_timeout` when the handshake does not finish in time.
  static std::unique_ptr<tls_session> handshake(int fd, const endpoint& ep, const deadline& until,
                                                std::error_code& ec, std::string& detail);
  ~tls_session();
  tls_session(const tls_session&) = delete;
  tls_session& operator=(const tls_session&) = delete;

  /// As send(2)/recv(2) on a blocking socket: bytes moved; 0 for the peer's close (recv); -1
  /// with errno, EAGAIN when the socket's timeout ran out, EPROTO for a TLS failure (then see
  /// `failure` and `detail`).
  ssize_t send(const char* data, std::size_t size);
  ssize_t recv(char* buf, std::size_t size);

  /// The beanpole error of the last EPROTO.
  std::error_code failure() const noexcept { return failure_; }
  /// What TLS said about it.
  const std::string& detail() const noexcept { return detail_; }

 private:
  explicit tls_session(ssl_st* ssl) : ssl_(ssl) {}
  ssize_t fail(int rc, bool reading);

  ssl_st* ssl_;
  std::error_code failure_;
  std::string detail_;
};

}  // namespace beanpole::detail
