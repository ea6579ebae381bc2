#include "pool/cross_reserve.hpp"

#include <algorithm>

namespace beanpole::pool_rules {

cross_reserve::cross_reserve(std::size_t servers, std::size_t first, std::chrono::seconds slice)
    : servers_(servers),
      first_(servers == 0 ? 0 : first % servers),
      slice_(slice.count() < 1 ? std::chrono::seconds{1} : slice),
      tried_(servers, false),
      wait_cursor_(first_) {}

reserve_step cross_reserve::next(const std::vector<bool>& usable,
                                 std::optional<std::chrono::milliseconds> remaining) {
  using std::chrono::milliseconds;
  using std::chrono::seconds;
  if (waited_) {  // a wait came back empty: sweep again, from the same first server
    std::fill(tried_.begin(), tried_.end(), false);
    waited_ = false;
  }
  for (std::size_t step = 0; step < servers_; ++step) {
    const std::size_t i = (first_ + step) % servers_;
    if (!tried_[i] && i < usable.size() && usable[i]) {
      tried_[i] = true;
      return {reserve_step::kind::try_now, i, seconds{0}};
    }
  }
  // The sweep found nothing. A reserve with no time left has had its one look everywhere.
  if (remaining && *remaining <= milliseconds{0}) return {reserve_step::kind::timed_out, 0, {}};
  waited_ = true;
  milliseconds wait = slice_;
  if (remaining) {
    const auto whole = std::chrono::floor<seconds>(*remaining);
    if (whole < seconds{1}) return {reserve_step::kind::pause, 0, *remaining};
    wait = std::min<milliseconds>(wait, whole);
  }
  for (std::size_t step = 0; step < servers_; ++step) {
    const std::size_t i = (wait_cursor_ + step) % servers_;
    if (i < usable.size() && usable[i]) {
      wait_cursor_ = (i + 1) % servers_;
      return {reserve_step::kind::wait, i, wait};
    }
  }
  return {reserve_step::kind::pause, 0, wait};
}

}  // namespace beanpole::pool_rules
