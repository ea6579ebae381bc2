// The main connection's pipeline: the commands submitted and not yet handed to a connection, the
// in-flight window that applies back-pressure, how long a command may wait for a connection, and
// what each command fails with when its connection is lost. No socket, clock or lock: the driver
// passes the time and the connection's state in, holds its own lock around every call but
// `answered`, and carries out what comes back. Unit-tested in tests/unit/pipeline_test.cpp.
//
// A template over the driver's operation node so that this layer stays free of Asio: `Op` has
//   Op* next;                                        // the fifo link
//   std::chrono::steady_clock::time_point deadline;  // zero: none
//   std::size_t wire_size;                           // bytes of its request
//   bool is_put;                                     // a lost reply means "outcome unknown"
//   bool internal;                                   // the driver's own: not in the window
//   std::error_code encode_request(std::string& out, std::string_view& body) const;
//                                                    // appends its request; may leave out a
//                                                    // large body it owns (then: body, CRLF)
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include "beanpole/error.hpp"
#include "conn/fifo.hpp"
#include "conn/reconnect.hpp"
#include "conn/request_buffer.hpp"
#include "conn/rules.hpp"

namespace beanpole::conn {

/// The main connection's state as the pipeline sees it (the reconnect machine's own states).
using link_state = reconnect_machine::state;

/// What became of a submitted command.
struct submission {
  /// Refused before anything was queued (the handler gets this); empty: queued.
  std::error_code refused;
  /// The driver must schedule a flush (none is scheduled yet).
  bool flush = false;
  /// The command waits for a connection with a deadline and the deadline timer is not armed.
  bool arm_deadline_timer = false;
};

template <class Op>
class pipeline {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  /// `max_in_flight`: user commands sent and unanswered before producers wait (at least 1).
  /// `wait_limit`: how long a command may wait for a connection (zero: no limit).
  /// `aborted`: what a command fails with once the client is closed (the driver's own code).
  pipeline(std::size_t max_in_flight, std::chrono::milliseconds wait_limit, std::error_code aborted)
      : max_in_flight_(max_in_flight == 0 ? 1 : max_in_flight),
        wait_limit_(wait_limit),
        aborted_(aborted) {}

  /// Why a command cannot even wait for a connection in `link`: closed (`aborted`) or down for
  /// good (`not_connected`); empty when it may.
  std::error_code refusal(link_state link) const noexcept {
    if (link == link_state::closed) return aborted_;
    if (link == link_state::idle) return make_error_code(errc::not_connected);
    return {};
  }

  /// Whether a producer may submit now without exceeding the window.
  bool has_room() const noexcept { return outstanding() < max_in_flight_; }

  /// Takes a command: refused (closed, down for good, or its request is invalid), or queued for
  /// the next write and, unless it is the driver's own, counted in the window until `answered`.
  /// Always inlined: the driver calls it from more than one place, and as a call it costs a
  /// pipelined put 40 more instructions (bench/instructions.sh).
  [[gnu::always_inline]] submission submit(Op& op, link_state link, time_point now) {
    submission s;
    if ((s.refused = refusal(link))) return s;
    std::string& bytes = requests_.bytes_for_append();
    const std::size_t before = bytes.size();
    std::string_view body;  // a large body left where its operation keeps it
    if ((s.refused = op.encode_request(bytes, body))) {
      bytes.resize(before);  // a refused request leaves nothing half-written
      return s;
    }
    if (!body.empty()) {
      requests_.append_external(body);
      bytes += "\r\n";
    }
    op.wire_size = bytes.size() - before + body.size();
    ops_.push_back(&op);
    if (!op.internal) outstanding_.fetch_add(1, std::memory_order_relaxed);
    if (link != link_state::up) {
      s.arm_deadline_timer = start_waiting(op, now);
    } else if (!flush_scheduled_) {
      flush_scheduled_ = s.flush = true;
    }
    return s;
  }

  /// Moves everything queued into `bytes` and `ops` for one write. The driver calls it when a
  /// connection is up and can write; returns false when nothing is queued.
  bool take(request_buffer& requests, fifo<Op>& ops) {
    flush_scheduled_ = false;
    if (ops_.empty()) return false;
    requests.swap(requests_);
    requests_.clear();
    ops.splice_back(ops_);  // their deadlines become reply deadlines when written
    return true;
  }

  /// The connection is up: queued commands no longer wait for one, and the driver cancels the
  /// deadline timer.
  void on_up() noexcept { timer_armed_ = false; }

  /// Gives back an emptied buffer of the connection's, so that steady pipelining allocates none.
  void recycle(request_buffer& emptied) {
    if (requests_.empty() && emptied.bytes().capacity() > requests_.bytes().capacity()) {
      requests_.swap(emptied);
    }
  }

  /// The connection went down. When another will be tried (`retrying`), the queued commands wait
  /// for it, each within its deadline, and nothing is returned; otherwise every queued command
  /// is returned, to fail as never sent.
  fifo<Op> on_down(time_point now, bool retrying, bool& arm_deadline_timer) {
    arm_deadline_timer = false;
    if (!retrying) return take_all();
    for (Op* op = ops_.front(); op != nullptr; op = op->next) {
      if (op->deadline == time_point{}) arm_deadline_timer |= start_waiting(*op, now);
    }
    return {};
  }

  /// The deadline timer fired: returns the commands that waited for a connection past their
  /// deadline, to fail with `not_connected`. They wait in issue order with deadlines in that
  /// order, so they are a prefix of the queue.
  fifo<Op> expire(time_point now) {
    timer_armed_ = false;
    fifo<Op> expired;
    std::size_t bytes = 0;
    while (const Op* oldest = ops_.front()) {
      if (oldest->deadline == time_point{} || oldest->deadline > now) break;
      bytes += oldest->wire_size;
      expired.push_back(ops_.pop_front());
    }
    requests_.erase_prefix(bytes);
    return expired;
  }

  /// When the deadline timer must fire next, or nothing (and the timer is then not armed).
  std::optional<time_point> next_deadline() {
    const Op* oldest = ops_.front();
    timer_armed_ = oldest != nullptr && oldest->deadline != time_point{};
    if (!timer_armed_) return std::nullopt;
    return oldest->deadline;
  }

  /// Every queued command, for the caller to fail (closing, or giving up).
  fifo<Op> take_all() {
    requests_.clear();
    flush_scheduled_ = false;
    fifo<Op> out;
    out.splice_back(ops_);
    return out;
  }

  /// A counted command completed. Returns whether producers waiting for room should be woken:
  /// only once half the window is free, so that they are woken in batches (each wake is a system
  /// call). The only call that needs no lock.
  bool answered() noexcept {
    return outstanding_.fetch_sub(1, std::memory_order_relaxed) - 1 <= max_in_flight_ / 2;
  }

  /// Whether no command is queued (unwritten).
  bool empty() const noexcept { return ops_.empty(); }

  /// User commands queued or sent and not yet completed.
  std::size_t outstanding() const noexcept { return outstanding_.load(std::memory_order_relaxed); }

 private:
  /// Gives `op` its deadline for waiting; returns whether the deadline timer must be armed.
  bool start_waiting(Op& op, time_point now) {
    if (wait_limit_.count() == 0) return false;
    op.deadline = now + wait_limit_;
    return !std::exchange(timer_armed_, true);
  }

  std::size_t max_in_flight_;
  std::chrono::milliseconds wait_limit_;
  std::error_code aborted_;
  request_buffer requests_;  // the requests of ops_, in order
  fifo<Op> ops_;
  // Atomic so that a completion is uncounted before its handler runs without the driver's lock.
  std::atomic<std::size_t> outstanding_{0};
  bool flush_scheduled_ = false;
  bool timer_armed_ = false;
};

/// What each command fails with when its connection is lost: the written ones as
/// `lost_reply_error` says (the oldest may have caused it), the unwritten ones as never sent
/// (`connection_lost`, or the caller's own `reason` when `cancelled`). Calls `fail(op, error)` for
/// every command, in wire order.
template <class Op, class Fail>
void lost_outcomes(fifo<Op>& written, fifo<Op>& unwritten, std::error_code reason, bool cancelled,
                   Fail&& fail) {
  bool oldest = true;
  while (Op* op = written.pop_front()) {
    fail(op, lost_reply_error(op->is_put, reason, oldest, cancelled));
    oldest = false;
  }
  const auto not_sent = cancelled ? reason : make_error_code(errc::connection_lost);
  while (Op* op = unwritten.pop_front()) fail(op, not_sent);
}

}  // namespace beanpole::conn
