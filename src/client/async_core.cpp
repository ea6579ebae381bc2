// The async client's core: routes commands to connections, keeps the client's tube state,
// applies back-pressure, reconnects, and runs waiting reserves on connections of their own.
//
// Threads: `submit` runs on the caller's thread. What it shares with the strand (the queue of
// commands for the main connection, the tube state, the job -> connection routes) is guarded by
// `mu_`; everything else, sockets included, is touched only on the strand.
#include <algorithm>
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
#include <unordered_map>

#include "beanpole/async_client.hpp"
#include "client/async_connection.hpp"

namespace beanpole::detail {
namespace {

using clock = std::chrono::steady_clock;

/// A command the client sends on its own to bring a connection to the client's tube state
/// (use / watch / ignore). Its reply only has to be a success.
class state_op final : public op_base {
 public:
  explicit state_op(proto::reply_kind expected) : expected_(expected) { internal = true; }
  std::error_code encode(std::string&) const override { return {}; }
  asio::cancellation_slot cancellation_slot() const noexcept override { return {}; }
  std::error_code complete(std::error_code ec, proto::reply* reply) override {
    if (!ec && (reply == nullptr || reply->kind != expected_)) ec = errc::unexpected_reply;
    delete this;
    return ec;
  }

 private:
  ~state_op() = default;
  proto::reply_kind expected_;
};

/// A command the client sends on its own to learn something; `done` gets the reply (null when
/// the connection failed first).
class probe_op final : public op_base {
 public:
  explicit probe_op(std::function<void(const proto::reply*)> done) : done_(std::move(done)) {
    internal = true;
  }
  std::error_code encode(std::string&) const override { return {}; }
  asio::cancellation_slot cancellation_slot() const noexcept override { return {}; }
  std::error_code complete(std::error_code ec, proto::reply* reply) override {
    auto done = std::move(done_);
    delete this;
    done(ec ? nullptr : reply);
    return {};
  }

 private:
  ~probe_op() = default;
  std::function<void(const proto::reply*)> done_;
};

/// Appends `word tube\r\n` and its state_op.
void append_state_command(std::string& bytes, op_queue& ops, std::string_view word,
                          const tube_name& tube, proto::reply_kind expected) {
  bytes += word;
  bytes += ' ';
  bytes += tube.view();
  bytes += "\r\n";
  ops.push_back(new state_op(expected));
}

/// Commands that take `from` (a connection's watch list) to `to`: watches first, so the list is
/// never empty on the way (the server refuses to ignore the last tube).
void append_watch_diff(std::string& bytes, op_queue& ops, const std::vector<tube_name>& from,
                       const std::vector<tube_name>& to) {
  for (const auto& t : to) {
    if (std::find(from.begin(), from.end(), t) == from.end()) {
      append_state_command(bytes, ops, "watch", t, proto::reply_kind::watching);
    }
  }
  for (const auto& t : from) {
    if (std::find(to.begin(), to.end(), t) == to.end()) {
      append_state_command(bytes, ops, "ignore", t, proto::reply_kind::watching);
    }
  }
}

/// Whether the calling thread runs the client's executor, where blocking would deadlock. Not
/// `runs_here` (detail/async_op.hpp), which asks whether a handler may run inline: for a strand
/// that means "inside the strand", while here any thread of the strand's context would stall it.
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

}  // namespace

class async_core final : public connection_listener,
                         public std::enable_shared_from_this<async_core> {
 public:
  async_core(const asio::any_io_executor& ex, endpoint ep, async_client_options options)
      : user_executor_(ex),
        strand_(asio::make_strand(ex)),
        endpoint_(std::move(ep)),
        options_(std::move(options)),
        retry_timer_(strand_),
        lane_retry_timer_(strand_),
        probe_timer_(strand_),
        rng_(std::random_device{}()) {
    if (options_.max_in_flight == 0) options_.max_in_flight = 1;
    if (options_.max_reserve_connections == 0) options_.max_reserve_connections = 1;
  }

  // ------------------------------------------------------------------- any thread

  void submit(op_base* op) {
    if (op->route == op_route::waiting) {
      submit_waiting_reserve(op);
      return;
    }
    std::unique_lock lock(mu_);
    op->serial = next_serial_++;
    if (op->route == op_route::job_action) {
      if (auto it = job_lanes_.find(op->job.value); it != job_lanes_.end()) {
        auto lane = it->second;
        lock.unlock();
        asio::post(strand_,
                   [self = shared_from_this(), lane, op] { self->send_job_action(lane, op); });
        return;
      }
    }
    if (state_ == main_state::idle || state_ == main_state::closed) {
      lock.unlock();
      complete_later(op, errc::not_connected);
      return;
    }
    if (op->effect != tube_effect::none) {
      std::optional<proto::reply> answer = apply_tube_effect(*op);
      if (answer) {  // nothing to send: answer from the client's own record
        lock.unlock();
        answer_later(op, std::move(*answer));
        return;
      }
    }
    if (outstanding_ >= options_.max_in_flight && !on_executor_thread(user_executor_)) {
      ++waiters_;
      room_.wait(lock, [&] {
        return outstanding_ < options_.max_in_flight || state_ == main_state::closed;
      });
      --waiters_;
      if (state_ == main_state::closed || state_ == main_state::idle) {
        // Closed, or the connection dropped for good, while this producer waited for room.
        lock.unlock();
        complete_later(op, state_ == main_state::closed
                               ? make_error_code(asio::error::operation_aborted)
                               : make_error_code(errc::not_connected));
        return;
      }
    }
    if (auto ec = op->encode(pending_bytes_)) {
      lock.unlock();
      complete_later(op, ec);  // refused before anything was sent
      return;
    }
    pending_ops_.push_back(op);
    ++outstanding_;
    if (state_ == main_state::up && !flush_posted_) {
      flush_posted_ = true;
      // Issued by a handler the client is running for a batch of replies: flush once when the
      // batch is done, so everything the handlers issue leaves in one write and costs no post.
      if (strand_.running_in_this_thread() && in_read_batch_) {
        flush_after_batch_ = true;
        return;
      }
      lock.unlock();
      asio::post(strand_, [self = shared_from_this()] { self->flush(); });
    }
  }

  void connect(op_base* op) {
    bool start = false;
    {
      // Set at once, not on the strand: commands issued right after async_connect must wait
      // for the connection, not fail for want of one.
      std::lock_guard lock(mu_);
      op->serial = next_serial_++;
      if (state_ == main_state::idle) {
        state_ = main_state::connecting;
        start = true;
      }
    }
    asio::post(strand_, [self = shared_from_this(), op, start] {
      main_state state;
      {
        std::lock_guard lock(self->mu_);
        state = self->state_;
      }
      if (state == main_state::closed) {
        op->complete(make_error_code(asio::error::operation_aborted), nullptr);
      } else if (state == main_state::up) {
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
      if (state_ == main_state::closed) return;
      state_ = main_state::closed;
    }
    room_.notify_all();
    asio::post(strand_, [self = shared_from_this()] { self->close_everything(); });
  }

  std::size_t in_flight() { return outstanding_.load(std::memory_order_relaxed); }

  // --------------------------------------------------------- connection_listener (strand)

  void on_reply(async_connection& conn, op_base* op, proto::reply& reply) override {
    in_read_batch_ = true;
    track_reservations(conn, *op, reply);
    const bool internal = op->internal;
    if (!internal && &conn == main_.get()) {
      // Before the handler runs: whoever sees the completion must not see it counted.
      --outstanding_;
      answered_in_batch_ = true;
    }
    const std::error_code ec = op->complete({}, &reply);  // `op` is gone after this
    // A reply that breaks the protocol, or a failed state restore, leaves the connection in an
    // unknown state: close it (and reconnect, if enabled).
    if (ec && (internal || ec == condition::protocol_violation)) {
      end_read_batch();
      conn.close(ec);
      return;
    }
    if (conn.is_reserve_lane) serve_waiting_reserves();
  }

  void on_read_done(async_connection&) override { end_read_batch(); }

  void on_closed(async_connection& conn, std::error_code reason, op_queue written,
                 op_queue unwritten) override {
    // A read batch cut short by a protocol violation still settles what its replies did.
    if (in_read_batch_) end_read_batch();
    const bool is_main = &conn == main_.get();
    // The client's state changes before any handler hears of the failure, so that a command a
    // handler issues sees the connection as gone (not_connected), not as still up.
    std::optional<op_queue> stranded;
    if (is_main) {
      main_ = nullptr;
      stranded = mark_main_down();
      if (!is_closed()) emit(event(client_event::kind::disconnected, reason));
    } else {
      std::erase_if(lanes_, [&](const auto& lane) { return lane.get() == &conn; });
    }
    for (const std::uint64_t id : conn.held) {
      forget_lane_job(conn, id);
      emit(event(client_event::kind::lost_reservation, reason, job_id{id}));
    }
    conn.held.clear();
    bool first = true;
    while (op_base* op = written.pop_front()) {
      fail(op, is_main, written_error(*op, reason, first));
      first = false;
    }
    // Never handed to the socket: known not to have happened.
    const auto not_sent =
        reason == asio::error::operation_aborted ? reason : make_error_code(errc::connection_lost);
    while (op_base* op = unwritten.pop_front()) fail(op, is_main, not_sent);
    if (!is_main) {
      serve_waiting_reserves();
    } else if (stranded) {
      while (op_base* op = stranded->pop_front()) fail(op, true, not_sent);
    } else if (options_.reconnect.enabled && !is_closed()) {
      schedule_retry(reason);
    }
  }

  void on_writable(async_connection& conn) override {
    if (&conn == main_.get()) flush();
  }

 private:
  enum class main_state : std::uint8_t { idle, connecting, up, waiting_retry, closed };

  // ------------------------------------------------------------------- tube state

  /// Records a use/watch/ignore in the client's state (under `mu_`). Returns the answer when the
  /// command would change nothing (or must be refused) and so is not sent.
  std::optional<proto::reply> apply_tube_effect(const op_base& op) {
    const tube_name& tube = *op.tube;
    const auto it = std::find(watched_.begin(), watched_.end(), tube);
    proto::reply answer;
    switch (op.effect) {
      case tube_effect::use:
        if (tube == used_) {
          answer.kind = proto::reply_kind::using_tube;
          answer.body = tube.str();
          return answer;
        }
        used_ = tube;
        break;
      case tube_effect::watch:
        if (it != watched_.end()) {
          answer.kind = proto::reply_kind::watching;
          answer.has_number = true;
          answer.number = watched_.size();
          return answer;
        }
        watched_.push_back(tube);
        break;
      case tube_effect::ignore:
        if (it == watched_.end() || watched_.size() == 1) {
          answer.kind =
              it == watched_.end() ? proto::reply_kind::watching : proto::reply_kind::not_ignored;
          answer.has_number = it == watched_.end();
          answer.number = watched_.size();
          return answer;
        }
        watched_.erase(it);
        break;
      case tube_effect::none:
        break;
    }
    ++tube_version_;
    return std::nullopt;
  }

  /// Commands that bring a fresh connection (using and watching "default") to the client's state.
  void append_restore(std::string& bytes, op_queue& ops) {
    std::lock_guard lock(mu_);
    if (used_ != tube_name()) {
      append_state_command(bytes, ops, "use", used_, proto::reply_kind::using_tube);
    }
    append_watch_diff(bytes, ops, {tube_name()}, watched_);
  }

  // ------------------------------------------------------------ main connection (strand)

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
      main_ = nullptr;
      // State first, handlers after (see on_closed). When reconnecting, the waiters hear of
      // this failure and commands already submitted wait for a later try.
      std::optional<op_queue> stranded = mark_main_down();
      complete_connect_waiters(ec);
      if (stranded) {
        while (op_base* op = stranded->pop_front()) fail(op, true, ec);
      } else if (options_.reconnect.enabled && !is_closed()) {
        schedule_retry(ec);
      }
      return;
    }
    std::string bytes;
    op_queue ops;
    append_restore(bytes, ops);  // before anything else goes out
    if (!bytes.empty()) conn->send(bytes, ops);
    const bool again = ever_connected_;
    ever_connected_ = true;
    attempt_ = 0;
    {
      std::lock_guard lock(mu_);
      if (state_ == main_state::closed) return;
      state_ = main_state::up;
    }
    emit(event(again ? client_event::kind::reconnected : client_event::kind::connected));
    complete_connect_waiters({});
    flush();
  }

  /// The main connection is gone: waits for a retry when reconnecting, else goes idle and
  /// returns the commands that were waiting to be written, for the caller to fail.
  std::optional<op_queue> mark_main_down() {
    std::lock_guard lock(mu_);
    if (state_ == main_state::closed) return std::nullopt;
    if (options_.reconnect.enabled) {
      state_ = main_state::waiting_retry;
      return std::nullopt;
    }
    state_ = main_state::idle;
    return take_pending();
  }

  bool is_closed() {
    std::lock_guard lock(mu_);
    return state_ == main_state::closed;
  }

  std::chrono::milliseconds next_backoff(unsigned attempt) {
    const auto& r = options_.reconnect;
    const unsigned shift = std::min(attempt > 0 ? attempt - 1 : 0u, 20u);
    const std::chrono::milliseconds wait =
        std::min(r.max_backoff, std::chrono::milliseconds(r.initial_backoff.count() << shift));
    std::uniform_real_distribution<double> factor(1.0 - std::clamp(r.jitter, 0.0, 1.0), 1.0);
    return std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(
        static_cast<double>(wait.count()) * factor(rng_)));
  }

  void schedule_retry(std::error_code why) {
    ++attempt_;
    const auto backoff = next_backoff(attempt_);
    emit(event(client_event::kind::reconnecting, why, {}, attempt_, backoff));
    retry_timer_.expires_after(backoff);
    retry_timer_.async_wait([self = shared_from_this()](std::error_code ec) {
      if (ec) return;
      {
        std::lock_guard lock(self->mu_);
        if (self->state_ != main_state::waiting_retry) return;
        self->state_ = main_state::connecting;
      }
      self->open_main();
    });
  }

  /// Hands what was submitted to the main connection, unless a write is running (it will call
  /// `on_writable`, and everything submitted meanwhile leaves in one write).
  void flush() {
    std::string bytes;
    op_queue ops;
    {
      std::lock_guard lock(mu_);
      flush_posted_ = false;
      if (!main_ || !main_->is_open() || main_->is_writing() || state_ != main_state::up) return;
      if (pending_ops_.empty()) return;
      bytes.swap(pending_bytes_);
      ops.splice_back(pending_ops_);
    }
    main_->send(bytes, ops);
    // `bytes` now holds an emptied buffer of the connection's: reuse it, so that steady
    // pipelining allocates no buffers.
    std::lock_guard lock(mu_);
    if (pending_bytes_.empty() && bytes.capacity() > pending_bytes_.capacity()) {
      pending_bytes_.swap(bytes);
    }
  }

  op_queue take_pending() {  // under mu_
    pending_bytes_.clear();
    op_queue out;
    out.splice_back(pending_ops_);
    return out;
  }

  /// Settles what the replies of one read did: slots freed (one lock per batch, not per reply)
  /// and commands their handlers issued (one write per batch).
  void end_read_batch() {
    in_read_batch_ = false;
    if (std::exchange(answered_in_batch_, false)) wake_producers();
    if (flush_after_batch_) {
      flush_after_batch_ = false;
      flush();
    }
  }

  void release_slot() {
    --outstanding_;
    wake_producers();
  }

  /// Wakes producers blocked on a full pipeline, in batches rather than per reply (each wake is
  /// a system call): once half the slots are free.
  void wake_producers() {
    if (waiters_ == 0 || outstanding_ > options_.max_in_flight / 2) return;
    std::lock_guard lock(mu_);  // a producer between its check and its wait must not miss this
    room_.notify_all();
  }

  void complete_connect_waiters(std::error_code ec) {
    op_queue waiters;
    waiters.splice_back(connect_waiters_);
    while (op_base* op = waiters.pop_front()) op->complete(ec, nullptr);
  }

  // ---------------------------------------------------------- reserve connections (strand)

  void submit_waiting_reserve(op_base* op) {
    {
      std::lock_guard lock(mu_);
      op->serial = next_serial_++;
    }
    if (auto slot = op->cancellation_slot(); slot.is_connected()) {
      slot.assign([weak = weak_from_this(), serial = op->serial](asio::cancellation_type) {
        if (auto self = weak.lock()) {
          asio::post(self->strand_, [self, serial] { self->cancel_waiting(serial); });
        }
      });
    }
    asio::post(strand_, [self = shared_from_this(), op] {
      main_state state;
      {
        std::lock_guard lock(self->mu_);
        state = self->state_;
      }
      if (state == main_state::closed || state == main_state::idle) {
        // Like every other command: nothing runs before async_connect, or after close().
        op->complete(state == main_state::closed ? make_error_code(asio::error::operation_aborted)
                                                 : make_error_code(errc::not_connected),
                     nullptr);
        return;
      }
      self->waiting_reserves_.push_back(op);
      self->serve_waiting_reserves();
    });
  }

  /// Gives queued waiting reserves to idle reserve connections, opening new ones as needed.
  void serve_waiting_reserves() {
    while (!waiting_reserves_.empty()) {
      auto idle = std::find_if(lanes_.begin(), lanes_.end(), [](const auto& lane) {
        return lane->is_open() && lane->held.empty() && lane->awaiting() == 0;
      });
      if (idle == lanes_.end()) break;
      send_reserve(*idle, waiting_reserves_.pop_front());
    }
    const auto connecting = static_cast<std::size_t>(std::count_if(
        lanes_.begin(), lanes_.end(), [](const auto& lane) { return !lane->is_open(); }));
    std::size_t wanted =
        waiting_reserves_.size() > connecting ? waiting_reserves_.size() - connecting : 0;
    while (wanted-- > 0 && lanes_.size() < options_.max_reserve_connections &&
           !lane_retry_pending_) {
      open_lane();
    }
    if (!waiting_reserves_.empty() && lanes_.size() >= options_.max_reserve_connections) {
      probe_held_jobs();
    }
  }

  /// Every reserve connection holds a job and no more may be opened. A job left to run out its
  /// TTR was released by the server, yet still pins the connection that reserved it: ask the
  /// server (stats-job) which held jobs are no longer reserved, and free those connections. The
  /// question goes on the holding connection itself, which has nothing else in flight: beanstalkd
  /// 1.12 acts on an idle connection's expired TTR only when that connection sends something.
  /// Asks again each second while reserves keep waiting.
  void probe_held_jobs() {
    if (probes_in_flight_ > 0 || probe_timer_armed_) return;
    for (const auto& lane : lanes_) {
      if (!lane->is_open() || lane->awaiting() > 0 || lane->held.empty()) continue;
      std::string bytes;
      op_queue ops;
      for (const std::uint64_t id : lane->held) {
        proto::stats_job_command{job_id{id}}.encode(bytes);
        ++probes_in_flight_;
        std::weak_ptr<async_connection> weak = lane;
        ops.push_back(new probe_op([self = shared_from_this(), weak, id](const proto::reply* r) {
          --self->probes_in_flight_;
          auto held_by = weak.lock();
          if (r != nullptr && held_by && !still_reserved(*r)) {
            held_by->held.erase(id);
            self->forget_lane_job(*held_by, id);
          }
          if (self->probes_in_flight_ == 0) {
            const std::size_t before = self->waiting_reserves_.size();
            self->serve_waiting_reserves();
            if (self->waiting_reserves_.size() == before) self->schedule_probe();
          }
        }));
      }
      lane->send(bytes, ops);
    }
    if (probes_in_flight_ == 0) schedule_probe();
  }

  static bool still_reserved(const proto::reply& r) {
    if (r.kind != proto::reply_kind::ok) return r.kind != proto::reply_kind::not_found;
    proto::job_stats stats;
    return proto::parse_job_stats(r.body, stats) || stats.state == "reserved";
  }

  void schedule_probe() {
    if (probe_timer_armed_ || waiting_reserves_.empty()) return;
    probe_timer_armed_ = true;
    probe_timer_.expires_after(std::chrono::seconds{1});
    probe_timer_.async_wait([self = shared_from_this()](std::error_code ec) {
      self->probe_timer_armed_ = false;
      if (!ec) self->serve_waiting_reserves();
    });
  }

  void open_lane() {
    auto lane = std::make_shared<async_connection>(strand_, options_, *this);
    lane->is_reserve_lane = true;
    lanes_.push_back(lane);
    lane->start_connect(endpoint_, [self = shared_from_this(), lane](std::error_code ec) {
      if (std::find(self->lanes_.begin(), self->lanes_.end(), lane) == self->lanes_.end()) return;
      if (!ec) {
        self->lane_attempt_ = 0;
        self->serve_waiting_reserves();
        return;
      }
      std::erase(self->lanes_, lane);
      if (self->options_.reconnect.enabled) {
        self->lane_retry_pending_ = true;
        self->lane_retry_timer_.expires_after(self->next_backoff(++self->lane_attempt_));
        self->lane_retry_timer_.async_wait([self](std::error_code tec) {
          self->lane_retry_pending_ = false;
          if (!tec) self->serve_waiting_reserves();
        });
        return;
      }
      // No reconnecting: the reserves waiting for this connection cannot be served.
      while (op_base* op = self->waiting_reserves_.pop_front()) op->complete(ec, nullptr);
    });
  }

  void send_reserve(const std::shared_ptr<async_connection>& lane, op_base* op) {
    std::string request;
    if (auto ec = op->encode(request)) {  // refused: the connection's state stays as it is
      op->complete(ec, nullptr);
      return;
    }
    std::string bytes;
    op_queue ops;
    {
      std::lock_guard lock(mu_);
      if (lane->tube_version != tube_version_) {
        append_watch_diff(bytes, ops, lane->watched, watched_);
        lane->watched = watched_;
        lane->tube_version = tube_version_;
      }
    }
    bytes += request;
    ops.push_back(op);
    lane->send(bytes, ops);
  }

  void send_job_action(const std::shared_ptr<async_connection>& lane, op_base* op) {
    if (!lane->is_open()) {  // the connection that held the job dropped since the lookup
      op->complete(make_error_code(errc::lost_reservation), nullptr);
      return;
    }
    std::string bytes;
    if (auto ec = op->encode(bytes)) {
      op->complete(ec, nullptr);
      return;
    }
    op_queue ops;
    ops.push_back(op);
    lane->send(bytes, ops);
  }

  void cancel_waiting(std::uint64_t serial) {
    for (op_base* op = waiting_reserves_.front(); op != nullptr; op = op->next) {
      if (op->serial != serial) continue;
      waiting_reserves_.remove(op);
      op->complete(make_error_code(asio::error::operation_aborted), nullptr);
      return;
    }
    for (const auto& lane : lanes_) {
      if (!lane->holds_op(serial)) continue;
      // Closing is the only clean way to take a reserve back: the server releases a job it may
      // be handing over at this moment, and no other command shares this connection.
      auto keep = lane;
      keep->close(make_error_code(asio::error::operation_aborted));
      return;
    }
  }

  // ------------------------------------------------------------------ bookkeeping

  /// Keeps `conn.held` (and the job -> reserve connection routes) in step with replies.
  void track_reservations(async_connection& conn, const op_base& op, const proto::reply& reply) {
    if (op.traits.reserves_job && reply.kind == proto::reply_kind::reserved) {
      conn.held.insert(reply.number);
      if (conn.is_reserve_lane) {
        std::lock_guard lock(mu_);
        job_lanes_[reply.number] = conn.shared_from_this();
      }
      return;
    }
    if (!op.traits.acts_on_reserved) return;
    const bool ends =
        reply.kind == proto::reply_kind::not_found || reply.kind == proto::reply_kind::deleted ||
        reply.kind == proto::reply_kind::released || reply.kind == proto::reply_kind::buried;
    if (ends && conn.held.erase(op.job.value) > 0) forget_lane_job(conn, op.job.value);
  }

  /// Drops the route of job `id` to `conn`, unless the job has been reserved again since, on
  /// another connection, whose route must stay.
  void forget_lane_job(const async_connection& conn, std::uint64_t id) {
    if (!conn.is_reserve_lane) return;
    std::lock_guard lock(mu_);
    if (auto it = job_lanes_.find(id); it != job_lanes_.end() && it->second.get() == &conn) {
      job_lanes_.erase(it);
    }
  }

  /// The error for a command that was written and got no reply.
  static std::error_code written_error(const op_base& op, std::error_code reason, bool oldest) {
    if (op.is_put) return errc::outcome_unknown;  // the job may exist: never say it failed
    if (reason == asio::error::operation_aborted) return reason;
    if (reason == errc::reply_timeout && oldest) return reason;
    return errc::connection_lost;
  }

  void fail(op_base* op, bool counted_on_main, std::error_code ec) {
    const bool counted = counted_on_main && !op->internal;
    op->complete(ec, nullptr);
    if (counted) release_slot();
  }

  void complete_later(op_base* op, std::error_code ec) {
    asio::post(strand_, [op, ec] { op->complete(ec, nullptr); });
  }

  void answer_later(op_base* op, proto::reply reply) {
    asio::post(strand_, [op, r = std::move(reply)]() mutable { op->complete({}, &r); });
  }

  void close_everything() {
    const auto aborted = make_error_code(asio::error::operation_aborted);
    retry_timer_.cancel();
    lane_retry_timer_.cancel();
    probe_timer_.cancel();
    op_queue stranded;
    {
      std::lock_guard lock(mu_);
      stranded = take_pending();
    }
    while (op_base* op = stranded.pop_front()) fail(op, true, aborted);
    if (auto main = main_) main->close(aborted);
    main_ = nullptr;
    for (auto lanes = lanes_; const auto& lane : lanes) lane->close(aborted);
    lanes_.clear();
    while (op_base* op = waiting_reserves_.pop_front()) op->complete(aborted, nullptr);
    complete_connect_waiters(aborted);
  }

  void emit(const client_event& e) const {
    if (options_.on_event) options_.on_event(e);
  }

  asio::any_io_executor user_executor_;
  asio::strand<asio::any_io_executor> strand_;
  endpoint endpoint_;
  async_client_options options_;

  // Shared with submitting threads: guarded by mu_.
  std::mutex mu_;
  std::condition_variable room_;
  main_state state_ = main_state::idle;
  std::string pending_bytes_;  // requests submitted for the main connection, not yet handed over
  op_queue pending_ops_;
  // User commands of the main connection not yet completed, and producers blocked on them.
  // Atomic so that a completion is uncounted before its handler runs without taking mu_;
  // changed under mu_ only when a producer adds to it.
  std::atomic<std::size_t> outstanding_{0};
  std::atomic<std::size_t> waiters_{0};
  bool flush_posted_ = false;
  std::uint64_t next_serial_ = 1;
  tube_name used_;
  std::vector<tube_name> watched_{tube_name()};
  std::uint64_t tube_version_ = 0;
  std::unordered_map<std::uint64_t, std::shared_ptr<async_connection>> job_lanes_;

  // Strand only.
  std::shared_ptr<async_connection> main_;
  std::vector<std::shared_ptr<async_connection>> lanes_;
  op_queue waiting_reserves_;
  op_queue connect_waiters_;
  bool in_read_batch_ = false;      // replies of one read are being handled
  bool flush_after_batch_ = false;  // handlers issued commands: flush when the batch ends
  bool answered_in_batch_ = false;
  bool ever_connected_ = false;
  unsigned attempt_ = 0;
  unsigned lane_attempt_ = 0;
  bool lane_retry_pending_ = false;
  asio::steady_timer retry_timer_;
  asio::steady_timer lane_retry_timer_;
  asio::steady_timer probe_timer_;  // next look at held jobs (probe_held_jobs)
  bool probe_timer_armed_ = false;
  std::size_t probes_in_flight_ = 0;
  std::minstd_rand rng_;
};

std::shared_ptr<async_core> make_async_core(const asio::any_io_executor& ex, endpoint ep,
                                            async_client_options options) {
  return std::make_shared<async_core>(ex, std::move(ep), std::move(options));
}

void submit(async_core& core, op_base* op) {
  core.submit(op);
}
void connect(async_core& core, op_base* op) {
  core.connect(op);
}
void shutdown(async_core& core) {
  core.shutdown();
}
std::size_t in_flight(async_core& core) {
  return core.in_flight();
}

}  // namespace beanpole::detail

namespace beanpole {

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

}  // namespace beanpole
