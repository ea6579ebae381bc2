#include "pool/health.hpp"

namespace beanpole::pool_rules {

bool health_machine::on(health_event e) noexcept {
  const server_state before = state();
  switch (e) {
    case health_event::connected:
      connected_ = true;
      reconnecting_ = false;
      server_draining_ = false;
      break;
    case health_event::connect_failed:
    case health_event::gave_up:
      connected_ = false;
      reconnecting_ = false;
      break;
    case health_event::disconnected:
    case health_event::reconnecting:
      connected_ = false;
      reconnecting_ = true;
      break;
    case health_event::answered_draining:
      server_draining_ = true;
      break;
    case health_event::drain_requested:
      user_draining_ = true;
      break;
    case health_event::drain_cancelled:
      user_draining_ = false;
      break;
  }
  return state() != before;
}

server_state health_machine::state() const noexcept {
  if (!connected_) return reconnecting_ ? server_state::reconnecting : server_state::down;
  if (server_draining_ || user_draining_) return server_state::draining;
  return server_state::up;
}

}  // namespace beanpole::pool_rules
