// The worker's engine (see include/beanpole/worker.hpp for the design). Internal.
//
// Threads and ownership:
// - Everything in `worker_impl` runs on `strand_`, a strand of the user's executor. The client
//   is built on that strand too, so its internal strand runs inside it: the client's callbacks,
//   its `on_event` and the cancellation of its reserves are serialized with the worker's own work.
// - Handler threads (plain-function handlers) and coroutine handlers reach the worker only through
//   a `job_shared` (the job's data, the handler's decision, the stop flags) and its `post_gate`,
//   which posts to the strand while the run lasts and does nothing afterwards. A handler thread
//   therefore never owns the engine, an executor or an I/O object, and may outlive them all.
// - `job_entry` is the strand-only record of a reserved job (phase, timers, reservation
//   generation); `reserve_slot` is one of the N reserve loops.
//
// Where the engine's parts live: engine.cpp (start, reserve loop, identifying jobs, starting
// handlers, events), keepalive.cpp (time to run), settling.cpp (the final command of each job,
// decided by the pure `decide_outcome` of outcome.hpp), stopping.cpp (stop requests, signals,
// the grace period, the end of the run), job_context.cpp (what handlers see),
// metrics_registry.cpp (the counters).
#pragma once

#include <asio/cancellation_signal.hpp>
#include <asio/post.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <stop_token>
#include <string>
#include <unordered_map>
#include <vector>

#include "beanpole/worker.hpp"
#include "worker/handler_pool.hpp"
#include "worker/job_source.hpp"
#include "worker/metrics_registry.hpp"
#include "worker/metrics_server.hpp"
#include "worker/outcome.hpp"

namespace beanpole::detail {

using worker_strand = asio::strand<asio::any_io_executor>;

class worker_impl;

/// The only way from a handler thread (or a coroutine handler's strand) to the engine: posts to
/// the engine's strand while open; after `close` does nothing.
class post_gate {
 public:
  post_gate(worker_strand strand, std::weak_ptr<worker_impl> owner)
      : strand_(std::move(strand)), owner_(std::move(owner)) {}

  /// Posts `f(engine)` to the strand, unless closed or the engine is gone. Any thread.
  template <class F>
  void post(F f) {
    std::lock_guard lock(mu_);
    if (!strand_) return;
    auto self = owner_.lock();
    if (!self) return;
    // `self` moves into the closure: this thread keeps no reference to the engine.
    asio::post(*strand_, [self = std::move(self), f = std::move(f)]() mutable { f(*self); });
  }

  /// Closes the gate and drops its executor (before the execution context goes away).
  void close() {
    std::lock_guard lock(mu_);
    strand_.reset();
  }

 private:
  std::mutex mu_;
  std::optional<worker_strand> strand_;
  std::weak_ptr<worker_impl> owner_;
};

/// What a handler may touch, shared between the engine and the handler's thread.
class job_shared : public std::enable_shared_from_this<job_shared> {
 public:
  job_shared(job j, std::size_t server, std::string server_name, std::shared_ptr<post_gate> gate)
      : job_(std::move(j)),
        server_(server),
        server_name_(std::move(server_name)),
        gate_(std::move(gate)),
        context_(*this) {}

  // Set on the strand before the handler starts, then read-only.
  job job_;
  std::size_t server_ = 0;   ///< the index of the job's server in the source
  std::string server_name_;  ///< its name (empty on a single server)
  tube_name tube_;
  proto::job_stats stats_;

  std::atomic<bool> stopping_{false};
  std::atomic<bool> lost_{false};
  std::stop_source cancel_;  ///< signalled when the handler is abandoned
  std::shared_ptr<post_gate> gate_;

  job_context& context() noexcept { return context_; }

  /// Records a decision (ignored once abandoned). Any thread.
  void decide(handler_decision d);
  /// Takes the decision made, if any. Strand.
  std::optional<handler_decision> take_decision();
  /// Asks the engine for a touch now. Any thread.
  void request_touch();

 private:
  job_context context_;
  std::mutex mu_;
  std::optional<handler_decision> decision_;
};

/// A coroutine handler's strand and cancellation signal. `done` and `signal` are used on
/// `strand` only.
struct coroutine_state {
  explicit coroutine_state(worker_strand s) : strand(std::move(s)) {}
  worker_strand strand;
  asio::cancellation_signal signal;
  bool done = false;
};

/// A registered handler: exactly one of the two is set.
struct handler_slot {
  std::shared_ptr<const job_handler> plain;
  std::shared_ptr<const coroutine_job_handler> coroutine;
};

struct reserve_slot;

/// The strand-only record of one reserved job.
struct job_entry {
  enum class phase : std::uint8_t {
    identifying,  ///< waiting for stats-job
    running,      ///< the handler runs
    settling,     ///< the final command is on its way
    done,
  };

  explicit job_entry(const worker_strand& strand) : keepalive(strand) {}

  std::shared_ptr<job_shared> shared;
  reserve_slot* owner = nullptr;
  phase ph = phase::identifying;
  bool have_stats = false;
  bool lost = false;
  bool abandoned = false;
  bool handler_running = false;
  bool touch_in_flight = false;
  bool corrupt = false;     ///< reserved with a torn body (errc::corrupt_job): to be buried
  unsigned generation = 1;  ///< reservations of this job seen by the worker (adoption bumps it)
  unsigned stats_attempts = 0;
  std::chrono::seconds ttr{1};
  worker_clock::time_point ttr_base;  ///< when the time to run last (re)started, at the latest
  worker_clock::time_point started;   ///< when the handler started
  std::chrono::milliseconds pause_after{0};  ///< the slot rests this long after the job
  const char* owed = nullptr;  ///< the final command on its way ("delete", ...), while settling
  asio::steady_timer keepalive;
  std::shared_ptr<coroutine_state> coroutine;

  job_id id() const noexcept { return shared->job_.id; }
  job_key key() const noexcept { return {shared->server_, shared->job_.id}; }
  /// The metrics key: the tube once known.
  std::string tube_key() const { return have_stats ? shared->tube_.str() : std::string("?"); }
};

/// One of the N reserve loops.
struct reserve_slot {
  explicit reserve_slot(const worker_strand& strand) : pause(strand) {}
  asio::cancellation_signal cancel;
  asio::steady_timer pause;
  bool reserving = false;
  bool pausing = false;
  std::shared_ptr<job_entry> current;
};

/// Makes the engine's job source on the engine's strand, reporting client events to `on_event`.
using source_factory = std::function<std::unique_ptr<job_source>(
    worker_strand strand, const async_client_options& options, job_source::event_fn on_event)>;

class worker_impl : public std::enable_shared_from_this<worker_impl> {
 public:
  worker_impl(asio::any_io_executor ex, source_factory make_source, worker_options options);
  ~worker_impl();
  /// Second phase of construction (needs `weak_from_this`).
  void init();

  // ---- any thread
  void add_handler(const tube_name& tube, handler_slot handler);
  void start(run_completion done);
  void request_stop(bool immediate);
  void destroy();
  void set_handle_signals(bool on) { handle_signals_ = on; }
  worker_metrics metrics() const { return metrics_.snapshot(); }
  std::uint16_t metrics_port() const noexcept { return metrics_port_; }

  // ---- strand (called through the gate by job_shared)
  void on_touch_request(const std::shared_ptr<job_shared>& shared);
  void on_handler_done(const std::shared_ptr<job_shared>& shared, handler_result result);

 private:
  enum class run_state : std::uint8_t { idle, starting, running, draining, stopping_now, finished };

  void on_start(run_completion done);
  void on_connected(std::error_code ec);
  /// The first connection failed: waits for the client's next attempt (`wait_for_server`) or
  /// ends the run. Posted after the failure, so that the client's events about it came first.
  void after_connect_failure(std::error_code ec);
  void on_setup_step(std::error_code ec);
  void begin_running();
  void install_signals();
  void wait_signal();

  void reserve_next(reserve_slot& s);
  void pause_then_reserve(reserve_slot& s, std::chrono::milliseconds d);
  void on_reserved(reserve_slot& s, std::error_code ec, std::optional<source_job> j);
  void take_job(reserve_slot& s, source_job j, bool corrupt = false);
  void adopt(const std::shared_ptr<job_entry>& e);
  void request_stats(const std::shared_ptr<job_entry>& e);
  void on_stats(const std::shared_ptr<job_entry>& e, std::error_code ec, proto::job_stats st);
  void start_handler(const std::shared_ptr<job_entry>& e, const handler_slot& h);
  /// Hands a finished handler's result to the worker's strand (through the job's gate, which
  /// drops it if the worker is gone). Called on the handler's thread.
  static void report_done(std::shared_ptr<job_shared> shared, handler_result result);

  void arm_keepalive(const std::shared_ptr<job_entry>& e);
  void send_touch(const std::shared_ptr<job_entry>& e);
  void mark_lost(const std::shared_ptr<job_entry>& e, std::error_code why);

  void send_command(const std::shared_ptr<job_entry>& e, final_command a);
  /// Buries a job the server sent torn (`errc::corrupt_job`): no handler can run it, and
  /// released it would come straight back. Counted and reported as `buried`.
  void bury_corrupt(const std::shared_ptr<job_entry>& e, priority pri);
  /// Gives the job back to the server (release), counted and reported as `released`.
  void release_job(const std::shared_ptr<job_entry>& e, priority pri, std::string reason,
                   std::chrono::seconds delay = std::chrono::seconds{0});
  void on_command_done(const std::shared_ptr<job_entry>& e, const final_command& a,
                       unsigned generation, std::error_code ec);
  void settle(const std::shared_ptr<job_entry>& e);

  void on_stop_request(bool immediate, const char* why);
  void begin_drain(const char* why);
  void stop_now(const char* why);
  void cancel_reserves();
  /// After an immediate stop: lets the final commands on their way be answered, but only while
  /// the main connection is up and for `final_command_window` at most; then `give_up_settling`.
  void bound_settling();
  /// Ends the run now: the jobs whose final command was not answered are reported (`lost`,
  /// with what was owed) and left to the server, which takes them back when the connections
  /// close.
  void give_up_settling();
  void abandon(const std::shared_ptr<job_entry>& e, const char* why);
  /// Asks a coroutine handler, on its own strand, to stop (terminal cancellation).
  static void cancel_coroutine(const job_entry& e);
  void maybe_finish();
  void finish(std::error_code ec);
  void on_destroy();

  void on_client_event(std::size_t server, const client_event& ev);
  /// Whether any server's main connection is up (from the client events).
  bool any_up() const noexcept;
  void emit(worker_event ev);
  worker_event event(worker_event::kind what, const job_entry* e = nullptr) const;
  double random_unit();

  asio::any_io_executor executor_;
  worker_strand strand_;
  source_factory make_source_;
  worker_options options_;
  std::atomic<bool> handle_signals_{false};
  std::atomic<bool> run_requested_{false};
  std::uint16_t metrics_port_ = 0;
  metrics_registry metrics_;

  // Set before the run (under the start protocol), read on the strand afterwards.
  std::map<tube_name, handler_slot> handlers_;

  // Strand only.
  std::shared_ptr<post_gate> gate_;
  std::unique_ptr<job_source> source_;
  std::shared_ptr<metrics_server> metrics_server_;
  std::optional<asio::signal_set> signals_;
  unsigned signals_seen_ = 0;
  std::unique_ptr<handler_pool> pool_;
  std::vector<std::unique_ptr<reserve_slot>> slots_;
  std::unordered_map<job_key, std::shared_ptr<job_entry>, job_key_hash> entries_;
  asio::steady_timer grace_timer_;
  asio::steady_timer settle_timer_;
  run_state state_ = run_state::idle;
  std::vector<bool> up_;    ///< each server's main connection is up (from its events)
  bool retry_due_ = false;  ///< the client announced a reconnect attempt not yet made
  bool stop_early_ = false;
  bool setup_failed_ = false;
  std::size_t pending_setup_ = 0;
  worker_clock::time_point last_activity_{};
  std::optional<run_completion> run_done_;
  std::minstd_rand rng_;
};

std::shared_ptr<worker_impl> make_worker_impl(asio::any_io_executor ex, endpoint ep,
                                              worker_options options);
std::shared_ptr<worker_impl> make_worker_impl(asio::any_io_executor ex,
                                              std::vector<pool_server> servers,
                                              worker_options options);

}  // namespace beanpole::detail
