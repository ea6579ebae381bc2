// The async client's driver: it carries out what the connection machines (src/conn) decide,
// with Asio sockets and timers, and applies back-pressure to producers.
//
// - conn::reconnect_machine decides when the main connection is opened again and when to give up;
// - conn::pipeline queues the main connection's commands, keeps the in-flight window and their
//   deadlines while no connection is up, and says what each fails with when a connection is lost;
// - conn::tube_state keeps the client's use/watch record and says what brings a connection to it;
// - conn::reserve_lanes runs the waiting reserves, their connections and the jobs they hold;
// - conn/rules.hpp says what a lost reply means and which errors end a connection.
//
// Threads: `submit` runs on the caller's thread. What it shares with the strand (the queue of
// commands for the main connection, the tube record, the reconnect state) is guarded by `mu_`;
// everything else, sockets and the reserve machine included, is touched only on the strand.
//
// The methods are defined by job, one file each:
//   async_core_entry.cpp        construction, the entry points of detail/async_core.hpp, closing
//   async_core_pipeline.cpp     the main connection's hot path: submit, flush, replies
//   async_core_reconnect.cpp    the main connection's life: open, lose, reconnect, wait for it
//   async_core_lanes.cpp        the reserve connections (lanes) and the jobs they hold
//   async_core_bookkeeping.cpp  completing and failing commands, failures, events
// A put's whole path (submit, submit_main, flush, on_reply, end_read_batch) lives in
// async_core_pipeline.cpp so that the compiler can inline it into itself: split across files,
// it costs instructions per put (bench/instructions.sh counts them). Methods defined in a class
// body are inline, which GCC weighs when it decides what to inline: the few per-put methods that
// were inlined there are declared `inline` here for the same reason.
#pragma once

#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <utility>

#include "beanpole/async_client.hpp"
#include "client/async_connection.hpp"
#include "client/spin_mutex.hpp"
#include "conn/pipeline.hpp"
#include "conn/reconnect.hpp"
#include "conn/reserve_lanes.hpp"
#include "conn/tube_state.hpp"

namespace beanpole::detail {

class async_core final : public connection_listener,
                         public std::enable_shared_from_this<async_core> {
 public:
  using state = conn::reconnect_machine::state;
  using clock = std::chrono::steady_clock;

  async_core(const asio::any_io_executor& ex, endpoint ep, async_client_options options);

  // ------------------------------------------------------------------- any thread
  // What detail/async_core.hpp offers the public client; callable from any thread.

  /// Issues `op` down its route: the main connection, a reserve connection of its own, or the
  /// connection that holds the job it acts on. May block for back-pressure (see submit_main).
  /// Inline, defined in async_core_pipeline.cpp beside its one caller (submit_op), as every put
  /// passes through it.
  inline void submit(op_base* op);
  /// Starts connecting (unless connected or connecting); `op` completes once up or failed.
  void connect(op_base* op);
  /// Closes everything; what is pending completes with `operation_aborted`.
  void shutdown();
  std::size_t in_flight() { return pipeline_.outstanding(); }
  const asio::any_io_executor& user_executor() const noexcept { return user_executor_; }
  failure_info last_failure();

  // --------------------------------------------------------- connection_listener (strand)
  // What the connections report, the main one and the lanes alike.

  void on_reply(async_connection& conn, op_base* op, proto::reply& reply) override;
  void on_read_done(async_connection& conn) override;
  void on_closed(async_connection& conn, std::error_code reason, op_queue written,
                 op_queue unwritten) override;
  void on_writable(async_connection& conn) override;

 private:
  // ------------------------------------------------------------ main connection: submit
  // The hot path of every command that is not a reserve or a held job's action.

  /// Queues `op` for the main connection (or refuses or answers it at once); blocks a producer
  /// that is not on the executor while the pipeline is full.
  void submit_main(op_base* op);
  /// Records a use/watch/ignore (under `mu_`). Returns the answer when the command would change
  /// nothing (or must be refused) and so is not sent.
  std::optional<proto::reply> record_tube_change(const op_base& op);
  /// Queues a command that must run in a tube, after the `use` that brings the client's record
  /// there when it is another tube. Called under `mu_`.
  conn::submission queue_in_tube(op_base& op, conn::link_state link, clock::time_point now);
  /// Queues the client's own `use tube` (out of line: only a change of tube needs it).
  conn::submission submit_use(const tube_name& tube, conn::link_state link, clock::time_point now);
  /// Hands what was submitted to the main connection, unless a write is running (it will call
  /// `on_writable`, and everything submitted meanwhile leaves in one write).
  void flush();
  /// Settles what the replies of one read did: slots freed (one lock per batch, not per reply)
  /// and commands their handlers issued (one write per batch).
  void end_read_batch();
  /// Wakes producers blocked on a full pipeline (the pipeline says when: in batches).
  void wake_producers();
  /// Jobs the main connection reserved by id (reserve-job), for lost_reservation events. Inline,
  /// defined in async_core_pipeline.cpp beside its one caller (on_reply), as every reply passes
  /// through it.
  static inline void track_main_reservations(async_connection& conn, const op_base& op,
                                             const proto::reply& reply);

  // ------------------------------------------- main connection: waiting for a connection
  // Commands issued while the connection is down wait for it, each within its deadline.

  /// Arms `wait_timer_` for the earliest deadline of a command waiting for a connection.
  void arm_deadline_timer();  // strand
  /// Fails the commands that waited for a connection past their deadline.
  void expire_waiting();  // strand

  // ----------------------------------------------------- main connection: life (strand)
  // Opening the main connection, losing it, and reconnecting as the reconnect machine says.

  void open_main();
  void main_connected(const std::shared_ptr<async_connection>& conn, std::error_code ec);
  /// The main connection is gone: asks the reconnect machine what now. Returns the commands that
  /// were queued when nothing will carry them (given up, or not reconnecting), for the caller to
  /// fail, and the retry to schedule.
  std::pair<op_queue, std::optional<conn::reconnect_machine::decision>> main_down();
  void schedule_retry(const conn::reconnect_machine::decision& d, std::error_code why);
  bool is_closed();
  /// Brings `conn` to the client's tube record with the codec's own commands (under `mu_`).
  void send_tube_sync(async_connection& conn, bool with_use);
  void complete_connect_waiters(std::error_code ec);
  /// Says that reconnecting stopped, once everything waiting has heard why.
  void report_gave_up(std::error_code why);

  // ---------------------------------------------------------- reserve lanes (strand)
  // Reserves wait on connections of their own (lanes), so that a reserve that waits never holds
  // up the main connection; conn::reserve_lanes decides, these carry out.

  void submit_waiting_reserve(op_base* op);
  /// A job's delete/release/bury/touch goes to the reserve connection that holds it, if one
  /// does; otherwise down the main connection like any other command.
  void route_job_action(op_base* op);
  /// Keeps the reserve machine in step with a reply on a lane.
  void track_lane(async_connection& conn, const op_base& op, const proto::reply& reply);
  /// Carries out what the reserve machine decided, until it has nothing more to say, then arms
  /// its timer.
  void carry_out_lane_actions();
  void carry_out(const conn::lane_action& a);
  /// The waiting reserve of serial `serial`, no longer queued; null when it is gone.
  op_base* take_queued(std::uint64_t serial);
  void open_lane(std::uint64_t id);
  void send_reserve(const conn::lane_action& a);
  /// Asks the lane that holds `job` whether the job is still reserved (the reserve machine's
  /// probe of a held job).
  void send_probe(std::uint64_t lane_id, job_id job);

  // ------------------------------------------------------------------ bookkeeping
  // Completing and failing commands, remembering why a connection failed, telling the user.

  /// Fails `op`; `counted_on_main` when it held a slot of the main connection's window.
  void fail(op_base* op, bool counted_on_main, std::error_code ec);
  /// Fails every command of `ops`, queued for the main connection and never sent.
  void fail_all(op_queue& ops, std::error_code ec);
  static std::error_code aborted() { return make_error_code(asio::error::operation_aborted); }
  // The posted completions hold the core: a handler without an executor of its own runs on the
  // core's (see executor_of), and the client may be gone by then.
  void complete_later(op_base* op, std::error_code ec);
  void answer_later(op_base* op, proto::reply reply);
  void remember_failure(std::error_code cause, const std::string& received,
                        const std::string& tls_detail = {});
  double unit_random() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_); }
  /// The second half of shutdown, on the strand: every timer, connection and command ends.
  void close_everything();
  void emit(const client_event& e) const;

  // ------------------------------------------------------------------ state

  asio::any_io_executor user_executor_;
  asio::strand<asio::any_io_executor> strand_;
  endpoint endpoint_;
  async_client_options options_;

  // Shared with submitting threads: guarded by mu_.
  spin_mutex mu_;
  std::condition_variable_any room_;  // producers waiting for room in the pipeline
  conn::reconnect_machine keeper_;
  conn::tube_state tubes_;
  // The used tube before the first command still queued for the main connection: the record as
  // of the last write, moved by any `use` that expired unwritten. A new main connection is
  // brought to it, not to the record, whose later changes belong to `use` commands still queued
  // (under mu_).
  tube_name queued_from_;
  conn::pipeline<op_base> pipeline_;     // `answered` is called without mu_
  std::atomic<std::size_t> waiters_{0};  // producers blocked on a full pipeline
  // Set (for good) by the first waiting reserve, before it reaches the strand. Until then no
  // reserve connection exists, so no job can be held anywhere but on the main connection, and a
  // job action goes there without asking the reserve machine on the strand (a post, an
  // allocation and a strand dispatch: about 450 instructions of a pipelined reserve+delete).
  std::atomic<bool> lanes_used_{false};
  bool gave_up_ = false;  // reconnecting stopped: say so once the waiters have heard why
  std::uint64_t next_serial_ = 1;
  failure_info last_failure_;

  // Strand only.
  std::shared_ptr<async_connection> main_;
  conn::reserve_lanes lanes_;
  std::unordered_map<std::uint64_t, std::shared_ptr<async_connection>> lane_conns_;
  std::unordered_map<std::uint64_t, op_base*> queued_reserves_;  // by serial, until sent
  op_queue connect_waiters_;
  bool in_read_batch_ = false;      // replies of one read are being handled
  bool flush_after_batch_ = false;  // handlers issued commands: flush when the batch ends
  bool wake_in_batch_ = false;      // replies freed enough room to wake producers
  asio::steady_timer retry_timer_;
  asio::steady_timer lane_timer_;  // the reserve machine's next_timer()
  std::optional<clock::time_point> lane_timer_due_;
  asio::steady_timer wait_timer_;  // the oldest command waiting for a connection
  std::minstd_rand rng_;
};

}  // namespace beanpole::detail
