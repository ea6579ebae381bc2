// What becomes of a job once its handler has finished: delete, release (with which delay) or
// bury, and whether the run counts as a failure. Internal.
//
// A pure function of what the handler did (returned, threw, decided through its context) and
// what the server told about the job, so that every rule of the outcome is unit-tested without
// a server (tests/unit/worker_outcome_test.cpp). The engine only carries the answer out.
//
// Public headers only: the unit tests include this file without the library's private include
// path.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <system_error>

#include "beanpole/backoff.hpp"
#include "beanpole/types.hpp"
#include "beanpole/worker.hpp"

namespace beanpole::detail {

/// A decision a handler made through its context (`fail`, `remove`, `release`, `bury`).
struct handler_decision {
  enum class kind : std::uint8_t { remove, release, bury, fail };
  kind what = kind::remove;
  std::chrono::seconds delay{0};
  std::optional<priority> pri;
  std::string reason;
};

/// How a handler ended.
struct handler_result {
  bool ok = true;
  std::string message;  ///< the exception's text when it threw
};

/// The one command that settles a job, and what its success counts as (metric and event).
struct final_command {
  enum class kind : std::uint8_t { remove, release, bury };
  kind what = kind::remove;
  priority pri = default_priority;
  std::chrono::seconds delay{0};
  enum class counts : std::uint8_t { deleted, retried, buried, released };
  counts counter = counts::deleted;
  std::string reason;  ///< why a job is `released` (for its event)
  /// The error that made the worker settle the job itself (`errc::corrupt_job`), for its event.
  std::error_code cause;

  friend bool operator==(const final_command&, const final_command&) = default;
};

/// Everything the outcome depends on.
struct finished_handler {
  handler_result result;
  /// The last decision made through the context, if any.
  std::optional<handler_decision> decision;
  /// The job's priority and the server's `reserves` count for it (from `stats-job`).
  priority pri = default_priority;
  std::uint64_t reserves = 0;
  /// Whether the reservation was lost while the handler ran.
  bool lost = false;
};

/// The outcome of a finished handler.
struct handler_outcome {
  /// Whether the run counts as failed: the handler threw, or its last decision was `fail`.
  bool failed = false;
  /// Why, for the `failed` event: the exception's text or `fail`'s reason.
  std::string failure;
  /// The command to send; empty when there is nothing to send (a lost job may only be deleted:
  /// the server took it back, so a release or bury would only get NOT_FOUND).
  std::optional<final_command> command;

  friend bool operator==(const handler_outcome&, const handler_outcome&) = default;
};

/// Decides the outcome. An explicit decision (`remove`, `release`, `bury`) wins, even over an
/// exception thrown after it; a failure is retried with `options.backoff` or buried after
/// `options.max_attempts` (see `decide_failure`); otherwise the job is deleted. `unit_random` in
/// [0, 1] draws the jitter. Pure.
handler_outcome decide_outcome(const finished_handler& done, const worker_options& options,
                               double unit_random);

/// The release delay before the job's next attempt after `reserves` reservations: the backoff's
/// delay rounded to the nearest whole second, because beanstalkd delays are whole seconds. Pure.
std::chrono::seconds retry_delay(const backoff& rule, std::uint64_t reserves,
                                 double unit_random) noexcept;

}  // namespace beanpole::detail
