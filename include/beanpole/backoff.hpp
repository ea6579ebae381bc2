// How long to wait before trying again: the one backoff rule of the library, used by the async
// client's reconnects and the worker's retries of failed jobs.
#pragma once

#include <chrono>
#include <cstdint>

namespace beanpole {

/// Capped exponential backoff with jitter. A value type; pure (no clock, no random source).
///
/// The wait before the n-th attempt (n counts from 1) is
/// `min(initial * 2^(n-1), max) * (1 - jitter * u)` for a random `u` in [0, 1]: the first wait is
/// about `initial`, each next one about twice the previous, never more than `max`, and jitter
/// only ever shortens a wait, by at most the fraction `jitter`, so that many clients that failed
/// together do not retry together.
struct backoff {
  /// The first wait. Default 100 ms; zero means no wait at all (every attempt at once).
  std::chrono::milliseconds initial{100};
  /// The longest wait. Default 5 s; zero means no wait at all.
  std::chrono::milliseconds max{5000};
  /// The largest fraction by which a wait is randomly shortened, in [0, 1] (values outside are
  /// clamped; NaN counts as 0). Default 0.5; zero means no jitter.
  double jitter = 0.5;

  /// The wait before attempt `attempt` (0 counts as 1), for the random number `unit_random` in
  /// [0, 1] (clamped). Never negative, never more than `max`; saturates instead of overflowing.
  std::chrono::milliseconds delay(std::uint64_t attempt, double unit_random) const noexcept;

  /// Same settings.
  friend bool operator==(const backoff&, const backoff&) = default;
};

}  // namespace beanpole
