// Shared by the chaos tests: a ledger of puts made through a faulty connection, and the check
// of the server against it once the faults are over.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <system_error>
#include <vector>

#include "beanpole/async_client.hpp"
#include "beanpole/client.hpp"

namespace beanpole::testing {

/// What the user knows of each put: the job's body is "<prefix><index>", unique, so that the
/// server can be searched for it.
class put_ledger {
 public:
  enum class state { not_sent, acknowledged, unknown };

  put_ledger(std::string prefix, std::size_t count)
      : prefix_(std::move(prefix)), states_(count, state::not_sent), ids_(count) {}

  std::string body(std::size_t i) const { return prefix_ + std::to_string(i); }
  std::size_t size() const noexcept { return states_.size(); }
  state at(std::size_t i) const { return states_[i]; }

  /// Records the outcome of put `i`: acknowledged (with its id), unknown (the reply was lost),
  /// or anything else: never written, to be sent again by the user.
  void record(std::size_t i, std::error_code ec, job_id id);

  /// The puts still to send (never written so far).
  std::vector<std::size_t> to_send() const;

  std::size_t count(state s) const;

  /// Checks `tube` on the server, through clients from `connect` (which bypass the faults),
  /// against the ledger: every acknowledged put is there once, with its id; every unknown one 0
  /// or 1 times (counted in `unknown_found`); nothing else is there but jobs no client can read
  /// (`torn`: a put cut short by a SIGKILL, replayed from the binlog as zeros), which count
  /// against the unknown puts too. Failures are reported with gtest.
  void reconcile(const std::function<client()>& connect, const tube_name& tube,
                 std::size_t& unknown_found, std::size_t& torn) const;

 private:
  std::string prefix_;
  std::vector<state> states_;
  std::vector<job_id> ids_;
};

/// Puts the bodies `indices` of `ledger` through `c` (pipelined), calls `in_flight` (if any)
/// once they are submitted, waits for every answer within `limit` and records them. False when
/// some answer did not come in time (a hang).
bool put_batch(async_client& c, put_ledger& ledger, const std::vector<std::size_t>& indices,
               std::chrono::milliseconds limit, const std::function<void()>& in_flight = {});

}  // namespace beanpole::testing
