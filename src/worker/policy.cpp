// The worker's pure decisions: retry backoff, bury-or-release, touch schedule.
#include <algorithm>
#include <cmath>

#include "beanpole/worker.hpp"

namespace beanpole {

std::chrono::seconds backoff_policy::delay(std::uint64_t attempt,
                                           double unit_random) const noexcept {
  using seconds = std::chrono::seconds;
  if (initial.count() <= 0) return seconds{0};
  const double cap = static_cast<double>(std::max(max, seconds{0}).count());
  const std::uint64_t n = std::max<std::uint64_t>(attempt, 1);
  // initial * 2^(n-1), computed in floating point so that it saturates instead of overflowing.
  const double exponent = static_cast<double>(std::min<std::uint64_t>(n - 1, 1000));
  const double base = std::min(cap, static_cast<double>(initial.count()) * std::exp2(exponent));
  const double j = std::isnan(jitter) ? 0.0 : std::clamp(jitter, 0.0, 1.0);
  const double u = std::isnan(unit_random) ? 0.0 : std::clamp(unit_random, 0.0, 1.0);
  const double value = base * (1.0 - j * u);
  return seconds{static_cast<seconds::rep>(std::llround(value))};
}

failure_action decide_failure(std::uint64_t reserves, std::uint32_t max_attempts,
                              const backoff_policy& backoff, double unit_random) noexcept {
  failure_action action;
  if (max_attempts != 0 && reserves >= max_attempts) {
    action.bury = true;
    return action;
  }
  action.delay = backoff.delay(reserves, unit_random);
  return action;
}

std::chrono::milliseconds keepalive_interval(std::chrono::seconds ttr,
                                             std::chrono::milliseconds margin) noexcept {
  using ms = std::chrono::milliseconds;
  const ms full = std::max(ms{ttr}, ms{1000});  // the server makes a ttr of 0 into 1 s
  return std::max(full - std::max(margin, ms{0}), full / 2);
}

}  // namespace beanpole
