// The reserve-connection machine: waiting reserves, the connections ("lanes") that serve them,
// the jobs those connections hold, and where a job's delete/release/bury/touch must go.
//
// beanstalkd answers a connection's commands in order, so a reserve that may wait gets a
// connection of its own, and the job it returns can only be acted on from that connection. This
// machine decides which lane serves which reserve, when to open or close lanes, when a queued
// reserve-with-timeout has run out of time, and which held jobs to ask the server about. It never
// touches a socket, a clock or a random source: the driver feeds it events (with the time) and
// carries out the actions it returns. Unit-tested in tests/unit/reserve_lanes_test.cpp.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <iosfwd>
#include <map>
#include <optional>
#include <set>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "beanpole/backoff.hpp"
#include "beanpole/types.hpp"

namespace beanpole::conn {

using time_point = std::chrono::steady_clock::time_point;

/// Something the reserve machine asks its driver to do.
struct lane_action {
  enum class kind : std::uint8_t {
    open,              ///< open connection `lane`
    send_reserve,      ///< send `op`'s reserve on `lane`: `reserve` when `timeout` is empty, else
                       ///< `reserve-with-timeout` with that many seconds (what is left of its wait)
    close,             ///< close `lane`, for `error`; its unanswered commands fail with it
    complete,          ///< complete `op` without a reply: with `error`, or, when `error` is empty,
                       ///< as a reserve-with-timeout that got no job in time
    probe,             ///< ask on `lane` whether `job` is still reserved (stats-job)
    lost_reservation,  ///< `job` was held by a lane that dropped: the server released it
    queued,            ///< `op` waits: every connection the client may open is busy
  };
  kind what = kind::open;
  std::uint64_t lane = 0;
  std::uint64_t op = 0;
  job_id job{};
  std::error_code error;
  std::optional<std::chrono::seconds> timeout;

  friend bool operator==(const lane_action&, const lane_action&) = default;
};

/// An action, spelled out (designated initializers would leave fields unnamed).
lane_action act(lane_action::kind what, std::uint64_t lane, std::uint64_t op = 0, job_id job = {},
                std::error_code ec = {}, std::optional<std::chrono::seconds> timeout = {});

/// Writes an action readably, for test failures.
std::ostream& operator<<(std::ostream& os, const lane_action& a);

/// Limits and retry policy of the reserve machine.
struct lane_config {
  /// Most lanes open or opening at once (at least 1).
  std::size_t max_lanes = 64;
  /// Whether a lane that failed to open is tried again after `retry` (the client's reconnect
  /// setting). Without it, reserves that no lane can serve fail with the connect error.
  bool retry_failed_opens = false;
  /// The wait before opening again after failures.
  backoff retry{};
  /// How often held jobs are asked about while reserves wait for a full set of lanes.
  std::chrono::milliseconds probe_interval{1000};
};

/// The machine. Not thread-safe: the driver calls it from one strand.
class reserve_lanes {
 public:
  explicit reserve_lanes(lane_config config);

  // ------------------------------------------------------------------------------ events

  /// A reserve that may wait: `timeout` empty for `reserve`, else `reserve-with-timeout`. Its
  /// wait starts now, queued or not: a reserve-with-timeout queued for a lane completes when its
  /// time is up, never later.
  void on_request(std::uint64_t op, std::optional<std::chrono::seconds> timeout, time_point now);
  /// The caller cancelled `op`: queued, it completes with `aborted`; sent, its lane is closed
  /// with `aborted` (the only clean way to take a reserve back: the server releases a job it
  /// may be handing over at that moment).
  void on_cancel(std::uint64_t op, std::error_code aborted);
  /// `lane` is connected and brought to the client's tube state.
  void on_opened(std::uint64_t lane, time_point now);
  /// `lane` could not be opened. `unit_random` in [0, 1] draws the retry jitter.
  void on_open_failed(std::uint64_t lane, std::error_code ec, time_point now, double unit_random);
  /// The reserve on `lane` answered with a job (RESERVED).
  void on_reserved(std::uint64_t lane, job_id job, time_point now);
  /// The reserve on `lane` answered without a job (TIMED_OUT, DEADLINE_SOON, an error).
  void on_reserve_ended(std::uint64_t lane, time_point now);
  /// `job` held by `lane` is no longer this lane's: deleted, released, buried, NOT_FOUND, or a
  /// probe found it no longer reserved.
  void on_job_settled(std::uint64_t lane, job_id job, time_point now);
  /// A probe of `job` on `lane` answered; `still_reserved` false frees it.
  void on_probe_answer(std::uint64_t lane, job_id job, bool still_reserved, time_point now);
  /// `lane` dropped (or was closed). The driver fails what was written on it; the machine
  /// reports the jobs it held as lost and serves the queue with the lanes left.
  void on_closed(std::uint64_t lane, std::error_code reason, time_point now);
  /// The timer the driver armed for `next_timer()` fired (or any time: stale calls are harmless).
  void on_timer(time_point now);
  /// The client is closing: queued reserves complete with `reason`, every lane is closed, and
  /// nothing is opened again (later requests complete with `reason` at once).
  void on_shutdown(std::error_code reason);

  // ------------------------------------------------------------------ actions and queries

  /// The actions produced by the events since the last call, in order.
  std::vector<lane_action> take_actions();
  /// When the driver must call `on_timer` next (a queued reserve's deadline, a probe, a retry).
  std::optional<time_point> next_timer() const;
  /// The lane that holds `job`, if any: where its delete/release/bury/touch must go.
  std::optional<std::uint64_t> holder(job_id job) const;
  /// Reserves waiting for a lane.
  std::size_t queued() const noexcept { return queue_.size(); }
  /// Lanes open or opening.
  std::size_t lanes() const noexcept { return lanes_.size(); }

 private:
  enum class lane_state : std::uint8_t { opening, idle, reserving, holding };
  struct lane {
    lane_state state = lane_state::opening;
    std::uint64_t op = 0;    // the reserve in flight (reserving)
    std::set<job_id> jobs;   // jobs held
    std::size_t probes = 0;  // stats-job probes in flight on this lane
  };
  struct waiting {
    std::uint64_t op = 0;
    std::optional<time_point> deadline;  // reserve-with-timeout: when its wait ends
    bool reported_queued = false;
  };

  void serve(time_point now);
  void send(std::uint64_t lane_id, lane& l, const waiting& w, time_point now);
  void maybe_probe(time_point now);
  void expire(time_point now);
  void settle(std::uint64_t lane_id, lane& l, job_id job, time_point now);
  void fail_queue(std::error_code ec);
  void push(lane_action a) { actions_.push_back(a); }

  lane_config config_;
  std::map<std::uint64_t, lane> lanes_;  // ordered: the oldest idle lane serves first
  std::deque<waiting> queue_;
  std::unordered_map<job_id, std::uint64_t> holders_;
  std::vector<lane_action> actions_;
  std::uint64_t next_lane_ = 1;
  unsigned failed_opens_ = 0;             // consecutive failures, for the retry backoff
  std::optional<time_point> open_after_;  // no new lane before this (after a failure)
  std::optional<time_point> next_probe_;  // when held jobs may be asked about again
  std::size_t probes_in_flight_ = 0;
  bool shut_down_ = false;
  std::error_code shutdown_reason_;
};

}  // namespace beanpole::conn
