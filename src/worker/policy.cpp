// The worker's public pure decisions: bury-or-release for a failed job, and the touch schedule.
#include <algorithm>

#include "beanpole/worker.hpp"
#include "worker/outcome.hpp"

namespace beanpole {

failure_action decide_failure(std::uint64_t reserves, std::uint32_t max_attempts,
                              const backoff& rule, double unit_random) noexcept {
  failure_action action;
  if (max_attempts != 0 && reserves >= max_attempts) {
    action.bury = true;
    return action;
  }
  action.delay = detail::retry_delay(rule, reserves, unit_random);
  return action;
}

std::chrono::milliseconds keepalive_interval(std::chrono::seconds ttr,
                                             std::chrono::milliseconds margin) noexcept {
  using ms = std::chrono::milliseconds;
  const ms full = std::max(ms{ttr}, ms{1000});  // the server makes a ttr of 0 into 1 s
  return std::max(full - std::max(margin, ms{0}), full / 2);
}

}  // namespace beanpole
