#include "beanpole/backoff.hpp"

#include <algorithm>
#include <cmath>

namespace beanpole {

std::chrono::milliseconds backoff::delay(std::uint64_t attempt, double unit_random) const noexcept {
  using ms = std::chrono::milliseconds;
  if (initial.count() <= 0) return ms{0};
  const double cap = static_cast<double>(std::max(max, ms{0}).count());
  const std::uint64_t n = std::max<std::uint64_t>(attempt, 1);
  // initial * 2^(n-1) in floating point, so that it saturates at the cap instead of overflowing.
  const double exponent = static_cast<double>(std::min<std::uint64_t>(n - 1, 1000));
  const double base = std::min(cap, static_cast<double>(initial.count()) * std::exp2(exponent));
  const double j = std::isnan(jitter) ? 0.0 : std::clamp(jitter, 0.0, 1.0);
  const double u = std::isnan(unit_random) ? 0.0 : std::clamp(unit_random, 0.0, 1.0);
  return ms{static_cast<ms::rep>(std::llround(base * (1.0 - j * u)))};
}

}  // namespace beanpole
