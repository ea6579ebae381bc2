// The main connection's life: connecting, up, waiting to retry, given up, closed. Decides when
// to open a connection again, how long to wait first (the library's one backoff rule) and when to
// give up. No socket, clock or random source: the driver passes the time and a random number in.
// Unit-tested in tests/unit/reconnect_test.cpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <system_error>

#include "beanpole/backoff.hpp"

namespace beanpole::conn {

/// When and how a dropped or refused connection is opened again.
struct reconnect_policy {
  /// Whether to reconnect at all.
  bool enabled = false;
  /// The wait before each attempt.
  backoff wait{};
  /// Most attempts in a row before giving up; 0: no limit.
  unsigned max_attempts = 0;
  /// Longest time to keep trying, counted from when the connection was lost (or the first
  /// attempt failed); 0: no limit.
  std::chrono::milliseconds give_up_after{0};
};

/// The state machine of one connection that may be reconnected.
class reconnect_machine {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  enum class state : std::uint8_t { idle, connecting, up, waiting_retry, closed };

  /// What to do after a failure.
  struct decision {
    /// Retry after `wait` (attempt number `attempt`, from 1); empty: give up (the connection
    /// stays down until the next `start`).
    std::optional<std::chrono::milliseconds> wait;
    unsigned attempt = 0;
  };

  explicit reconnect_machine(reconnect_policy policy) : policy_(policy) {}

  /// `async_connect` was called: returns whether a connection must be opened now (false when one
  /// is already up or under way, or the machine is closed).
  bool start();
  /// The connection is up. Returns whether it had been up before (a reconnect).
  bool on_connected();
  /// Connecting failed, or the connection dropped: retry (and when), or give up.
  decision on_failed(time_point now, double unit_random);
  /// The retry wait is over: returns whether to open now.
  bool on_retry_due();
  /// The client is closing: nothing is opened again.
  void close() noexcept { state_ = state::closed; }

  state current() const noexcept { return state_; }
  /// Whether commands may wait for a connection (up, connecting or waiting to retry).
  bool may_wait() const noexcept {
    return state_ == state::up || state_ == state::connecting || state_ == state::waiting_retry;
  }

 private:
  reconnect_policy policy_;
  state state_ = state::idle;
  bool ever_up_ = false;
  unsigned attempt_ = 0;
  std::optional<time_point> down_since_;
};

}  // namespace beanpole::conn
