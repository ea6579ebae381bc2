// The rules both clients follow, written once: how long a reply may take, which errors end a
// connection, what a command whose reply was lost fails with, which endpoints are usable, and how
// unexpected bytes from the server are shown. Pure; unit-tested in tests/unit/rules_test.cpp.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <system_error>

#include "beanpole/endpoint.hpp"
#include "beanpole/options.hpp"
#include "beanpole/proto/commands.hpp"

namespace beanpole::conn {

/// The time a command's reply may take: the reply timeout plus the server's deliberate wait;
/// zero (no limit) when either is unbounded.
inline std::chrono::milliseconds reply_budget(const connection_options& opts,
                                              proto::server_wait wait) {
  if (wait.unbounded || opts.reply_timeout.count() == 0) return std::chrono::milliseconds{0};
  return opts.reply_timeout + wait.bounded;
}

/// Whether a command's error leaves its connection unusable: everything but a server's negative
/// answer (the connection stays in step) and a refusal before sending (nothing was sent).
bool closes_connection(std::error_code ec) noexcept;

/// What a command that was written, and whose reply was lost with its connection, fails with.
/// `cause` is why the connection ended; `oldest` whether the command was the oldest awaiting a
/// reply (the one a reply timeout was about); `cancelled` whether the connection was closed by the
/// caller's cancellation or close (the driver knows its own code for that, e.g. Asio's
/// `operation_aborted`, which need not compare equal to `std::errc::operation_canceled`).
/// - a TLS server refused the plain bytes (`tls_reply_to_plain`): that, for every command, a put
///   included, since nothing reached beanstalkd;
/// - a put: `outcome_unknown` always otherwise: the job may exist, and saying "failed" would
///   invite a duplicate;
/// - the caller's own cancellation or close: that (`operation_aborted`);
/// - the oldest command after a reply timeout or a reply that broke the protocol: that cause
///   (`reply_timeout`, `unknown_reply`, ...);
/// - otherwise `connection_lost`.
std::error_code lost_reply_error(bool is_put, std::error_code cause, bool oldest,
                                 bool cancelled = false) noexcept;

/// Whether `ep` can be connected to at all: a non-empty host and a port for TCP; a Unix socket
/// path that fits `sockaddr_un`, without TLS. `errc::invalid_address` otherwise, before any
/// connect.
std::error_code validate(const endpoint& ep) noexcept;

/// Whether `bytes` begin like a TLS record (an alert or a handshake message).
bool begins_like_tls_record(std::string_view bytes) noexcept;

/// Whether a plain TCP connection that failed with `ec` may have been refused by a TLS server
/// (stunnel resets a client that speaks plain text, without a byte): the peer closed or reset it
/// before sending anything. The drivers then ask the server (net/tls_probe.hpp) before they
/// report `errc::tls_reply_to_plain` instead of `ec`.
bool may_be_tls_refusal(std::error_code ec, bool received_any) noexcept;

/// The error for bytes from the server that the reply parser refused with `parser_error`:
/// `errc::tls_reply_to_plain` when they begin like a TLS record (a TLS terminator answering a
/// client that spoke plain text to it), else `parser_error` itself.
std::error_code unexpected_bytes_error(std::error_code parser_error,
                                       std::string_view bytes) noexcept;

/// The first `max` bytes of `bytes`, printable: `\r`, `\n`, `\t`, `\\`, `"` and other
/// non-printable bytes escaped (`\xNN`), `...` appended when cut. For messages about replies
/// that broke the protocol.
std::string printable_prefix(std::string_view bytes, std::size_t max = 64);

}  // namespace beanpole::conn
