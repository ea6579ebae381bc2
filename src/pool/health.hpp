// One server's health in a pool: up, down, reconnecting or draining, from the events of its
// client and the answers of its server. Pure; unit-tested in tests/unit/pool_health_test.cpp.
#pragma once

#include "beanpole/pool_types.hpp"

namespace beanpole::pool_rules {

/// What happened to a server, as the pool learns it.
enum class health_event {
  connected,          ///< the client's connection is up (first time or again)
  connect_failed,     ///< the first connect failed (the client keeps retrying if it may)
  disconnected,       ///< the connection dropped
  reconnecting,       ///< the client is about to try again
  gave_up,            ///< the client stopped trying (its reconnect bounds)
  answered_draining,  ///< a put was answered DRAINING: the server takes no new jobs
  drain_requested,    ///< the user asked the pool to stop placing puts there
  drain_cancelled,    ///< the user took that back
};

/// The state machine. Draining is two flags: the server's own (cleared by a new connection,
/// since only a restart ends beanstalkd's drain mode and a restart drops the connection) and the
/// user's (kept until cancelled). Not thread-safe.
class health_machine {
 public:
  /// Applies `e`; returns whether the state changed.
  bool on(health_event e) noexcept;

  /// The state.
  server_state state() const noexcept;
  /// Whether puts may be placed here: up and not draining.
  bool takes_puts() const noexcept { return state() == server_state::up; }
  /// Whether commands may be sent (reserves, job actions, stats): connected, draining or not.
  bool connected() const noexcept { return connected_; }

 private:
  bool connected_ = false;
  bool reconnecting_ = false;
  bool server_draining_ = false;
  bool user_draining_ = false;
};

}  // namespace beanpole::pool_rules
