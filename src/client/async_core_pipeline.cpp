// The async client's main connection, hot path: a command's way from the caller's thread into the
// pipeline, out in one write with its neighbours, and back as a reply. Kept in one file so that
// the compiler inlines these into each other: a put costs instructions per call it cannot inline
// (bench/instructions.sh counts them). See async_core_impl.hpp for the whole design.
#include <asio/post.hpp>
#include <mutex>

#include "client/async_core_impl.hpp"
#include "client/async_internal_ops.hpp"

namespace beanpole::detail {

// ------------------------------------------------------------------- any thread

inline void async_core::submit(op_base* op) {
  switch (op->route) {
    case op_route::waiting:
      submit_waiting_reserve(op);
      return;
    case op_route::job_action:
      // Where a job's action goes is the reserve machine's to say, on the strand, once a reserve
      // connection may hold jobs (acquire: a job handed out by one was reserved after the flag
      // was set, and the caller learned its id from that completion).
      if (lanes_used_.load(std::memory_order_acquire)) {
        asio::post(strand_, [self = shared_from_this(), op] { self->route_job_action(op); });
        return;
      }
      break;
    case op_route::main:
      break;
  }
  submit_main(op);
}

// The entry point of detail/async_core.hpp that every command takes, here with the path it starts.
void submit_op(async_core& core, op_base* op) {
  core.submit(op);
}

// ------------------------------------------------------------ main connection: submit

// Under one hold of `mu_` with the `use` before it, so that no other command comes between the
// two (another thread's `use` would send `op` to the wrong tube).
inline conn::submission async_core::queue_in_tube(op_base& op, conn::link_state link,
                                                  clock::time_point now) {
  const tube_name& tube = *op.tube;
  op.effect = tube_effect::none;
  op.tube = nullptr;
  if (!tubes_.switch_use(tube)) return pipeline_.submit(op, link, now);
  auto s = submit_use(tube, link, now);
  const auto own = pipeline_.submit(op, link, now);
  s.refused = own.refused;
  s.flush |= own.flush;
  s.arm_deadline_timer |= own.arm_deadline_timer;
  return s;
}

conn::submission async_core::submit_use(const tube_name& tube, conn::link_state link,
                                        clock::time_point now) {
  auto* use = new tube_op(proto::use_command{tube});  // internal: not counted in the window
  auto s = pipeline_.submit(*use, link, now);
  if (s.refused) use->complete(s.refused, nullptr);  // and the command is refused the same way
  return s;
}

void async_core::submit_main(op_base* op) {
  std::unique_lock lock(mu_);
  op->serial = next_serial_++;
  if (auto ec = pipeline_.refusal(keeper_.current())) {
    lock.unlock();
    complete_later(op, ec);
    return;
  }
  if (!pipeline_.has_room() && !on_executor_thread(user_executor_)) {
    ++waiters_;
    room_.wait(lock, [&] { return pipeline_.has_room() || !keeper_.may_wait(); });
    --waiters_;
  }
  // The record changes in the same hold of the lock as the command is queued, never before a
  // wait for room: another thread's command queued meanwhile would be compared with a record
  // that its place in the queue does not match.
  if (op->effect != tube_effect::none && op->effect != tube_effect::use_first) {
    if (auto answer = record_tube_change(*op)) {  // nothing to send: answered from the record
      lock.unlock();
      answer_later(op, std::move(*answer));
      return;
    }
  }
  // Refused if closed, or dropped for good, while this producer waited for room. The time
  // matters only to a command that waits for a connection (reading the clock costs a tenth of
  // a pipelined put's instructions).
  const auto link = keeper_.current();
  const auto now = link == state::up ? clock::time_point{} : clock::now();
  const auto s = op->effect == tube_effect::use_first ? queue_in_tube(*op, link, now)
                                                      : pipeline_.submit(*op, link, now);
  // A command refused after its `use` was queued leaves that `use` to go out as usual: the flush
  // or the timer it asked for must still come.
  if (s.refused) complete_later(op, s.refused);
  if (s.arm_deadline_timer) {
    // Waiting for a connection: not past its deadline (issue 11.3).
    asio::post(strand_, [self = shared_from_this()] { self->arm_deadline_timer(); });
  }
  if (!s.flush) return;
  // Issued by a handler the client is running for a batch of replies: flush once when the
  // batch is done, so everything the handlers issue leaves in one write and costs no post.
  if (strand_.running_in_this_thread() && in_read_batch_) {
    flush_after_batch_ = true;
    return;
  }
  lock.unlock();
  asio::post(strand_, [self = shared_from_this()] { self->flush(); });
}

std::optional<proto::reply> async_core::record_tube_change(const op_base& op) {
  switch (op.effect) {
    case tube_effect::use:
      return tubes_.use(*op.tube);
    case tube_effect::watch:
      return tubes_.watch(*op.tube);
    case tube_effect::ignore:
      return tubes_.ignore(*op.tube);
    case tube_effect::none:
    case tube_effect::use_first:
      break;
  }
  return std::nullopt;
}

void async_core::flush() {
  conn::request_buffer bytes;
  op_queue ops;
  {
    std::lock_guard lock(mu_);
    if (!main_ || !main_->is_open() || main_->is_writing() || keeper_.current() != state::up) {
      return;  // whatever makes it writable flushes again
    }
    if (!pipeline_.take(bytes, ops)) return;
    queued_from_ = tubes_.used();  // nothing queued now: the next command starts from the record
  }
  main_->send(bytes, ops);
  // `bytes` now holds an emptied buffer of the connection's: reuse it.
  std::lock_guard lock(mu_);
  pipeline_.recycle(bytes);
}

// --------------------------------------------------------- connection_listener (strand)

void async_core::on_reply(async_connection& conn, op_base* op, proto::reply& reply) {
  in_read_batch_ = true;
  const bool internal = op->internal;
  const bool on_main = &conn == main_.get();
  if (on_main) {
    track_main_reservations(conn, *op, reply);
    if (!internal) {
      // Before the handler runs: whoever sees the completion must not see it counted.
      wake_in_batch_ |= pipeline_.answered();
    }
  } else {
    track_lane(conn, *op, reply);
  }
  // Before the put completes, so that whoever places puts (the pool) knows when it runs.
  if (reply.kind == proto::reply_kind::draining) {
    emit(make_client_event(client_event::kind::draining));
  }
  const std::error_code ec = op->complete({}, &reply);  // `op` is gone after this
  // A reply that breaks the protocol, or a failed state restore, leaves the connection in an
  // unknown state: close it (and reconnect, if enabled).
  if (ec && (internal || ec == condition::protocol_violation)) {
    end_read_batch();
    conn.close(ec);
    return;
  }
  if (!on_main) carry_out_lane_actions();
}

void async_core::on_read_done(async_connection&) {
  end_read_batch();
}

void async_core::on_writable(async_connection& conn) {
  if (&conn == main_.get()) flush();
}

void async_core::end_read_batch() {
  in_read_batch_ = false;
  if (std::exchange(wake_in_batch_, false)) wake_producers();
  if (flush_after_batch_) {
    flush_after_batch_ = false;
    flush();
  }
}

void async_core::wake_producers() {
  if (waiters_ == 0) return;
  std::lock_guard lock(mu_);  // a producer between its check and its wait must not miss this
  room_.notify_all();
}

inline void async_core::track_main_reservations(async_connection& conn, const op_base& op,
                                                const proto::reply& reply) {
  if (op.traits.reserves_job && reply.kind == proto::reply_kind::reserved) {
    conn.held.insert(reply.number);
  } else if (op.traits.acts_on_reserved && ends_holding(reply.kind)) {
    conn.held.erase(op.job.value);
  }
}

}  // namespace beanpole::detail
