// One reserve across the servers of a pool. Pure; unit-tested in
// tests/unit/pool_cross_reserve_test.cpp.
//
// The rule: at most one reserve command is out for a waiter at any time, so a waiter never gets
// (or makes the servers hold) more jobs than it asked for. A sweep asks every usable server in
// turn with `reserve-with-timeout 0`, which answers at once, starting at the server after the
// one the previous reserve of the pool started at (the pool rotates `first`), so that busy
// servers take turns and none starves. When a sweep finds nothing, the waiter waits on ONE server
// for at most `slice` (rotating which one), then sweeps again: a job put on another server
// meanwhile is found within a slice. A server that failed or had nothing simply counts as tried.
// The time left is the driver's to measure; with less than a second left (beanstalkd waits in
// whole seconds) the waiter pauses for the rest and has one last sweep, so it never ends late.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <vector>

namespace beanpole::pool_rules {

/// What the driver does next for a waiter.
struct reserve_step {
  enum class kind {
    try_now,    ///< `reserve-with-timeout 0` on `server`
    wait,       ///< `reserve-with-timeout wait` on `server`
    pause,      ///< no server can be asked now, or less than a second is left: wait `wait`
                ///< (the driver may end it early when a server comes up), then ask again
    timed_out,  ///< the waiter's time is over: it completes with no job
  };
  kind what = kind::timed_out;
  std::size_t server = 0;
  /// The server-side wait (`wait`, whole seconds) or the pause (`pause`).
  std::chrono::milliseconds wait{0};

  friend bool operator==(const reserve_step&, const reserve_step&) = default;
};

/// The steps of one waiter. Not thread-safe.
class cross_reserve {
 public:
  /// `servers` in the pool; the first sweep starts at `first`.
  cross_reserve(std::size_t servers, std::size_t first, std::chrono::seconds slice);

  /// The next step, given which servers can be asked now and the time the waiter has left
  /// (none: it waits without limit).
  reserve_step next(const std::vector<bool>& usable,
                    std::optional<std::chrono::milliseconds> remaining);

 private:
  std::size_t servers_;
  std::size_t first_;
  std::chrono::seconds slice_;
  std::vector<bool> tried_;  // in this sweep
  std::size_t wait_cursor_;
  bool waited_ = false;  // the last step was a wait: the sweep starts over after it
};

/// Whether a job that a server handed over must be released at once: its waiter went away
/// (cancelled, timed out, the pool closing) while the reserve was out. A job is never kept for
/// nobody: it would sit reserved until its time to run ran out.
constexpr bool release_on_arrival(bool waiter_still_waiting) noexcept {
  return !waiter_still_waiting;
}

}  // namespace beanpole::pool_rules
