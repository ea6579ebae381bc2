// beanpole error model: one error category ("beanpole") shared by the codec, the blocking
// client and the async client, an exception for the throwing style, and error conditions that
// separate the three families of failure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <system_error>

namespace beanpole {

/// Every error beanpole itself reports. Socket errors keep their own (system / Asio) codes.
///
/// The values fall into three families, testable with `beanpole::condition`:
/// - server answers: the server replied with a negative status; the connection stays usable;
/// - protocol violations: the server sent something the protocol does not allow; the
///   connection is closed, because the reply stream can no longer be trusted;
/// - local misuse: an argument was refused before anything was sent; nothing was sent.
/// Connection-level failures (`not_connected`, `reply_timeout`, `connection_lost`,
/// `outcome_unknown`, `lost_reservation`) form a fourth family.
enum class errc {
  // --- server answers -------------------------------------------------------------------
  out_of_memory = 1,  ///< OUT_OF_MEMORY: the server could not allocate memory.
  internal_error,     ///< INTERNAL_ERROR: a bug in the server.
  bad_format,         ///< BAD_FORMAT: the server refused the command line.
  unknown_command,    ///< UNKNOWN_COMMAND: the server does not know the command.
  expected_crlf,      ///< EXPECTED_CRLF: the job body was not followed by CRLF.
  job_too_big,        ///< JOB_TOO_BIG: the body exceeds the server's max-job-size.
  draining,           ///< DRAINING: the server is in drain mode and takes no new jobs.
  deadline_soon,      ///< DEADLINE_SOON: a job reserved by this connection is about to time out.
  timed_out,          ///< TIMED_OUT to a reserve that had no timeout (half-closed connection).
  not_found,          ///< NOT_FOUND: no such job or tube, or not in the required state.
  not_ignored,        ///< NOT_IGNORED: the last watched tube cannot be ignored.
  buried,             ///< BURIED: put or release buried the job (the server ran out of memory).
  reserve_job_unsupported,  ///< The server answered reserve-job with BAD_FORMAT: it is older
                            ///< than 1.12.
  corrupt_job,  ///< The server sent a job (RESERVED, FOUND) whose body is not followed by CRLF:
                ///< beanstalkd 1.12 replays a put cut short by a crash from its binlog that
                ///< way. The reply had the announced length, so the connection stays usable;
                ///< the job's id is kept (its body is not) so that it can be buried or deleted.

  // --- protocol violations by the server ------------------------------------------------
  reply_line_too_long = 100,  ///< A reply line exceeded the parser's fixed bound.
  body_too_large,             ///< A reply announced a body larger than the configured bound.
  bad_number,                 ///< A number in a reply was not decimal digits or overflowed.
  missing_body_crlf,          ///< A reply body was not followed by CRLF.
  unknown_reply,              ///< The reply word is not one the protocol defines.
  malformed_reply,            ///< A known reply word with the wrong arguments.
  unexpected_reply,           ///< A valid reply that does not answer the command that was sent.
  bad_stats,                  ///< A stats or list body that is not the server's key/value format.
  tls_reply_to_plain,  ///< The server answered in TLS: it is a TLS terminator addressed as plain
                       ///< (use a `tls://` address).

  // --- local misuse (nothing was sent) --------------------------------------------------
  invalid_tube_name =
      200,             ///< Not 1..200 bytes of A-Z a-z 0-9 - + / ; . $ _ ( ), or starts with '-'.
  value_out_of_range,  ///< A priority, delay, ttr or timeout that does not fit 32 bits unsigned.
  invalid_address,     ///< An address that is not HOST:PORT, [IPV6]:PORT or unix:PATH.
  tls_files_invalid,   ///< A TLS CA bundle, certificate or key could not be loaded (missing, not
                       ///< PEM, a key that does not match the certificate); nothing was sent.

  // --- connection state -----------------------------------------------------------------
  not_connected =
      300,           ///< The client has no connection (never connected, or closed after an error).
  connect_timeout,   ///< Connecting took longer than the connect timeout.
  reply_timeout,     ///< No complete reply within the reply timeout; the connection was closed.
  connection_lost,   ///< The connection dropped before the reply arrived.
  outcome_unknown,   ///< A put was sent but its reply was lost: the job may or may not exist.
  lost_reservation,  ///< The connection holding this reserved job dropped; the server released it.
  tls_handshake_failed,          ///< The TLS handshake failed: the server refused it (an alert,
                                 ///< e.g. it requires a client certificate) or broke it off.
  tls_certificate_not_verified,  ///< The server's certificate chain is not signed by a trusted CA
                                 ///< (or is expired, or not yet valid).
  tls_name_mismatch,  ///< The server's certificate is valid but not for the name verified (the
                      ///< host, or `tls_options::server_name`).
  tls_not_spoken,     ///< The server does not speak TLS (a plain server addressed as `tls://`).
};

/// The families of `errc`, for `ec == beanpole::condition::server_answer` style tests.
enum class condition {
  server_answer = 1,   ///< The server answered with a negative status; the connection is usable.
  protocol_violation,  ///< The server broke the protocol; the connection was closed.
  local_misuse,        ///< An argument was refused before anything was sent.
  connection_failure,  ///< No usable connection, a timeout, or a reply lost with its connection.
};

/// The category of `errc`; its name is "beanpole".
const std::error_category& error_category() noexcept;
/// The category of `condition`; its name is "beanpole.condition".
const std::error_category& condition_category() noexcept;

/// Makes an error code of the "beanpole" category.
std::error_code make_error_code(errc e) noexcept;
/// Makes an error condition of the "beanpole.condition" category.
std::error_condition make_error_condition(condition c) noexcept;

/// The protocol's own word for a server answer ("NOT_FOUND", "JOB_TOO_BIG", ...), or an empty
/// string when `ec` is not a server answer or has no word (`errc::corrupt_job`). The CLI prints it;
/// scripts match on it.
std::string_view status_word(std::error_code ec) noexcept;

/// Why a client's connection last failed: the error that ended it and, when the server sent a
/// reply that broke the protocol, the first bytes of it, escaped (`\r`, `\n`, `\xNN`). A
/// put that fails with `errc::outcome_unknown` says only that the job may exist; this says why
/// its reply was lost (a reply timeout, a listener that is not beanstalkd, a reset).
struct failure_info {
  /// The error that ended the connection; empty when none has failed.
  std::error_code cause;
  /// The start of the offending reply (at most 64 bytes, escaped), for protocol violations.
  std::string received;
  /// What TLS said about a failed handshake (OpenSSL's reason, the verification result), for
  /// the TLS errors; empty otherwise.
  std::string detail;

  /// One line: the cause's message, then the TLS detail and the received bytes in quotes when
  /// there are any.
  std::string message() const;
};

/// The exception thrown by the throwing overloads. It is a `std::system_error`, so `code()`
/// gives the `std::error_code`. When the failure concerns a job whose id is known (a put
/// answered `BURIED <id>`, a reserve or peek that got a corrupt job), `job()` carries that id so
/// that the job is never lost track of.
class error : public std::system_error {
 public:
  /// An error with the category's message.
  explicit error(std::error_code ec) : std::system_error(ec) {}
  /// An error with extra context prefixed to the category's message.
  error(std::error_code ec, const std::string& what) : std::system_error(ec, what) {}
  /// An error that concerns a known job id (see class comment).
  error(std::error_code ec, std::uint64_t job, const std::string& what)
      : std::system_error(ec, what), job_(job) {}

  /// The id of the job the error concerns, when there is one.
  std::optional<std::uint64_t> job() const noexcept { return job_; }

 private:
  std::optional<std::uint64_t> job_;
};

}  // namespace beanpole

namespace std {
template <>
struct is_error_code_enum<beanpole::errc> : true_type {};
template <>
struct is_error_condition_enum<beanpole::condition> : true_type {};
}  // namespace std
