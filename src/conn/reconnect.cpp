#include "conn/reconnect.hpp"
#include <utility>

namespace beanpole::conn {

bool reconnect_machine::start() {
  if (state_ != state::idle) return false;
  state_ = state::connecting;
  attempt_ = 0;
  down_since_.reset();
  return true;
}

bool reconnect_machine::on_connected() {
  if (state_ == state::closed) return false;
  state_ = state::up;
  attempt_ = 0;
  down_since_.reset();
  return std::exchange(ever_up_, true);
}

reconnect_machine::decision reconnect_machine::on_failed(time_point now, double unit_random) {
  if (state_ == state::closed) return {};
  if (!down_since_) down_since_ = now;
  const bool out_of_attempts = policy_.max_attempts != 0 && attempt_ >= policy_.max_attempts;
  const bool out_of_time =
      policy_.give_up_after.count() > 0 && now - *down_since_ >= policy_.give_up_after;
  if (!policy_.enabled || out_of_attempts || out_of_time) {
    state_ = state::idle;
    return {};
  }
  state_ = state::waiting_retry;
  ++attempt_;
  return {policy_.wait.delay(attempt_, unit_random), attempt_};
}

bool reconnect_machine::on_retry_due() {
  if (state_ != state::waiting_retry) return false;
  state_ = state::connecting;
  return true;
}

}  // namespace beanpole::conn
