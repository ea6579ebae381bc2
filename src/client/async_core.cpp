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
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/thread_pool.hpp>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <random>
#include <tuple>
#include <unordered_map>
#include <variant>

#include "beanpole/async_client.hpp"
#include "client/async_connection.hpp"
#include "client/spin_mutex.hpp"
#include "conn/pipeline.hpp"
#include "conn/reconnect.hpp"
#include "conn/reserve_lanes.hpp"
#include "conn/rules.hpp"
#include "conn/tube_state.hpp"

namespace beanpole::detail {
namespace {

using clock = std::chrono::steady_clock;

/// A use/watch/ignore the client sends on its own to bring a connection to its tube record. Its
/// reply is read by the codec's own command; any error fails the connection.
class tube_op final : public op_base {
 public:
  explicit tube_op(conn::tube_command cmd) : cmd_(std::move(cmd)) { internal = true; }
  std::error_code encode_request(std::string& out, std::string_view& /*body*/) const override {
    return std::visit([&](const auto& c) { return c.encode(out); }, cmd_);
  }
  asio::cancellation_slot cancellation_slot() const noexcept override { return {}; }
  std::error_code complete(std::error_code ec, proto::reply* reply) override {
    if (!ec && reply == nullptr) ec = errc::unexpected_reply;
    if (!ec) {
      std::visit([&](const auto& c) { (void)c.interpret(std::move(*reply), ec); }, cmd_);
    }
    delete this;
    return ec;
  }

 private:
  ~tube_op() = default;
  conn::tube_command cmd_;
};

/// A `stats-job` the client sends on its own to learn whether a held job is still reserved;
/// `done` gets the job's state ("reserved", ...), or nothing when the job or the connection is
/// gone.
class probe_op final : public op_base {
 public:
  probe_op(job_id id, std::function<void(std::optional<std::string>)> done)
      : cmd_{id}, done_(std::move(done)) {
    internal = true;
    job = id;
  }
  std::error_code encode_request(std::string& out, std::string_view& /*body*/) const override {
    return cmd_.encode(out);
  }
  asio::cancellation_slot cancellation_slot() const noexcept override { return {}; }
  std::error_code complete(std::error_code ec, proto::reply* reply) override {
    std::optional<std::string> state;
    if (!ec && reply != nullptr) {
      std::error_code rec;
      auto stats = cmd_.interpret(std::move(*reply), rec);
      if (!rec) state = std::move(stats.state);
      if (rec == errc::not_found) state = "gone";
    }
    auto done = std::move(done_);
    delete this;
    done(std::move(state));
    return {};
  }

 private:
  ~probe_op() = default;
  proto::stats_job_command cmd_;
  std::function<void(std::optional<std::string>)> done_;
};

/// Whether the calling thread runs the client's executor, where blocking would deadlock. Not
/// `runs_here` (detail/async_completion.hpp), which asks whether a handler may run inline: for a
/// strand that means "inside the strand", while here any thread of the strand's context would stall
/// it.
bool on_executor_thread(const asio::any_io_executor& ex) {
  using io_ex = asio::io_context::executor_type;
  using pool_ex = asio::thread_pool::executor_type;
  if (const auto* io = ex.target<io_ex>()) return io->running_in_this_thread();
  if (const auto* s = ex.target<asio::strand<io_ex>>()) {
    return s->get_inner_executor().running_in_this_thread();
  }
  if (const auto* pool = ex.target<pool_ex>()) return pool->running_in_this_thread();
  if (const auto* s = ex.target<asio::strand<pool_ex>>()) {
    return s->get_inner_executor().running_in_this_thread();
  }
  return true;  // an executor of another kind: never block, to be safe
}

client_event event(client_event::kind what, std::error_code ec = {}, job_id job = {},
                   unsigned attempt = 0, std::chrono::milliseconds backoff = {}) {
  client_event e;
  e.what = what;
  e.error = ec;
  e.job = job;
  e.attempt = attempt;
  e.backoff = backoff;
  return e;
}

conn::reconnect_policy reconnect_policy_of(const reconnect_options& r) {
  conn::reconnect_policy p;
  p.enabled = r.enabled;
  p.wait = r.wait;
  p.max_attempts = r.max_attempts;
  p.give_up_after = r.give_up_after;
  return p;
}

conn::lane_config lane_config_of(const async_client_options& o) {
  conn::lane_config c;
  c.max_lanes = o.max_reserve_connections;
  c.retry_failed_opens = o.reconnect.enabled;
  c.retry = o.reconnect.wait;
  return c;
}

bool ends_holding(proto::reply_kind kind) {
  return kind == proto::reply_kind::not_found || kind == proto::reply_kind::deleted ||
         kind == proto::reply_kind::released || kind == proto::reply_kind::buried;
}

}  // namespace

class async_core final : public connection_listener,
                         public std::enable_shared_from_this<async_core> {
 public:
  using state = conn::reconnect_machine::state;

  async_core(const asio::any_io_executor& ex, endpoint ep, async_client_options options)
      : user_executor_(ex),
        strand_(asio::make_strand(ex)),
        endpoint_(std::move(ep)),
        options_(std::move(options)),
        keeper_(reconnect_policy_of(options_.reconnect)),
        pipeline_(options_.max_in_flight, options_.reply_timeout, aborted()),
        lanes_(lane_config_of(options_)),
        retry_timer_(strand_),
        lane_timer_(strand_),
        wait_timer_(strand_),
        rng_(std::random_device{}()) {}

  // ------------------------------------------------------------------- any thread

  void submit(op_base* op) {
    switch (op->route) {
      case op_route::waiting:
        submit_waiting_reserve(op);
        return;
      case op_route::job_action:
        // Where a job's action goes is the reserve machine's to say, on the strand.
        asio::post(strand_, [self = shared_from_this(), op] { self->route_job_action(op); });
        return;
      case op_route::main:
        break;
    }
    submit_main(op);
  }

  void connect(op_base* op) {
    if (auto ec = conn::validate(endpoint_)) {  // refused before any connect (issue 11.5)
      complete_later(op, ec);
      return;
    }
    bool start = false;
    {
      // Set at once, not on the strand: commands issued right after async_connect must wait
      // for the connection, not fail for want of one.
      std::lock_guard lock(mu_);
      op->serial = next_serial_++;
      start = keeper_.start();
    }
    asio::post(strand_, [self = shared_from_this(), op, start] {
      state now;
      {
        std::lock_guard lock(self->mu_);
        now = self->keeper_.current();
      }
      if (now == state::closed) {
        op->complete(aborted(), nullptr);
      } else if (now == state::up) {
        op->complete({}, nullptr);
      } else {
        self->connect_waiters_.push_back(op);
        if (start) self->open_main();
      }
    });
  }

  void shutdown() {
    {
      std::lock_guard lock(mu_);
      if (keeper_.current() == state::closed) return;
      keeper_.close();
    }
    room_.notify_all();
    asio::post(strand_, [self = shared_from_this()] { self->close_everything(); });
  }

  std::size_t in_flight() { return pipeline_.outstanding(); }

  const asio::any_io_executor& user_executor() const noexcept { return user_executor_; }

  failure_info last_failure() {
    std::lock_guard lock(mu_);
    return last_failure_;
  }

  // --------------------------------------------------------- connection_listener (strand)

  void on_reply(async_connection& conn, op_base* op, proto::reply& reply) override {
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

  void on_read_done(async_connection&) override { end_read_batch(); }

  void on_closed(async_connection& conn, std::error_code reason, op_queue written,
                 op_queue unwritten) override {
    // A read batch cut short by a protocol violation still settles what its replies did.
    if (in_read_batch_) end_read_batch();
    const auto keep = conn.shared_from_this();  // the maps below may hold its last reference
    const bool is_main = &conn == main_.get();
    remember_failure(reason, conn.received(), conn.tls_detail());
    // The client's state changes before any handler hears of the failure, so that a command a
    // handler issues sees the connection as gone (not_connected), not as still up.
    op_queue stranded;
    std::optional<conn::reconnect_machine::decision> retry;
    if (is_main) {
      main_ = nullptr;
      std::tie(stranded, retry) = main_down();
      if (!is_closed()) emit(event(client_event::kind::disconnected, reason));
      for (const std::uint64_t id : conn.held) {
        emit(event(client_event::kind::lost_reservation, reason, job_id{id}));
      }
      conn.held.clear();
    } else {
      lane_conns_.erase(conn.lane);
      lanes_.on_closed(conn.lane, reason, clock::now());
    }
    const bool cancelled = reason == asio::error::operation_aborted;
    conn::lost_outcomes(written, unwritten, reason, cancelled,
                        [&](op_base* op, std::error_code ec) { fail(op, is_main, ec); });
    if (!is_main) {
      carry_out_lane_actions();
      return;
    }
    // Queued and never handed to a connection: known not to have happened.
    fail_all(stranded, cancelled ? reason : make_error_code(errc::connection_lost));
    if (retry) schedule_retry(*retry, reason);
    report_gave_up(reason);
  }

  void on_writable(async_connection& conn) override {
    if (&conn == main_.get()) flush();
  }

 private:
  // ------------------------------------------------------------ main connection: submit

  void submit_main(op_base* op) {
    std::unique_lock lock(mu_);
    op->serial = next_serial_++;
    if (auto ec = pipeline_.refusal(keeper_.current())) {
      lock.unlock();
      complete_later(op, ec);
      return;
    }
    if (op->effect != tube_effect::none) {
      if (auto answer = record_tube_change(*op)) {  // nothing to send: answered from the record
        lock.unlock();
        answer_later(op, std::move(*answer));
        return;
      }
    }
    if (!pipeline_.has_room() && !on_executor_thread(user_executor_)) {
      ++waiters_;
      room_.wait(lock, [&] { return pipeline_.has_room() || !keeper_.may_wait(); });
      --waiters_;
    }
    // Refused if closed, or dropped for good, while this producer waited for room. The time
    // matters only to a command that waits for a connection (reading the clock costs a tenth of
    // a pipelined put's instructions).
    const auto link = keeper_.current();
    const auto now = link == state::up ? clock::time_point{} : clock::now();
    const auto s = pipeline_.submit(*op, link, now);
    if (s.refused) {
      lock.unlock();
      complete_later(op, s.refused);
      return;
    }
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

  /// Records a use/watch/ignore (under `mu_`). Returns the answer when the command would change
  /// nothing (or must be refused) and so is not sent.
  std::optional<proto::reply> record_tube_change(const op_base& op) {
    switch (op.effect) {
      case tube_effect::use:
        return tubes_.use(*op.tube);
      case tube_effect::watch:
        return tubes_.watch(*op.tube);
      case tube_effect::ignore:
        return tubes_.ignore(*op.tube);
      case tube_effect::none:
        break;
    }
    return std::nullopt;
  }

  // ------------------------------------------- main connection: waiting for a connection

  void arm_deadline_timer() {  // strand
    std::optional<clock::time_point> next;
    {
      std::lock_guard lock(mu_);
      if (keeper_.current() == state::up) return;
      next = pipeline_.next_deadline();
    }
    if (!next) return;
    wait_timer_.expires_at(*next);
    wait_timer_.async_wait([self = shared_from_this()](std::error_code ec) {
      if (!ec) self->expire_waiting();
    });
  }

  /// Fails the commands that waited for a connection past their deadline.
  void expire_waiting() {  // strand
    op_queue expired;
    {
      std::lock_guard lock(mu_);
      if (keeper_.current() == state::up) return;
      expired = pipeline_.expire(clock::now());
    }
    fail_all(expired, errc::not_connected);
    arm_deadline_timer();
  }

  // ----------------------------------------------------- main connection: life (strand)

  void open_main() {
    main_ = std::make_shared<async_connection>(strand_, options_, *this);
    auto conn = main_;
    conn->start_connect(endpoint_, [self = shared_from_this(), conn](std::error_code ec) {
      self->main_connected(conn, ec);
    });
  }

  void main_connected(const std::shared_ptr<async_connection>& conn, std::error_code ec) {
    if (conn != main_) return;  // superseded (closed meanwhile)
    if (ec) {
      remember_failure(ec, {}, conn->tls_detail());
      main_ = nullptr;
      // State first, handlers after (see on_closed). When reconnecting, the waiters hear of
      // this failure and commands already submitted wait for a later try.
      auto [stranded, retry] = main_down();
      complete_connect_waiters(ec);
      fail_all(stranded, ec);
      if (retry) schedule_retry(*retry, ec);
      report_gave_up(ec);
      return;
    }
    bool again = false;
    {
      std::lock_guard lock(mu_);
      if (keeper_.current() == state::closed) return;
      // Before anything else goes out: the used tube and the watch list of the client.
      send_tube_sync(*conn, /*with_use=*/true);
      again = keeper_.on_connected();
      pipeline_.on_up();
    }
    wait_timer_.cancel();
    emit(event(again ? client_event::kind::reconnected : client_event::kind::connected));
    complete_connect_waiters({});
    flush();
  }

  /// The main connection is gone: asks the reconnect machine what now. Returns the commands that
  /// were queued when nothing will carry them (given up, or not reconnecting), for the caller to
  /// fail, and the retry to schedule.
  std::pair<op_queue, std::optional<conn::reconnect_machine::decision>> main_down() {
    bool arm_timer = false;
    std::pair<op_queue, std::optional<conn::reconnect_machine::decision>> out;
    {
      std::lock_guard lock(mu_);
      if (keeper_.current() == state::closed) return {};
      const auto now = clock::now();
      auto decision = keeper_.on_failed(now, unit_random());
      if (!decision.wait && options_.reconnect.enabled) gave_up_ = true;
      // The commands that wait now wait for the next connection, each within its deadline.
      out.first = pipeline_.on_down(now, decision.wait.has_value(), arm_timer);
      if (decision.wait) out.second = decision;
    }
    if (arm_timer) arm_deadline_timer();
    return out;
  }

  void schedule_retry(const conn::reconnect_machine::decision& d, std::error_code why) {
    const auto wait = *d.wait;
    emit(event(client_event::kind::reconnecting, why, {}, d.attempt, wait));
    retry_timer_.expires_after(wait);
    retry_timer_.async_wait([self = shared_from_this()](std::error_code ec) {
      if (ec) return;
      bool open = false;
      {
        std::lock_guard lock(self->mu_);
        open = self->keeper_.on_retry_due();
      }
      if (open) self->open_main();
    });
  }

  bool is_closed() {
    std::lock_guard lock(mu_);
    return keeper_.current() == state::closed;
  }

  /// Brings `conn` to the client's tube record with the codec's own commands (under `mu_`).
  void send_tube_sync(async_connection& conn, bool with_use) {
    std::vector<conn::tube_command> cmds;
    tubes_.sync(conn.tubes, with_use, cmds);
    if (cmds.empty()) return;
    std::string bytes;
    op_queue ops;
    for (auto& cmd : cmds) {
      auto* op = new tube_op(std::move(cmd));
      (void)op->encode(bytes);  // tube names are valid by construction: never refused
      ops.push_back(op);
    }
    conn.send(bytes, ops);
  }

  /// Hands what was submitted to the main connection, unless a write is running (it will call
  /// `on_writable`, and everything submitted meanwhile leaves in one write).
  void flush() {
    conn::request_buffer bytes;
    op_queue ops;
    {
      std::lock_guard lock(mu_);
      if (!main_ || !main_->is_open() || main_->is_writing() || keeper_.current() != state::up) {
        return;  // whatever makes it writable flushes again
      }
      if (!pipeline_.take(bytes, ops)) return;
    }
    main_->send(bytes, ops);
    // `bytes` now holds an emptied buffer of the connection's: reuse it.
    std::lock_guard lock(mu_);
    pipeline_.recycle(bytes);
  }

  /// Settles what the replies of one read did: slots freed (one lock per batch, not per reply)
  /// and commands their handlers issued (one write per batch).
  void end_read_batch() {
    in_read_batch_ = false;
    if (std::exchange(wake_in_batch_, false)) wake_producers();
    if (flush_after_batch_) {
      flush_after_batch_ = false;
      flush();
    }
  }

  /// Wakes producers blocked on a full pipeline (the pipeline says when: in batches).
  void wake_producers() {
    if (waiters_ == 0) return;
    std::lock_guard lock(mu_);  // a producer between its check and its wait must not miss this
    room_.notify_all();
  }

  void complete_connect_waiters(std::error_code ec) {
    op_queue waiters;
    waiters.splice_back(connect_waiters_);
    while (op_base* op = waiters.pop_front()) op->complete(ec, nullptr);
  }

  /// Says that reconnecting stopped, once everything waiting has heard why.
  void report_gave_up(std::error_code why) {
    bool gave_up = false;
    {
      std::lock_guard lock(mu_);
      gave_up = std::exchange(gave_up_, false);
    }
    if (gave_up) emit(event(client_event::kind::gave_up, why));
  }

  /// Jobs the main connection reserved by id (reserve-job), for lost_reservation events.
  static void track_main_reservations(async_connection& conn, const op_base& op,
                                      const proto::reply& reply) {
    if (op.traits.reserves_job && reply.kind == proto::reply_kind::reserved) {
      conn.held.insert(reply.number);
    } else if (op.traits.acts_on_reserved && ends_holding(reply.kind)) {
      conn.held.erase(op.job.value);
    }
  }

  // ---------------------------------------------------------- reserve lanes (strand)

  void submit_waiting_reserve(op_base* op) {
    {
      std::lock_guard lock(mu_);
      op->serial = next_serial_++;
    }
    // Refused before anything is sent (a timeout outside 32 bits), like every other command.
    if (std::string scratch; auto ec = op->encode(scratch)) {
      complete_later(op, ec);
      return;
    }
    if (auto slot = op->cancellation_slot(); slot.is_connected()) {
      slot.assign([weak = weak_from_this(), serial = op->serial](asio::cancellation_type) {
        if (auto self = weak.lock()) {
          asio::post(self->strand_, [self, serial] {
            self->lanes_.on_cancel(serial, aborted());
            self->carry_out_lane_actions();
          });
        }
      });
    }
    asio::post(strand_, [self = shared_from_this(), op] {
      bool usable = false;
      bool closed = false;
      {
        std::lock_guard lock(self->mu_);
        usable = self->keeper_.may_wait();
        closed = self->keeper_.current() == state::closed;
      }
      if (!usable) {
        // Like every other command: nothing runs before async_connect, or after close().
        op->complete(closed ? aborted() : make_error_code(errc::not_connected), nullptr);
        return;
      }
      self->queued_reserves_.emplace(op->serial, op);
      std::optional<std::chrono::seconds> timeout;
      if (!op->wait.unbounded) timeout = op->wait.bounded;
      self->lanes_.on_request(op->serial, timeout, clock::now());
      self->carry_out_lane_actions();
    });
  }

  /// A job's delete/release/bury/touch goes to the reserve connection that holds it, if one
  /// does; otherwise down the main connection like any other command.
  void route_job_action(op_base* op) {
    if (auto lane = lanes_.holder(op->job)) {
      if (auto it = lane_conns_.find(*lane); it != lane_conns_.end() && it->second->is_open()) {
        std::string bytes;
        if (auto ec = op->encode(bytes)) {
          op->complete(ec, nullptr);
          return;
        }
        op_queue ops;
        ops.push_back(op);
        it->second->send(bytes, ops);
        return;
      }
      op->complete(make_error_code(errc::lost_reservation), nullptr);
      return;
    }
    submit_main(op);
  }

  /// Keeps the reserve machine in step with a reply on a lane.
  void track_lane(async_connection& conn, const op_base& op, const proto::reply& reply) {
    const auto now = clock::now();
    if (op.route == op_route::waiting) {
      if (reply.kind == proto::reply_kind::reserved) {
        lanes_.on_reserved(conn.lane, job_id{reply.number}, now);
      } else {
        lanes_.on_reserve_ended(conn.lane, now);
      }
    } else if (op.traits.acts_on_reserved && ends_holding(reply.kind)) {
      lanes_.on_job_settled(conn.lane, op.job, now);
    }
  }

  /// Carries out what the reserve machine decided, until it has nothing more to say, then arms
  /// its timer.
  void carry_out_lane_actions() {
    for (auto actions = lanes_.take_actions(); !actions.empty(); actions = lanes_.take_actions()) {
      for (const auto& a : actions) carry_out(a);
    }
    if (auto next = lanes_.next_timer()) {
      if (!lane_timer_due_ || *next != *lane_timer_due_) {
        lane_timer_due_ = *next;
        lane_timer_.expires_at(*next);
        lane_timer_.async_wait([self = shared_from_this()](std::error_code ec) {
          if (ec) return;
          self->lane_timer_due_.reset();
          self->lanes_.on_timer(clock::now());
          self->carry_out_lane_actions();
        });
      }
    } else if (lane_timer_due_) {
      lane_timer_due_.reset();
      lane_timer_.cancel();
    }
  }

  void carry_out(const conn::lane_action& a) {
    using kind = conn::lane_action::kind;
    switch (a.what) {
      case kind::open:
        open_lane(a.lane);
        break;
      case kind::send_reserve:
        send_reserve(a);
        break;
      case kind::close:
        if (auto it = lane_conns_.find(a.lane); it != lane_conns_.end()) {
          auto keep = it->second;
          if (!keep->is_open()) lane_conns_.erase(it);  // still connecting: nothing to report
          keep->close(a.error);
        }
        break;
      case kind::complete:
        if (op_base* op = take_queued(a.op)) {
          if (a.error) {
            op->complete(a.error, nullptr);
          } else {  // its time ran out while it waited for a lane: no job, as the server says
            proto::reply timed_out;
            timed_out.kind = proto::reply_kind::timed_out;
            op->complete({}, &timed_out);
          }
        }
        break;
      case kind::probe:
        send_probe(a.lane, a.job);
        break;
      case kind::lost_reservation:
        emit(event(client_event::kind::lost_reservation, a.error, a.job));
        break;
      case kind::queued:
        emit(event(client_event::kind::reserve_queued));
        break;
    }
  }

  op_base* take_queued(std::uint64_t serial) {
    auto it = queued_reserves_.find(serial);
    if (it == queued_reserves_.end()) return nullptr;
    op_base* op = it->second;
    queued_reserves_.erase(it);
    return op;
  }

  void open_lane(std::uint64_t id) {
    auto lane = std::make_shared<async_connection>(strand_, options_, *this);
    lane->lane = id;
    lane_conns_.emplace(id, lane);
    lane->start_connect(endpoint_, [self = shared_from_this(), lane, id](std::error_code ec) {
      auto it = self->lane_conns_.find(id);
      if (it == self->lane_conns_.end() || it->second != lane) return;  // closed meanwhile
      if (ec) {
        self->lane_conns_.erase(it);
        self->remember_failure(ec, {});
        self->lanes_.on_open_failed(id, ec, clock::now(), self->unit_random());
      } else {
        self->lanes_.on_opened(id, clock::now());
      }
      self->carry_out_lane_actions();
    });
  }

  void send_reserve(const conn::lane_action& a) {
    op_base* op = take_queued(a.op);
    auto it = lane_conns_.find(a.lane);
    if (op == nullptr || it == lane_conns_.end()) return;
    async_connection& lane = *it->second;
    {
      std::lock_guard lock(mu_);
      send_tube_sync(lane, /*with_use=*/false);
    }
    // The reserve the machine asks for: what is left of a reserve-with-timeout's wait.
    std::string bytes;
    if (a.timeout) {
      (void)proto::reserve_with_timeout_command{*a.timeout}.encode(bytes);
      op->wait = {.unbounded = false, .bounded = *a.timeout};
    } else {
      (void)proto::reserve_command{}.encode(bytes);
    }
    op_queue ops;
    ops.push_back(op);
    lane.send(bytes, ops);
  }

  void send_probe(std::uint64_t lane_id, job_id job) {
    auto it = lane_conns_.find(lane_id);
    if (it == lane_conns_.end()) return;
    auto* op = new probe_op(
        job, [self = shared_from_this(), lane_id, job](std::optional<std::string> job_state) {
          // Unknown (the connection failed): the machine hears of that through on_closed.
          if (!job_state) return;
          self->lanes_.on_probe_answer(lane_id, job, *job_state == "reserved", clock::now());
          self->carry_out_lane_actions();
        });
    std::string bytes;
    (void)op->encode(bytes);
    op_queue ops;
    ops.push_back(op);
    it->second->send(bytes, ops);
  }

  // ------------------------------------------------------------------ bookkeeping

  void fail(op_base* op, bool counted_on_main, std::error_code ec) {
    const bool counted = counted_on_main && !op->internal;
    op->complete(ec, nullptr);
    if (counted && pipeline_.answered()) wake_producers();
  }

  /// Fails every command of `ops`, queued for the main connection and never sent.
  void fail_all(op_queue& ops, std::error_code ec) {
    while (op_base* op = ops.pop_front()) fail(op, true, ec);
  }

  static std::error_code aborted() { return make_error_code(asio::error::operation_aborted); }

  // The posted completions hold the core: a handler without an executor of its own runs on the
  // core's (see executor_of), and the client may be gone by then.
  void complete_later(op_base* op, std::error_code ec) {
    asio::post(strand_, [self = shared_from_this(), op, ec] { op->complete(ec, nullptr); });
  }

  void answer_later(op_base* op, proto::reply reply) {
    asio::post(strand_, [self = shared_from_this(), op, r = std::move(reply)]() mutable {
      op->complete({}, &r);
    });
  }

  void remember_failure(std::error_code cause, const std::string& received,
                        const std::string& tls_detail = {}) {
    if (!cause || cause == asio::error::operation_aborted) return;
    std::lock_guard lock(mu_);
    last_failure_.cause = cause;
    last_failure_.received = received;
    last_failure_.detail = tls_detail;
  }

  double unit_random() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_); }

  void close_everything() {
    const auto why = aborted();
    retry_timer_.cancel();
    lane_timer_.cancel();
    wait_timer_.cancel();
    op_queue stranded;
    {
      std::lock_guard lock(mu_);
      stranded = pipeline_.take_all();
    }
    fail_all(stranded, why);
    if (auto main = main_) main->close(why);
    main_ = nullptr;
    lanes_.on_shutdown(why);
    carry_out_lane_actions();
    complete_connect_waiters(why);
  }

  void emit(const client_event& e) const {
    if (options_.on_event) options_.on_event(e);
  }

  asio::any_io_executor user_executor_;
  asio::strand<asio::any_io_executor> strand_;
  endpoint endpoint_;
  async_client_options options_;

  // Shared with submitting threads: guarded by mu_.
  spin_mutex mu_;
  std::condition_variable_any room_;  // producers waiting for room in the pipeline
  conn::reconnect_machine keeper_;
  conn::tube_state tubes_;
  conn::pipeline<op_base> pipeline_;     // `answered` is called without mu_
  std::atomic<std::size_t> waiters_{0};  // producers blocked on a full pipeline
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

std::shared_ptr<async_core> make_async_core(const asio::any_io_executor& ex, endpoint ep,
                                            async_client_options options) {
  return std::make_shared<async_core>(ex, std::move(ep), std::move(options));
}

const asio::any_io_executor& executor_of(const async_core& core) noexcept {
  return core.user_executor();
}
void submit_op(async_core& core, op_base* op) {
  core.submit(op);
}
void connect_op(async_core& core, op_base* op) {
  core.connect(op);
}
void shutdown(async_core& core) {
  core.shutdown();
}
std::size_t in_flight(async_core& core) {
  return core.in_flight();
}
failure_info last_failure(async_core& core) {
  return core.last_failure();
}

}  // namespace beanpole::detail

namespace beanpole {

std::string_view to_string(client_event::kind what) noexcept {
  switch (what) {
    case client_event::kind::connected:
      return "connected";
    case client_event::kind::disconnected:
      return "disconnected";
    case client_event::kind::reconnecting:
      return "reconnecting";
    case client_event::kind::reconnected:
      return "reconnected";
    case client_event::kind::lost_reservation:
      return "lost_reservation";
    case client_event::kind::gave_up:
      return "gave_up";
    case client_event::kind::reserve_queued:
      return "reserve_queued";
  }
  return "unknown";
}

async_client::async_client(executor_type ex, endpoint ep, async_client_options options)
    : executor_(std::move(ex)),
      core_(detail::make_async_core(executor_, std::move(ep), std::move(options))) {}

async_client::~async_client() {
  detail::shutdown(*core_);
}

void async_client::close() {
  detail::shutdown(*core_);
}

std::size_t async_client::in_flight() const {
  return detail::in_flight(*core_);
}

failure_info async_client::last_failure() const {
  return detail::last_failure(*core_);
}

}  // namespace beanpole
