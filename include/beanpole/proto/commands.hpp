// Every command of protocol 1.12 as a small value type that knows how to write itself and how to
// read its own reply. These are the "operations" both clients drive: the blocking client and the
// async client differ only in how bytes move, never in what a command means.
//
// Each command type provides:
//   using result_type = ...;                              what a successful reply yields
//   std::error_code encode(std::string& out) const;       appends the request (line, body, CRLF)
//   result_type interpret(reply&&, std::error_code&) const;  maps a reply to a result or an error
//   static constexpr command_traits traits{...};          what a driver must know about it
//
// `encode` refuses bad input (a number outside 32 bits unsigned) before anything is written;
// tube names are already valid by construction (`tube_name`). `interpret` maps negative answers
// to `errc` values (the connection stays usable) and any reply that does not belong to the
// command to `errc::unexpected_reply` (a protocol violation: the connection must be closed).
// A job whose body came without its CRLF (reserve*, peek*) yields `errc::corrupt_job` together
// with the job, which has its id and an empty body: a reserve holds it all the same.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "beanpole/proto/reply.hpp"
#include "beanpole/proto/stats.hpp"
#include "beanpole/types.hpp"

namespace beanpole::proto {

/// How long the server may deliberately hold a reply back. A client's reply timeout never cuts
/// that wait short: it is added to it, and a command with an unbounded wait has no reply timeout.
struct server_wait {
  bool unbounded = false;           ///< `reserve`: the server may wait forever.
  std::chrono::seconds bounded{0};  ///< `reserve-with-timeout N`: N seconds.
};

/// Static facts a driver needs about a command.
struct command_traits {
  bool has_reply = true;      ///< False only for `quit`: the server closes instead of answering.
  bool reserves_job = false;  ///< A success hands a job to this connection (reserve*).
  bool acts_on_reserved = false;  ///< Acts on a job this connection may hold (delete, release...).
  bool changes_tube_state = false;  ///< use / watch / ignore: per-connection state.
};

/// Converts seconds to the protocol's 32-bit unsigned field. `errc::value_out_of_range` when
/// negative or too large.
std::error_code to_wire_seconds(std::chrono::seconds s, std::uint32_t& out) noexcept;

// ------------------------------------------------------------------------- producer commands

/// `put <pri> <delay> <ttr> <bytes>`: a new job in the used tube. The body is copied by
/// `encode`, so it only has to live until then. Yields the new id. `BURIED <id>` yields the id
/// *and* `errc::buried`: the job exists (buried), keep the id.
struct put_command {
  using result_type = job_id;                ///< The new job's id.
  static constexpr command_traits traits{};  ///< See `command_traits`.
  priority pri = default_priority;           ///< Smaller is more urgent; 0 is the most urgent.
  /// Seconds before the job is ready; 0: at once. Must fit 32 bits.
  std::chrono::seconds delay{0};
  /// Seconds a worker may hold the job (the server makes 0 into 1). Must fit 32 bits.
  std::chrono::seconds ttr{60};
  std::string_view body;  ///< The body, any bytes; copied by `encode`.

  /// Appends the request to `out`. `errc::value_out_of_range` when `delay` or `ttr` does not fit 32
  /// bits.
  std::error_code encode(std::string& out) const;
  /// Appends only the command line (`put <pri> <delay> <ttr> <bytes>` and CRLF), for a writer
  /// that sends the body from where it is, then CRLF. Errors as `encode`.
  std::error_code encode_line(std::string& out) const;
  /// The result of the reply `r`, or the error in `ec` (see the file comment).
  result_type interpret(reply&& r, std::error_code& ec) const;
};

/// `use <tube>`: later puts (and peek-ready/-delayed/-buried, kick) go to `tube`.
struct use_command {
  using result_type = void;                                            ///< Nothing: USING confirms.
  static constexpr command_traits traits{.changes_tube_state = true};  ///< See `command_traits`.
  tube_name tube;                                                      ///< The tube to use.

  /// Appends the request to `out`.
  std::error_code encode(std::string& out) const;
  /// The result of the reply `r`, or the error in `ec` (see the file comment).
  void interpret(reply&& r, std::error_code& ec) const;
};

// --------------------------------------------------------------------------- worker commands

/// `reserve`: waits, without limit, for a job from a watched tube. `errc::deadline_soon` when a
/// job this connection holds is about to time out; `errc::timed_out` on a half-closed connection.
struct reserve_command {
  using result_type = job;                                       ///< The reserved job.
  static constexpr command_traits traits{.reserves_job = true};  ///< See `command_traits`.

  /// How long the server may hold the reply back.
  static server_wait wait() noexcept { return {.unbounded = true}; }
  /// Appends the request to `out`.
  std::error_code encode(std::string& out) const;
  /// The result of the reply `r`, or the error in `ec` (see the file comment).
  result_type interpret(reply&& r, std::error_code& ec) const;
};

/// `reserve-with-timeout <seconds>`: waits up to `timeout` (whole seconds; 0 answers at once).
/// No job in time is a normal outcome: an empty optional. `errc::deadline_soon` as `reserve`.
struct reserve_with_timeout_command {
  using result_type = std::optional<job>;  ///< The job, or empty on TIMED_OUT.
  static constexpr command_traits traits{.reserves_job = true};  ///< See `command_traits`.
  /// Longest wait, whole seconds; 0 answers at once. Must fit 32 bits.
  std::chrono::seconds timeout{0};

  /// How long the server may hold the reply back.
  server_wait wait() const noexcept { return {.bounded = timeout}; }
  /// Appends the request to `out`. `errc::value_out_of_range` when `timeout` does not fit 32 bits.
  std::error_code encode(std::string& out) const;
  /// The result of the reply `r`, or the error in `ec` (see the file comment).
  result_type interpret(reply&& r, std::error_code& ec) const;
};

/// `reserve-job <id>` (1.12+): reserves that job if it is ready, delayed or buried. An empty
/// optional when the server answers NOT_FOUND. A pre-1.12 server answers BAD_FORMAT, reported as
/// `errc::reserve_job_unsupported`.
struct reserve_job_command {
  using result_type = std::optional<job>;  ///< The job, or empty on NOT_FOUND.
  static constexpr command_traits traits{.reserves_job = true};  ///< See `command_traits`.
  job_id id;                                                     ///< The job to reserve.

  /// Appends the request to `out`.
  std::error_code encode(std::string& out) const;
  /// The result of the reply `r`, or the error in `ec` (see the file comment).
  result_type interpret(reply&& r, std::error_code& ec) const;
};

/// `delete <id>`. `errc::not_found` if no such job, or reserved by another connection.
struct delete_command {
  using result_type = void;                                          ///< Nothing: DELETED confirms.
  static constexpr command_traits traits{.acts_on_reserved = true};  ///< See `command_traits`.
  job_id id;                                                         ///< The job to delete.

  /// Appends the request to `out`.
  std::error_code encode(std::string& out) const;
  /// The result of the reply `r`, or the error in `ec` (see the file comment).
  void interpret(reply&& r, std::error_code& ec) const;
};

/// `release <id> <pri> <delay>`: back to ready (or delayed). `errc::buried` when the server
/// buried it instead (out of memory); `errc::not_found` when not reserved by this connection.
struct release_command {
  using result_type = void;  ///< Nothing: RELEASED confirms.
  static constexpr command_traits traits{.acts_on_reserved = true};  ///< See `command_traits`.
  job_id id;                                                         ///< The job to release.
  priority pri = default_priority;                                   ///< Its new priority.
  /// Seconds before it is ready again; 0: at once. Must fit 32 bits.
  std::chrono::seconds delay{0};

  /// Appends the request to `out`. `errc::value_out_of_range` when `delay` does not fit 32 bits.
  std::error_code encode(std::string& out) const;
  /// The result of the reply `r`, or the error in `ec` (see the file comment).
  void interpret(reply&& r, std::error_code& ec) const;
};

/// `bury <id> <pri>`. `errc::not_found` when not reserved by this connection.
struct bury_command {
  using result_type = void;                                          ///< Nothing: BURIED confirms.
  static constexpr command_traits traits{.acts_on_reserved = true};  ///< See `command_traits`.
  job_id id;                                                         ///< The job to bury.
  priority pri = default_priority;                                   ///< Its new priority.

  /// Appends the request to `out`.
  std::error_code encode(std::string& out) const;
  /// The result of the reply `r`, or the error in `ec` (see the file comment).
  void interpret(reply&& r, std::error_code& ec) const;
};

/// `touch <id>`: restarts the job's time to run. `errc::not_found` when not reserved here.
struct touch_command {
  using result_type = void;                                          ///< Nothing: TOUCHED confirms.
  static constexpr command_traits traits{.acts_on_reserved = true};  ///< See `command_traits`.
  job_id id;                                                         ///< The job to touch.

  /// Appends the request to `out`.
  std::error_code encode(std::string& out) const;
  /// The result of the reply `r`, or the error in `ec` (see the file comment).
  void interpret(reply&& r, std::error_code& ec) const;
};

/// `watch <tube>`: yields the number of watched tubes.
struct watch_command {
  using result_type = std::size_t;  ///< How many tubes are watched now.
  static constexpr command_traits traits{.changes_tube_state = true};  ///< See `command_traits`.
  tube_name tube;  ///< The tube to add to the watch list.

  /// Appends the request to `out`.
  std::error_code encode(std::string& out) const;
  /// The result of the reply `r`, or the error in `ec` (see the file comment).
  result_type interpret(reply&& r, std::error_code& ec) const;
};

/// `ignore <tube>`: yields the number of watched tubes. `errc::not_ignored` for the last one.
struct ignore_command {
  using result_type = std::size_t;  ///< How many tubes are watched now.
  static constexpr command_traits traits{.changes_tube_state = true};  ///< See `command_traits`.
  tube_name tube;  ///< The tube to drop from the watch list.

  /// Appends the request to `out`.
  std::error_code encode(std::string& out) const;
  /// The result of the reply `r`, or the error in `ec` (see the file comment).
  result_type interpret(reply&& r, std::error_code& ec) const;
};

// ---------------------------------------------------------------------------- other commands

/// `peek <id>`: an empty optional when there is no such job.
struct peek_command {
  using result_type = std::optional<job>;    ///< The job, or empty on NOT_FOUND.
  static constexpr command_traits traits{};  ///< See `command_traits`.
  job_id id;                                 ///< The job to look at.

  /// Appends the request to `out`.
  std::error_code encode(std::string& out) const;
  /// The result of the reply `r`, or the error in `ec` (see the file comment).
  result_type interpret(reply&& r, std::error_code& ec) const;
};

/// Which job state `peek_state_command` looks at.
enum class job_state : std::uint8_t { ready, delayed, buried };

/// `peek-ready`, `peek-delayed`, `peek-buried` (in the used tube): empty when there is none.
struct peek_state_command {
  using result_type = std::optional<job>;    ///< The job, or empty on NOT_FOUND.
  static constexpr command_traits traits{};  ///< See `command_traits`.
  job_state state = job_state::ready;        ///< Which state to look in.

  /// Appends the request to `out`.
  std::error_code encode(std::string& out) const;
  /// The result of the reply `r`, or the error in `ec` (see the file comment).
  result_type interpret(reply&& r, std::error_code& ec) const;
};

/// `kick <bound>` (in the used tube): yields how many jobs were kicked.
struct kick_command {
  using result_type = std::uint64_t;         ///< How many jobs were kicked.
  static constexpr command_traits traits{};  ///< See `command_traits`.
  std::uint64_t bound =
      0;  ///< At most this many jobs are kicked (buried ones first, else delayed).

  /// Appends the request to `out`.
  std::error_code encode(std::string& out) const;
  /// The result of the reply `r`, or the error in `ec` (see the file comment).
  result_type interpret(reply&& r, std::error_code& ec) const;
};

/// `kick-job <id>`. `errc::not_found` when the job is not buried or delayed.
struct kick_job_command {
  using result_type = void;                  ///< Nothing: KICKED confirms.
  static constexpr command_traits traits{};  ///< See `command_traits`.
  job_id id;                                 ///< The job to kick.

  /// Appends the request to `out`.
  std::error_code encode(std::string& out) const;
  /// The result of the reply `r`, or the error in `ec` (see the file comment).
  void interpret(reply&& r, std::error_code& ec) const;
};

/// `stats-job <id>`. `errc::not_found` when there is no such job.
struct stats_job_command {
  using result_type = job_stats;             ///< The decoded `stats-job` body.
  static constexpr command_traits traits{};  ///< See `command_traits`.
  job_id id;                                 ///< The job.

  /// Appends the request to `out`.
  std::error_code encode(std::string& out) const;
  /// The result of the reply `r`, or the error in `ec` (see the file comment).
  result_type interpret(reply&& r, std::error_code& ec) const;
};

/// `stats-tube <tube>`. `errc::not_found` when there is no such tube.
struct stats_tube_command {
  using result_type = tube_stats;            ///< The decoded `stats-tube` body.
  static constexpr command_traits traits{};  ///< See `command_traits`.
  tube_name tube;                            ///< The tube.

  /// Appends the request to `out`.
  std::error_code encode(std::string& out) const;
  /// The result of the reply `r`, or the error in `ec` (see the file comment).
  result_type interpret(reply&& r, std::error_code& ec) const;
};

/// `stats`.
struct stats_command {
  using result_type = server_stats;          ///< The decoded `stats` body.
  static constexpr command_traits traits{};  ///< See `command_traits`.

  /// Appends the request to `out`.
  std::error_code encode(std::string& out) const;
  /// The result of the reply `r`, or the error in `ec` (see the file comment).
  result_type interpret(reply&& r, std::error_code& ec) const;
};

/// `list-tubes`: every existing tube.
struct list_tubes_command {
  using result_type = std::vector<std::string>;  ///< The tube names.
  static constexpr command_traits traits{};      ///< See `command_traits`.

  /// Appends the request to `out`.
  std::error_code encode(std::string& out) const;
  /// The result of the reply `r`, or the error in `ec` (see the file comment).
  result_type interpret(reply&& r, std::error_code& ec) const;
};

/// `list-tube-used` (singular: one tube): the tube this connection uses.
struct list_tube_used_command {
  using result_type = std::string;           ///< The used tube's name.
  static constexpr command_traits traits{};  ///< See `command_traits`.

  /// Appends the request to `out`.
  std::error_code encode(std::string& out) const;
  /// The result of the reply `r`, or the error in `ec` (see the file comment).
  result_type interpret(reply&& r, std::error_code& ec) const;
};

/// `list-tubes-watched`: the tubes this connection watches.
struct list_tubes_watched_command {
  using result_type = std::vector<std::string>;  ///< The watched tubes' names.
  static constexpr command_traits traits{};      ///< See `command_traits`.

  /// Appends the request to `out`.
  std::error_code encode(std::string& out) const;
  /// The result of the reply `r`, or the error in `ec` (see the file comment).
  result_type interpret(reply&& r, std::error_code& ec) const;
};

/// `pause-tube <tube> <delay>`: no reserves from `tube` for `delay`. `errc::not_found` when
/// there is no such tube.
struct pause_tube_command {
  using result_type = void;                  ///< Nothing: PAUSED confirms.
  static constexpr command_traits traits{};  ///< See `command_traits`.
  tube_name tube;                            ///< The tube to pause.
  std::chrono::seconds delay{0};  ///< Seconds without reserves; 0 ends a pause. Must fit 32 bits.

  /// Appends the request to `out`. `errc::value_out_of_range` when `delay` does not fit 32 bits.
  std::error_code encode(std::string& out) const;
  /// The result of the reply `r`, or the error in `ec` (see the file comment).
  void interpret(reply&& r, std::error_code& ec) const;
};

/// `quit`: the server closes the connection without a reply.
struct quit_command {
  using result_type = void;                                    ///< Nothing: there is no reply.
  static constexpr command_traits traits{.has_reply = false};  ///< See `command_traits`.

  /// Appends the request to `out`.
  std::error_code encode(std::string& out) const;
  /// The result of the reply `r`, or the error in `ec` (see the file comment).
  void interpret(reply&& r, std::error_code& ec) const;
};

/// The server wait of a command: none, unless the command declares one (`reserve*`).
template <class Command>
server_wait wait_of(const Command& cmd) noexcept {
  if constexpr (requires { cmd.wait(); }) {
    return cmd.wait();
  } else {
    return {};
  }
}

}  // namespace beanpole::proto
