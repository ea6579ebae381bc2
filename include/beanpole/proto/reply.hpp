// A decoded server reply: the reply word, its number (if any) and its body or tube name.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>

namespace beanpole::proto {

/// Every reply word of protocol 1.12.
enum class reply_kind : std::uint8_t {
  inserted,         ///< `INSERTED <id>`
  buried,           ///< BURIED (bury, release) or `BURIED <id>` (put)
  using_tube,       ///< `USING <tube>`
  reserved,         ///< `RESERVED <id> <bytes>` + body
  deadline_soon,    ///< DEADLINE_SOON
  timed_out,        ///< TIMED_OUT
  deleted,          ///< DELETED
  not_found,        ///< NOT_FOUND
  released,         ///< RELEASED
  touched,          ///< TOUCHED
  watching,         ///< `WATCHING <count>`
  not_ignored,      ///< NOT_IGNORED
  found,            ///< `FOUND <id> <bytes>` + body
  kicked,           ///< `KICKED <count>` (kick) or KICKED (kick-job)
  ok,               ///< `OK <bytes>` + body (stats, lists)
  paused,           ///< PAUSED
  expected_crlf,    ///< EXPECTED_CRLF
  job_too_big,      ///< JOB_TOO_BIG
  draining,         ///< DRAINING
  out_of_memory,    ///< OUT_OF_MEMORY
  internal_error,   ///< INTERNAL_ERROR
  bad_format,       ///< BAD_FORMAT
  unknown_command,  ///< UNKNOWN_COMMAND
};

/// The reply word as the server spells it ("INSERTED", "USING", ...).
std::string_view to_string(reply_kind kind) noexcept;

/// One reply, as the parser produced it.
struct reply {
  reply_kind kind = reply_kind::ok;  ///< The reply word.
  /// Whether the reply line carried a number: INSERTED, RESERVED, FOUND (the job id), WATCHING,
  /// `KICKED <count>` (the count), `BURIED <id>` from a put. False for BURIED and KICKED without
  /// one.
  bool has_number = false;
  /// That number; 0 when `has_number` is false.
  std::uint64_t number = 0;
  /// The body of RESERVED, FOUND and OK (binary-safe), or the tube name of USING.
  std::string body;
  /// A RESERVED or FOUND whose body was not followed by CRLF: beanstalkd 1.12 sends a job torn
  /// by a crash (replayed from its binlog as zeros) that way, with the announced length, so the
  /// stream is still in step. The commands report it as `errc::corrupt_job`.
  bool body_torn = false;

  /// Same word, number and body (for tests).
  friend bool operator==(const reply&, const reply&) = default;
};

/// Writes a reply readably (for test failures): `RESERVED 5 [3 bytes]`, `[3 bytes, torn]`.
std::ostream& operator<<(std::ostream& os, const reply& r);

}  // namespace beanpole::proto
