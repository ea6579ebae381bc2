// The worker runner: the loop every beanstalkd consumer writes, done once and done right.
//
// A `beanpole::worker` reserves jobs from the tubes it has handlers for, runs the handlers (up to
// N at once), keeps each job's time to run alive while its handler runs, settles the job from the
// handler's result (delete, release with backoff, bury after too many attempts), stops gracefully
// and counts what it does.
//
//   asio::io_context io;
//   beanpole::worker w(io.get_executor(), beanpole::endpoint::tcp("127.0.0.1"));
//   w.handle("emails", [](beanpole::job_context& job) -> asio::awaitable<void> {
//     co_await send_email(job.body());   // throws on failure: the job is retried later
//   });
//   w.async_run([](std::error_code) {});
//   io.run();
//
// Design
// ------
// Connections. The worker owns one `async_client` (reconnect always on). Each of its N slots
// waits in `reserve-with-timeout` (`reserve_timeout`, 1 s by default) on a reserve connection of
// its own, so a job stays on the connection that reserved it and every touch, delete, release
// and bury for it goes there; `stats-job` goes to the main connection. The client's watch list
// is exactly the registered tubes: "default" is ignored unless a handler is registered for it.
//
// Per job: reserve -> `stats-job` (to learn the tube, ttr, priority and `reserves`) -> handler ->
// one final command. Until `stats-job` answers, the worker assumes the shortest time to run (1 s)
// and touches accordingly, so a slow answer never costs the reservation.
//
// Handlers. Per tube, either a plain function `void(job_context&)`, run on a thread pool of the
// worker's own (`handler_threads`, default `concurrency`), so it may block; or a coroutine
// `asio::awaitable<void>(job_context&)`, run on a strand of the worker's executor, so it must
// not block. The handler succeeds by returning; it fails by throwing or by calling
// `job_context::fail`. It may also decide explicitly: `remove`, `release` (delay, priority) or
// `bury`; the last decision made wins, and it is carried out after the handler returns (even if
// it then throws).
//
// Outcomes. Success deletes the job. Failure buries the job when the server's `reserves` count
// for it (from `stats-job`: this survives worker restarts) has reached `max_attempts`, and
// otherwise releases it with the job's own priority and a delay from `backoff` (a
// `beanpole::backoff`, rounded to whole seconds: see `decide_failure`). A job the worker
// cannot hand to a handler (no handler for its tube, or `stats-job` failed three times) is
// released, never dropped: with the backoff delay when there is no handler, at once otherwise
// (with priority 1024 if the priority could not be learned: `release` needs one).
//
// Time to run. While a handler runs, the worker touches the job every
// `keepalive_interval(ttr, touch_margin)`: max(ttr - margin, ttr / 2), counted from when the
// previous touch was sent (or the reservation arrived), i.e. 500 ms for ttr 1 s, 1 s for ttr 2 s
// and 59 s for ttr 60 s with the default 1 s margin. The server times a job out when
// `reserve time + ttr` has passed (nanosecond clock; ttr counts in whole seconds, and is at
// least 1 s); its own one-second "safety margin" only shapes DEADLINE_SOON, which the server
// sends in reply to a `reserve` on the connection that holds the job. A worker's job sits alone
// on its reserve connection, which sends no reserve while it holds the job, so DEADLINE_SOON
// cannot reach it: the schedule above touches well before the deadline instead. A handler can
// ask for a touch at once with `job_context::touch` (needed when `auto_touch` is off).
//
// Stopping. `stop()` (thread-safe), SIGINT/SIGTERM when `handle_signals` is set, or
// `stop_when_idle`: no new job is reserved (waiting reserves are cancelled, which closes their
// connections so the server releases a job it was handing over), jobs not yet handed to a
// handler are released at once, running handlers see `job_context::stopping()` and may finish
// within `grace`. When the grace period ends (or at once with `stop_now()`, a second `stop()`
// or a second signal) every handler still running is abandoned: its job is released (delay 0,
// its own priority), its `job_context::stop_token()` is signalled and a coroutine handler gets a
// terminal cancellation. Then the run completes and every connection is closed.
// The grace period bounds the whole stop, settling included. Final commands (delete, release,
// bury) still unanswered when it ends, or at an immediate stop, get at most one more second
// while the main connection is up, and none while it is down (the server is gone: waiting for
// it could last forever). Each job whose command went unanswered is reported as `lost` (its
// `message` names the command) and left to the server, which takes it back when the
// connection closes: a job whose delete was owed may then run again.
//
// A thread cannot be killed: a plain-function handler still running when the run completes
// keeps running on a detached thread until it returns. Its result, and anything it does through
// its `job_context` (touch, fail, ...), is ignored: the job was released and may already be with
// another worker. The handler object and the context stay alive until it returns (the worker
// shares their ownership with that thread), but anything else it refers to must outlive it, or
// it must return soon after its stop token is signalled. A coroutine handler that ignores the
// cancellation keeps running on the executor in the same way.
//
// Lost connections. If the connection holding a job drops, the server releases the job: the
// client reports `client_event::kind::lost_reservation` and the worker marks the job lost
// (`job_context::lost()`; counted in `lost`). Its handler is left to finish; no touch, release
// or bury is sent for it afterwards (they would fail: the job is not ours any more). On success
// the worker still sends `delete`, which the server honours if the job is ready, delayed or
// buried again (no double processing), and answers NOT_FOUND (counted as lost, harmless) if
// another worker holds it. If a slot of this same worker reserves the lost job again while the
// first handler still runs, the new reservation is handed to that running handler instead of
// starting a second one ("adopted"), and the final command then goes through the new
// connection. Any command for a job that fails (NOT_FOUND, connection lost, timeout) is counted,
// reported through `on_event` and never crashes the worker or settles the job twice.
//
// Several servers. Built on a list of `pool_server`s, the worker uses them as one queue: it owns
// an `async_pool` (see beanpole/pool.hpp) instead of one client, and everything above holds per
// job. Each slot's reserve is one pool reserve: it sweeps the servers that are up with
// `reserve-with-timeout 0`, starting at a different server each time so that none starves, and
// has at most one reserve command out, so a slot never holds more than one job and the worker
// never more than `concurrency`; a job a server hands over after its slot stopped waiting is
// released at once. Every touch, delete, release and bury of a job goes to the server (and the
// connection) that holds it; `job_context::server()` and `worker_event::server` name it. A server
// that goes down is skipped while its client reconnects with the capped backoff of
// `client.reconnect`, for as long as the worker runs; its jobs in flight are lost (the server
// takes them back, as on one server) and it is reserved from again once it is back. The run
// starts once one server is up (or, with `wait_for_server`, keeps waiting for one), and the
// immediate stop's one more second for final commands applies while any server is up.
//
// Observability: `metrics()` (a snapshot, thread-safe), `format_metrics` for humans,
// `prometheus_text`, and with `metrics_port` set, a tiny HTTP responder on 127.0.0.1 serving
// `GET /metrics` in the Prometheus text format; `on_event` for logs.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/dispatch.hpp>
#include <asio/execution/outstanding_work.hpp>
#include <asio/io_context.hpp>
#include <asio/prefer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "beanpole/async_client.hpp"
#include "beanpole/backoff.hpp"
#include "beanpole/endpoint.hpp"
#include "beanpole/metrics.hpp"
#include "beanpole/pool_types.hpp"
#include "beanpole/proto/stats.hpp"
#include "beanpole/types.hpp"

namespace beanpole {

namespace detail {
class worker_impl;
class job_shared;
}  // namespace detail

/// What the worker does with a job whose handler failed.
struct failure_action {
  /// Bury the job (it has been reserved `max_attempts` times); otherwise release it.
  bool bury = false;
  /// The release delay in whole seconds (zero when burying).
  std::chrono::seconds delay{0};

  /// Equal when both fields are.
  friend bool operator==(const failure_action&, const failure_action&) = default;
};

/// The worker's decision for a failed job that the server has reserved `reserves` times: bury it
/// once `reserves >= max_attempts` (`max_attempts` 0 means never), else release it after
/// `rule.delay(reserves, unit_random)` rounded to the nearest whole second (beanstalkd delays
/// are whole seconds). Pure.
failure_action decide_failure(std::uint64_t reserves, std::uint32_t max_attempts,
                              const backoff& rule, double unit_random) noexcept;

/// How long after a job's time to run was (re)started the worker touches it again:
/// `max(ttr - margin, ttr / 2)`, where a `ttr` of zero counts as 1 s (the server's minimum).
/// Pure.
std::chrono::milliseconds keepalive_interval(std::chrono::seconds ttr,
                                             std::chrono::milliseconds margin) noexcept;

/// Something the worker did, for logs. Delivered to `worker_options::on_event` on the worker's
/// strand; the callback must not block or throw.
struct worker_event {
  /// The kinds of events.
  enum class kind : std::uint8_t {
    started,         ///< connected and watching the tubes; the slots are reserving
    reserved,        ///< a job was reserved and identified (`job`, `tube`, `attempt`)
    adopted,         ///< a lost job came back to this worker while its handler still ran
    deleted,         ///< the job was deleted
    failed,          ///< the handler failed (`message`: the exception's text or `fail`'s reason)
    retried,         ///< the failed job was released with `delay`
    buried,          ///< the job was buried (`error` is `errc::corrupt_job` for a job whose
                     ///< body the server sent torn: buried at once, no handler runs; `message`)
    released,        ///< the job was released for another reason (`message` says which)
    lost,            ///< the worker no longer holds the job (`error` says why)
    abandoned,       ///< the handler outlived the grace period; its job is being released
    command_failed,  ///< a command of the worker failed (`error`, `message`: which command)
    stopping,        ///< a stop was requested (`message`: "graceful" or "immediate")
    stopped,         ///< the run is over (`error`: why, if it ended by an error)
    connection,      ///< something happened to the client's connections: see `client`
  };
  /// What happened.
  kind what = kind::started;
  /// The job concerned (zero for worker-wide events).
  job_id job{};
  /// On a worker over several servers, the server of `job` (its `pool_server::name`), or the
  /// server a `connection` event is about; empty on one server.
  std::string server;
  /// The job's tube, once `stats-job` has told it (empty otherwise).
  std::string tube;
  /// The server's `reserves` count for the job when it was reserved (0 when unknown).
  std::uint64_t attempt = 0;
  /// The release delay (`retried`, `released`).
  std::chrono::seconds delay{0};
  /// Why a command failed, a reservation was lost or the run ended.
  std::error_code error;
  /// Details for humans: the handler's failure, the reason of a release, the failed command.
  std::string message;
  /// The client's event (`connection` only).
  client_event client{};
};

/// Options of a worker. Every field has a default; set fields one by one.
struct worker_options {
  /// Jobs handled at once (reserve slots). Default 1; zero counts as 1.
  std::size_t concurrency = 1;
  /// Threads that run plain-function handlers. Default 0: as many as `concurrency`. Not created
  /// when only coroutine handlers are registered.
  std::size_t handler_threads = 0;
  /// A failed job is buried once the server has reserved it this many times. Default 5; zero
  /// means never bury (retry forever).
  std::uint32_t max_attempts = 5;
  /// Release delays of failed jobs: the delay after the n-th reservation failed is
  /// `backoff.delay(n, u)` for a random `u`, rounded to the nearest whole second (beanstalkd
  /// delays are whole seconds, so a sub-second `initial` may round to 0: retried at once).
  /// Default: 1 s doubling up to 300 s, jitter 0.2. An `initial` of zero retries at once.
  beanpole::backoff backoff{std::chrono::seconds{1}, std::chrono::seconds{300}, 0.2};
  /// How long running handlers may take to finish once a stop is requested. Default 30 s; zero
  /// releases them at once.
  std::chrono::seconds grace{30};
  /// The wait of each `reserve-with-timeout`; a slot reserves again after it. Bounds how stale
  /// `stop_when_idle` can be. Default 1 s; zero counts as 1 s.
  std::chrono::seconds reserve_timeout{1};
  /// Touch running jobs before their time to run ends (see the file comment). Default on.
  bool auto_touch = true;
  /// How long before the time to run ends the worker touches (capped at half the time to run).
  /// Default 1 s.
  std::chrono::milliseconds touch_margin{1000};
  /// Stop gracefully on the first SIGINT or SIGTERM, at once on the second. Default off (also
  /// see `worker::run_until_signal`). The signals are handled only while the run lasts.
  bool handle_signals = false;
  /// When the server cannot be reached at start, keep trying (the client's reconnect backoff
  /// and bounds, `client.reconnect`: the same rule as after a drop) instead of completing the
  /// run with the connect error; each attempt is reported as a `connection` event
  /// (`client_event::kind::reconnecting`). The run completes with the error only when the
  /// client gives up. A stop while waiting ends the run at once. Default off.
  bool wait_for_server = false;
  /// Stop gracefully once no job has been reserved for this long and none is running. Default
  /// zero: never.
  std::chrono::seconds stop_when_idle{0};
  /// Serve `GET /metrics` (Prometheus text format) on 127.0.0.1 at this port; 0 picks a free
  /// port (see `worker::metrics_port`). Default: no HTTP server.
  std::optional<std::uint16_t> metrics_port;
  /// Options of the worker's client (timeouts, limits, reconnect backoff). The worker always
  /// turns `reconnect.enabled` on, and wraps `on_event` (still called with every client event).
  async_client_options client{};
  /// Called with every `worker_event`, on the worker's strand; must not block or throw.
  /// Default none.
  std::function<void(const worker_event&)> on_event;
};

/// What a handler gets: the job, what the server knows of it, and the ways to settle it.
///
/// The context lives until the handler returns (a coroutine handler: until its awaitable
/// completes); do not keep references to it beyond that.
///
/// Thread safety: every member may be called from any thread (a plain-function handler may hand
/// work to other threads). The decisions (`fail`, `remove`, `release`, `bury`) are recorded and
/// carried out once the handler returns; the last one made wins. Once the worker has abandoned
/// the handler (`stop_token()` signalled) or the run is over, they and `touch` do nothing.
class job_context {
 public:
  /// Not copyable: the worker owns the one context of each run.
  job_context(const job_context&) = delete;
  /// Not copyable.
  job_context& operator=(const job_context&) = delete;

  /// The job's id (on its server).
  job_id id() const noexcept;
  /// On a worker over several servers, the name of the job's server (`pool_server::name`; the
  /// job's `ADDR/ID` is this, a slash and `id()`); empty on one server.
  const std::string& server() const noexcept;
  /// The job's body, byte for byte.
  const std::string& body() const noexcept;
  /// The tube the job came from.
  const tube_name& tube() const noexcept;
  /// How many times the server has reserved the job, this time included (`reserves` of
  /// `stats-job`): 1 on the first attempt.
  std::uint64_t attempt() const noexcept;
  /// The job's time to run.
  std::chrono::seconds ttr() const noexcept;
  /// The job's priority.
  priority pri() const noexcept;
  /// Everything `stats-job` said when the job was reserved.
  const proto::job_stats& stats() const noexcept;

  /// Whether the worker is stopping: finish soon (within the grace period).
  bool stopping() const noexcept;
  /// Signalled when the worker gives up on this handler (grace period over, or `stop_now`): the
  /// job has been released and the handler's result will be ignored. Use with
  /// `std::stop_callback` to interrupt blocking work (e.g. kill a child process).
  std::stop_token stop_token() const noexcept;
  /// Whether the worker lost the reservation (connection dropped, time to run ran out): the
  /// server has released the job, and another worker may be running it.
  bool lost() const noexcept;

  /// Touches the job now (restarting its time to run) instead of waiting for the automatic touch.
  /// Returns at once; the touch is sent by the worker.
  void touch();
  /// Marks the run as failed: retried with backoff, or buried after `max_attempts`. `reason` is
  /// reported in `worker_event::failed`.
  void fail(std::string reason = {});
  /// Deletes the job when the handler returns (what returning normally does anyway).
  void remove();
  /// Releases the job when the handler returns, ready after `delay`, with priority `pri` (the
  /// job's own priority when empty). Does not count as a failure.
  void release(std::chrono::seconds delay = {}, std::optional<priority> pri = {});
  /// Buries the job when the handler returns, with priority `pri` (the job's own when empty).
  void bury(std::optional<priority> pri = {});

 private:
  /// Only the worker makes contexts: one for each job it hands to a handler.
  friend class detail::job_shared;
  explicit job_context(detail::job_shared& owner) noexcept : owner_(&owner) {}
  detail::job_shared* owner_;
};

/// A plain-function handler: runs on the worker's thread pool and may block.
using job_handler = std::function<void(job_context&)>;
/// A coroutine handler: runs on a strand of the worker's executor and must not block.
using coroutine_job_handler = std::function<asio::awaitable<void>(job_context&)>;

namespace detail {
/// A move-only `void(std::error_code)` callable (Asio 1.22 has no `any_completion_handler`).
class run_completion {
 public:
  /// Wraps `f`, a callable as `void(std::error_code)`.
  template <class F>
  explicit run_completion(F f) : fn_(std::make_unique<model<F>>(std::move(f))) {}
  /// Calls the function once.
  void operator()(std::error_code ec) {
    auto fn = std::move(fn_);
    fn->call(ec);
  }
  /// Whether there is a function to call (false once called).
  explicit operator bool() const noexcept { return fn_ != nullptr; }

 private:
  struct concept_t {
    virtual ~concept_t() = default;
    virtual void call(std::error_code ec) = 0;
  };
  template <class F>
  struct model final : concept_t {
    explicit model(F f) : f_(std::move(f)) {}
    void call(std::error_code ec) override { f_(ec); }
    F f_;
  };
  std::unique_ptr<concept_t> fn_;
};

/// Starts the run of `impl`; `done` is called once when it is over. Any thread.
void start_run(const std::shared_ptr<worker_impl>& impl, run_completion done);
}  // namespace detail

/// Runs handlers for the jobs of the tubes it watches. See the file comment for the design.
///
/// Lifetime: the worker must be destroyed before its executor's execution context (the
/// `io_context`). Destroying a worker that is running stops it at once: its connections are
/// closed (so the server releases the jobs it held) and the run completes with
/// `asio::error::operation_aborted`.
///
/// Thread safety: `stop`, `stop_now`, `metrics` and `metrics_port` may be called from any thread
/// at any time. `handle` must be called before the run starts, from one thread.
class worker {
 public:
  /// The type of the executor the worker's I/O runs on.
  using executor_type = asio::any_io_executor;

  /// A worker whose I/O and coroutine handlers run on `ex` (the caller runs its context). Binds
  /// the metrics port, if any, at once: throws `std::system_error` if it cannot.
  worker(executor_type ex, endpoint ep, worker_options options = {});
  /// A worker with an `io_context` of its own, run by `run()` on the calling thread.
  explicit worker(endpoint ep, worker_options options = {});
  /// A worker on several servers used as one queue (a pool of its own, see the file comment,
  /// "Several servers"): I/O and coroutine handlers run on `ex`. `options.client` configures
  /// each server's client. Throws `beanpole::error` with `errc::invalid_address` for an empty
  /// list or a duplicate name, and `std::system_error` if the metrics port cannot be bound.
  worker(executor_type ex, std::vector<pool_server> servers, worker_options options = {});
  /// A worker on several servers with an `io_context` of its own, run by `run()`.
  explicit worker(std::vector<pool_server> servers, worker_options options = {});
  /// Stops a running worker at once (see the class comment).
  ~worker();
  /// Not copyable (nor movable: handlers and timers refer to the engine it owns).
  worker(const worker&) = delete;
  /// Not copyable.
  worker& operator=(const worker&) = delete;

  /// The executor the worker's I/O runs on.
  executor_type get_executor() const noexcept { return executor_; }

  /// Registers `handler` for the jobs of `tube` (replacing an earlier one). `handler` is either
  /// a plain function `void(job_context&)` or a coroutine `asio::awaitable<void>(job_context&)`.
  /// Throws `std::logic_error` once the run has started.
  template <class Handler>
  void handle(const tube_name& tube, Handler&& handler) {
    using result = std::invoke_result_t<Handler&, job_context&>;
    if constexpr (std::is_same_v<result, asio::awaitable<void>>) {
      handle_coroutine(tube, coroutine_job_handler(std::forward<Handler>(handler)));
    } else {
      static_assert(std::is_void_v<result>,
                    "a handler returns void or asio::awaitable<void> and takes job_context&");
      handle_plain(tube, job_handler(std::forward<Handler>(handler)));
    }
  }

  /// Connects, watches the registered tubes and runs until stopped.
  ///
  /// Completion: `void(std::error_code)`: empty after a stop; the connect error when the first
  /// connection fails (later drops are reconnected; with `wait_for_server`, only once the
  /// client gives up); `std::errc::resource_unavailable_try_again` when the handler threads
  /// cannot be created; `std::errc::invalid_argument` when no
  /// handler is registered; `asio::error::already_started` on a second call;
  /// `asio::error::operation_aborted` when the worker is destroyed meanwhile. By then every job
  /// the worker held has been deleted, released or buried, or its connection closed.
  /// Cancellation: none (call `stop()`). The worker must outlive the operation.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_run(Token&& token = {}) {
    return asio::async_initiate<Token, void(std::error_code)>(
        [impl = impl_, ex = executor_](auto handler) {
          auto work = asio::prefer(asio::get_associated_executor(handler, ex),
                                   asio::execution::outstanding_work.tracked);
          detail::start_run(
              impl, detail::run_completion(
                        [h = std::move(handler), w = std::move(work)](std::error_code ec) mutable {
                          asio::dispatch(w, [h = std::move(h), ec]() mutable { std::move(h)(ec); });
                        }));
        },
        token);
  }

  /// Runs until stopped, blocking the calling thread. With the worker's own `io_context`, runs it
  /// here; otherwise the executor must be run by other threads meanwhile. Throws
  /// `beanpole::error` (a `std::system_error`) with the completion's error.
  void run();
  /// `run()` with SIGINT/SIGTERM handling on (see `worker_options::handle_signals`).
  void run_until_signal();

  /// Stops gracefully (see the file comment). A second call stops at once. Returns at once.
  void stop();
  /// Stops at once: running handlers are abandoned and their jobs released. Returns at once.
  void stop_now();

  /// A snapshot of the counters.
  worker_metrics metrics() const;
  /// The port the metrics HTTP server listens on (127.0.0.1), or 0 when there is none.
  std::uint16_t metrics_port() const noexcept;

 private:
  void handle_plain(const tube_name& tube, job_handler handler);
  void handle_coroutine(const tube_name& tube, coroutine_job_handler handler);

  std::unique_ptr<asio::io_context> own_io_;  // declared first: destroyed last
  executor_type executor_;
  std::shared_ptr<detail::worker_impl> impl_;
};

}  // namespace beanpole
