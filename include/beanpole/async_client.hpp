// The async client: every command as an Asio asynchronous operation, pipelined, with reserves
// that never hold up other work, client-managed tube state, reconnect, timeouts, cancellation.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "beanpole/backoff.hpp"
#include "beanpole/detail/async_completion.hpp"
#include "beanpole/detail/async_core.hpp"
#include "beanpole/endpoint.hpp"
#include "beanpole/error.hpp"
#include "beanpole/options.hpp"
#include "beanpole/proto/commands.hpp"
#include "beanpole/put_body.hpp"
#include "beanpole/types.hpp"

namespace beanpole {

/// Automatic reconnection: capped exponential backoff with jitter, and when to give up.
///
/// While the client waits to reconnect, commands wait for the connection, but none waits past
/// its deadline: a command that has waited `reply_timeout` for a connection fails with
/// `errc::not_connected` (nothing was sent, so it is safe to retry).
struct reconnect_options {
  /// Whether the client reconnects by itself after a connection drops. Default off: a dropped
  /// connection fails what was in flight and later commands fail with `errc::not_connected`.
  bool enabled = false;
  /// The wait before each attempt (the library's one backoff rule, `beanpole::backoff`).
  /// Default: 100 ms, doubling up to 5 s, each shortened by up to half at random.
  backoff wait{std::chrono::milliseconds{100}, std::chrono::milliseconds{5000}, 0.5};
  /// Most attempts in a row before giving up (`client_event::kind::gave_up`; waiting commands
  /// fail, and later ones fail with `errc::not_connected` until `async_connect` is called
  /// again). Default 0: no limit.
  unsigned max_attempts = 0;
  /// Longest time to keep trying, counted from the first failure. Default 0: no limit.
  std::chrono::milliseconds give_up_after{0};
};

/// Something that happened to the client's connections, for logs and metrics.
struct client_event {
  /// What happened.
  enum class kind : std::uint8_t {
    connected,         ///< the first connection of `async_connect` is up
    disconnected,      ///< a connection dropped; `error` says why
    reconnecting,      ///< an attempt is about to start after `backoff`; `attempt` counts from 1
    reconnected,       ///< the connection is back and its use/watch state is restored
    lost_reservation,  ///< `job` was reserved on a connection that dropped: the server released it
    gave_up,           ///< reconnecting stopped (`reconnect_options` bounds); `error` says why
    reserve_queued,    ///< a waiting reserve waits for a reserve connection: all
                       ///< `max_reserve_connections` are taken (it still ends by its own timeout)
    draining,          ///< the server answered a put DRAINING: it takes no puts until restarted
                       ///< (emitted for each such reply, before the put completes)
  };
  /// What happened.
  kind what = kind::connected;
  /// Why, for `disconnected`, `reconnecting`, `lost_reservation` and `gave_up`; else empty.
  std::error_code error;
  /// The job, for `lost_reservation`; else 0.
  job_id job{};
  /// The attempt number (from 1), for `reconnecting`; else 0.
  unsigned attempt = 0;
  /// The wait before that attempt, for `reconnecting`; else 0.
  std::chrono::milliseconds backoff{0};
};

/// The event's name, as spelled in `client_event::kind` ("reconnecting"), for logs.
std::string_view to_string(client_event::kind what) noexcept;

/// Options of the async client; the connection options (timeouts, limits) plus:
struct async_client_options : connection_options {
  /// Most commands written to the main connection and not yet answered. Commands beyond it wait
  /// in the client, unwritten. A thread that is not running the client's executor and submits
  /// while that many more are already waiting blocks until there is room (back-pressure), so a
  /// producer that fires commands without awaiting them cannot make the client grow without
  /// limit. Calls made on the executor's own threads never block; they queue. Default 2048:
  /// beanstalkd needs a deep pipeline to stay busy (with 1024 it ran 40% slower here).
  std::size_t max_in_flight = 2048;
  /// Most connections opened for reserves that may wait (see `async_reserve`). A waiting reserve
  /// beyond it waits for a free one. Default 64.
  std::size_t max_reserve_connections = 64;
  /// Reconnection policy; off by default.
  reconnect_options reconnect{};
  /// Called with every `client_event`, on the client's strand; must not block. Default none.
  std::function<void(const client_event&)> on_event;
};

/// An asynchronous beanstalkd client built on Asio.
///
/// Every command is an `async_` function that takes an Asio completion token last, so one call
/// works with a callback, `asio::use_future`, `asio::use_awaitable` (C++20 coroutines) or
/// `asio::experimental::deferred` (as Asio 1.22,
/// Debian's, spells `asio::deferred`). Completion signatures are `void(std::error_code)` for
/// commands without a result and `void(std::error_code, T)` otherwise; errors are those of the
/// blocking client (category "beanpole"), plus `errc::connection_lost`, `errc::outcome_unknown` (a
/// put whose reply was lost: the job may exist), `errc::reply_timeout` and
/// `asio::error::operation_aborted`. Handlers run on their associated executor (the client's when
/// they have none).
///
/// Design:
/// - Pipelining. Commands go to one main connection as they are issued; commands issued close
///   together leave in one write, and replies are matched to commands in order.
/// - Waiting reserves get connections of their own. beanstalkd answers a connection's commands
///   in order, so a reserve waiting on the main connection would hold back every command behind
///   it. `async_reserve` and `async_reserve_with_timeout` with a non-zero timeout therefore run
///   on a reserve connection that holds nothing else; the job they return stays with that
///   connection (only it may delete, release, bury or touch the job, and the client routes those
///   actions there), and the connection takes a new waiting reserve once its jobs are finished.
///   `async_reserve_with_timeout(0s)` never waits and runs on the main connection.
/// - Tube state. `async_use`, `async_watch` and `async_ignore` update the client's own record
///   and send the command only when it changes something; every connection (main, reserve,
///   reconnected) is brought to that state before it sends anything that depends on it.
/// - Reconnect (opt-in): see `reconnect_options` and `client_event`. What was written but not
///   answered when a connection dropped fails with `errc::connection_lost`, or
///   `errc::outcome_unknown` for a put; nothing is retried behind the caller's back. Commands not
///   yet written wait for the new connection.
/// - Jobs held by a reserve connection are tracked until they are deleted, released, buried or
///   answered NOT_FOUND. A job left to run out its TTR would pin its connection; when every
///   reserve connection is taken, the client asks the server (`stats-job`, on the holding
///   connection) which held jobs are no longer reserved and frees those connections. (A job that
///   timed out and was reserved by another client still counts as held until acted on.) After a
///   `lost_reservation`, actions for that job go to the main connection: `delete` still works if
///   the job is ready, delayed or buried again; touch, release and bury get NOT_FOUND.
/// - A failed `async_connect` with reconnect enabled reports the failure and keeps retrying in
///   the background (within `reconnect_options::max_attempts` and `give_up_after`) until
///   `close()`. No command waits for a connection past its deadline: one that has waited
///   `reply_timeout` unwritten fails with `errc::not_connected` (nothing was sent).
/// - The rules behind all this are socket-free machines shared with the blocking client (see
///   the README's "How it works"): the Asio code only carries out what they decide.
/// - Timeouts: `connect_timeout` bounds each connection attempt; `reply_timeout` bounds each
///   reply (a reserve's own wait is added; a plain reserve has none). A reply timeout closes that
///   connection, since a late reply would answer the wrong command.
/// - Cancellation: waiting reserves support terminal, partial and total cancellation through the
///   handler's cancellation slot. The reserve's connection is closed, so a job the server hands
///   over at that moment is released by the server at once, never lost or held until its TTR.
///   Other commands are already on the wire and ignore cancellation.
///
/// `delete` is a C++ keyword: the command is spelled `async_remove`.
///
/// What a handler may capture: a handler always runs exactly once, also when the client closes
/// (with `operation_aborted`), possibly after the code that started the operation has moved on.
/// It must not capture references to locals whose scope may have ended by then, such as a
/// coroutine frame's or a function's locals when the operation is not awaited; capture by value
/// or through a `std::shared_ptr` instead.
///
/// Thread safety: every member function may be called from any thread at the same time; the
/// client serializes its own work on an internal strand, which runs inside the executor it is
/// given (so a client built on a strand runs in order with that strand's other work). The client
/// must outlive the calls it starts unless it is destroyed, which completes them with
/// `operation_aborted`.
class async_client {
 public:
  /// The executor type of the client (and of handlers without one of their own).
  using executor_type = asio::any_io_executor;

  /// A client that will talk to `ep`. Nothing happens until `async_connect`.
  async_client(executor_type ex, endpoint ep, async_client_options options = {});
  /// Closes all connections; pending operations complete with `operation_aborted`.
  ~async_client();
  async_client(const async_client&) = delete;
  async_client& operator=(const async_client&) = delete;

  /// The executor handlers without one of their own run on.
  executor_type get_executor() const noexcept { return executor_; }

  /// Connects the main connection. Commands issued before it completes wait for it. Safe to call
  /// again after a failure. `errc::invalid_address` for an endpoint that cannot be connected to
  /// (such as a Unix socket path too long for `sockaddr_un`), before any connect.
  /// - Completion: `void(std::error_code)`.
  /// - Cancellation: none; `close()` completes it with `operation_aborted`.
  /// - Must outlive the operation: nothing the caller passes: arguments are copied; the client,
  ///   unless it is closed or destroyed first (which completes the operation with
  ///   `operation_aborted`).
  /// - Threads: may be called from any thread; the handler runs on its associated executor.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_connect(Token&& token = {}) {
    return asio::async_initiate<Token, void(std::error_code)>(
        [core = core_](auto handler) {
          detail::connect(*core, make_completion<void(std::error_code)>(std::move(handler), *core));
        },
        token);
  }

  /// Closes every connection now; pending operations complete with `operation_aborted`.
  void close();

  /// Commands written to the main connection or waiting to be, not yet answered.
  std::size_t in_flight() const;

  /// Why a connection of the client last failed: the cause behind `errc::outcome_unknown`,
  /// `errc::connection_lost` and `errc::not_connected` (a reply timeout, a refused connect, a
  /// reply that broke the protocol with its first bytes). Safe from any thread.
  failure_info last_failure() const;

  // ------------------------------------------------------------------ producer commands

  /// `put`. The operation owns `body`, so nothing the caller holds needs to outlive the call,
  /// whatever the token (a deferred operation may start later): a `std::string` passed with
  /// `std::move` is taken without a copy (and a large one is written from where it is); anything
  /// else is copied at the call, a small body without an allocation (see `put_body`).
  /// `errc::buried` comes with the id of the (buried) job; `errc::outcome_unknown` means the
  /// connection dropped after the put was written: the job may or may not exist
  /// (`last_failure()` says why).
  /// - Completion: `void(std::error_code, job_id)`.
  /// - Cancellation: none: the command is on the wire as soon as it is issued (`close()` completes
  ///   it with `operation_aborted`).
  /// - Must outlive the operation: nothing the caller passes: the operation owns the body; the
  ///   client, unless it is closed or destroyed first (which completes the operation with
  ///   `operation_aborted`).
  /// - Threads: may be called from any thread; the handler runs on its associated executor.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_put(put_body body, const put_options& opts = {}, Token&& token = {}) {
    return submit(detail::owned_put_command{opts.pri, opts.delay, opts.ttr, std::move(body)},
                  std::forward<Token>(token), detail::op_route::main, {}, true);
  }

  /// `put` into `tube`: `use tube` then `put`, as one. No other command of this client comes
  /// between the two, so threads putting into different tubes at the same time each reach their
  /// own tube (separate `async_use` and `async_put` calls from two threads can interleave). The
  /// `use` is sent only when the client's used tube is another, and `tube` stays the used tube
  /// afterwards. Otherwise as `async_put` above.
  /// - Completion: `void(std::error_code, job_id)`.
  /// - Cancellation: none (see `async_put`).
  /// - Must outlive the operation: nothing the caller passes (see `async_put`).
  /// - Threads: may be called from any thread; the handler runs on its associated executor.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_put(const tube_name& tube, put_body body, const put_options& opts = {},
                 Token&& token = {}) {
    return submit_in(tube,
                     detail::owned_put_command{opts.pri, opts.delay, opts.ttr, std::move(body)},
                     std::forward<Token>(token), true);
  }

  /// `use`: later puts, peek-ready/-delayed/-buried and kicks act on `tube`.
  /// - Completion: `void(std::error_code)`.
  /// - Cancellation: none: the command is on the wire as soon as it is issued (`close()` completes
  ///   it with `operation_aborted`).
  /// - Must outlive the operation: nothing the caller passes: arguments are copied; the client,
  ///   unless it is closed or destroyed first (which completes the operation with
  ///   `operation_aborted`).
  /// - Threads: may be called from any thread; the handler runs on its associated executor.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_use(const tube_name& tube, Token&& token = {}) {
    return submit(proto::use_command{tube}, std::forward<Token>(token));
  }

  // -------------------------------------------------------------------- worker commands

  /// `reserve` on a reserve connection (it may wait forever; no reply timeout).
  ///
  /// A job whose body the server sent torn completes every reserve, reserve-job and peek with
  /// `errc::corrupt_job` AND the job (its id, an empty body); the connection stays usable. A
  /// reserve holds that job like any other: bury or delete it by id (its actions go to the
  /// connection that reserved it). With `use_awaitable` or `use_future` the error is thrown and
  /// the job is lost to the caller (not to the server: it goes back when its TTR runs out).
  /// - Completion: `void(std::error_code, job)`.
  /// - Cancellation: terminal, partial and total, through the handler's cancellation slot (see the
  ///   class comment).
  /// - Must outlive the operation: nothing the caller passes: arguments are copied; the client,
  ///   unless it is closed or destroyed first (which completes the operation with
  ///   `operation_aborted`).
  /// - Threads: may be called from any thread; the handler runs on its associated executor.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_reserve(Token&& token = {}) {
    return submit(proto::reserve_command{}, std::forward<Token>(token), detail::op_route::waiting);
  }

  /// `reserve-with-timeout`: the job, or an empty optional when no job came in time. Zero runs
  /// on the main connection; longer waits on a reserve connection. Its wait counts from the
  /// call, also while it queues for a reserve connection (all `max_reserve_connections` taken).
  /// - Completion: `void(std::error_code, std::optional<job>)`.
  /// - Cancellation: terminal, partial and total, through the handler's cancellation slot (see the
  ///   class comment) when the timeout is not zero; none for zero (it never waits).
  /// - Must outlive the operation: nothing the caller passes: arguments are copied; the client,
  ///   unless it is closed or destroyed first (which completes the operation with
  ///   `operation_aborted`).
  /// - Threads: may be called from any thread; the handler runs on its associated executor.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_reserve_with_timeout(std::chrono::seconds timeout, Token&& token = {}) {
    return submit(proto::reserve_with_timeout_command{timeout}, std::forward<Token>(token),
                  timeout.count() == 0 ? detail::op_route::main : detail::op_route::waiting);
  }

  /// `reserve-job` (1.12+).
  /// - Completion: `void(std::error_code, std::optional<job>)`.
  /// - Cancellation: none: the command is on the wire as soon as it is issued (`close()` completes
  ///   it with `operation_aborted`).
  /// - Must outlive the operation: nothing the caller passes: arguments are copied; the client,
  ///   unless it is closed or destroyed first (which completes the operation with
  ///   `operation_aborted`).
  /// - Threads: may be called from any thread; the handler runs on its associated executor.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_reserve_job(job_id id, Token&& token = {}) {
    return submit(proto::reserve_job_command{id}, std::forward<Token>(token));
  }

  /// `delete`, sent on the connection that holds the job.
  /// - Completion: `void(std::error_code)`.
  /// - Cancellation: none: the command is on the wire as soon as it is issued (`close()` completes
  ///   it with `operation_aborted`).
  /// - Must outlive the operation: nothing the caller passes: arguments are copied; the client,
  ///   unless it is closed or destroyed first (which completes the operation with
  ///   `operation_aborted`).
  /// - Threads: may be called from any thread; the handler runs on its associated executor.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_remove(job_id id, Token&& token = {}) {
    return submit(proto::delete_command{id}, std::forward<Token>(token),
                  detail::op_route::job_action, id);
  }

  /// `release`, on the connection that holds the job.
  /// - Completion: `void(std::error_code)`.
  /// - Cancellation: none: the command is on the wire as soon as it is issued (`close()` completes
  ///   it with `operation_aborted`).
  /// - Must outlive the operation: nothing the caller passes: arguments are copied; the client,
  ///   unless it is closed or destroyed first (which completes the operation with
  ///   `operation_aborted`).
  /// - Threads: may be called from any thread; the handler runs on its associated executor.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_release(job_id id, priority pri, std::chrono::seconds delay, Token&& token = {}) {
    return submit(proto::release_command{id, pri, delay}, std::forward<Token>(token),
                  detail::op_route::job_action, id);
  }

  /// `bury`, on the connection that holds the job.
  /// - Completion: `void(std::error_code)`.
  /// - Cancellation: none: the command is on the wire as soon as it is issued (`close()` completes
  ///   it with `operation_aborted`).
  /// - Must outlive the operation: nothing the caller passes: arguments are copied; the client,
  ///   unless it is closed or destroyed first (which completes the operation with
  ///   `operation_aborted`).
  /// - Threads: may be called from any thread; the handler runs on its associated executor.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_bury(job_id id, priority pri, Token&& token = {}) {
    return submit(proto::bury_command{id, pri}, std::forward<Token>(token),
                  detail::op_route::job_action, id);
  }

  /// `touch`, on the connection that holds the job.
  /// - Completion: `void(std::error_code)`.
  /// - Cancellation: none: the command is on the wire as soon as it is issued (`close()` completes
  ///   it with `operation_aborted`).
  /// - Must outlive the operation: nothing the caller passes: arguments are copied; the client,
  ///   unless it is closed or destroyed first (which completes the operation with
  ///   `operation_aborted`).
  /// - Threads: may be called from any thread; the handler runs on its associated executor.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_touch(job_id id, Token&& token = {}) {
    return submit(proto::touch_command{id}, std::forward<Token>(token),
                  detail::op_route::job_action, id);
  }

  /// `watch`: yields how many tubes are watched.
  /// - Completion: `void(std::error_code, std::size_t)`.
  /// - Cancellation: none: the command is on the wire as soon as it is issued (`close()` completes
  ///   it with `operation_aborted`).
  /// - Must outlive the operation: nothing the caller passes: arguments are copied; the client,
  ///   unless it is closed or destroyed first (which completes the operation with
  ///   `operation_aborted`).
  /// - Threads: may be called from any thread; the handler runs on its associated executor.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_watch(const tube_name& tube, Token&& token = {}) {
    return submit(proto::watch_command{tube}, std::forward<Token>(token));
  }

  /// `ignore`: yields how many tubes are watched; `errc::not_ignored` for the last watched tube.
  /// - Completion: `void(std::error_code, std::size_t)`.
  /// - Cancellation: none: the command is on the wire as soon as it is issued (`close()` completes
  ///   it with `operation_aborted`).
  /// - Must outlive the operation: nothing the caller passes: arguments are copied; the client,
  ///   unless it is closed or destroyed first (which completes the operation with
  ///   `operation_aborted`).
  /// - Threads: may be called from any thread; the handler runs on its associated executor.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_ignore(const tube_name& tube, Token&& token = {}) {
    return submit(proto::ignore_command{tube}, std::forward<Token>(token));
  }

  // --------------------------------------------------------------------- other commands

  /// `peek <id>`.
  /// - Completion: `void(std::error_code, std::optional<job>)`.
  /// - Cancellation: none: the command is on the wire as soon as it is issued (`close()` completes
  ///   it with `operation_aborted`).
  /// - Must outlive the operation: nothing the caller passes: arguments are copied; the client,
  ///   unless it is closed or destroyed first (which completes the operation with
  ///   `operation_aborted`).
  /// - Threads: may be called from any thread; the handler runs on its associated executor.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_peek(job_id id, Token&& token = {}) {
    return submit(proto::peek_command{id}, std::forward<Token>(token));
  }
  /// `peek-ready` / `peek-delayed` / `peek-buried` in the used tube.
  /// - Completion: `void(std::error_code, std::optional<job>)`.
  /// - Cancellation: none: the command is on the wire as soon as it is issued (`close()` completes
  ///   it with `operation_aborted`).
  /// - Must outlive the operation: nothing the caller passes: arguments are copied; the client,
  ///   unless it is closed or destroyed first (which completes the operation with
  ///   `operation_aborted`).
  /// - Threads: may be called from any thread; the handler runs on its associated executor.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_peek_state(proto::job_state state, Token&& token = {}) {
    return submit(proto::peek_state_command{state}, std::forward<Token>(token));
  }
  /// `peek-ready` / `peek-delayed` / `peek-buried` in `tube`: `use tube` then the peek, as one
  /// (see the `async_put` that takes a tube).
  /// - Completion: `void(std::error_code, std::optional<job>)`.
  /// - Cancellation: none (see `async_peek_state` above).
  /// - Must outlive the operation: nothing the caller passes: arguments are copied.
  /// - Threads: may be called from any thread; the handler runs on its associated executor.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_peek_state(const tube_name& tube, proto::job_state state, Token&& token = {}) {
    return submit_in(tube, proto::peek_state_command{state}, std::forward<Token>(token));
  }

  /// `kick`.
  /// - Completion: `void(std::error_code, std::uint64_t)`.
  /// - Cancellation: none: the command is on the wire as soon as it is issued (`close()` completes
  ///   it with `operation_aborted`).
  /// - Must outlive the operation: nothing the caller passes: arguments are copied; the client,
  ///   unless it is closed or destroyed first (which completes the operation with
  ///   `operation_aborted`).
  /// - Threads: may be called from any thread; the handler runs on its associated executor.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_kick(std::uint64_t bound, Token&& token = {}) {
    return submit(proto::kick_command{bound}, std::forward<Token>(token));
  }
  /// `kick` in `tube`: `use tube` then `kick`, as one (see the `async_put` that takes a tube).
  /// - Completion: `void(std::error_code, std::uint64_t)`.
  /// - Cancellation: none (see `async_kick` above).
  /// - Must outlive the operation: nothing the caller passes: arguments are copied.
  /// - Threads: may be called from any thread; the handler runs on its associated executor.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_kick(const tube_name& tube, std::uint64_t bound, Token&& token = {}) {
    return submit_in(tube, proto::kick_command{bound}, std::forward<Token>(token));
  }
  /// `kick-job`.
  /// - Completion: `void(std::error_code)`.
  /// - Cancellation: none: the command is on the wire as soon as it is issued (`close()` completes
  ///   it with `operation_aborted`).
  /// - Must outlive the operation: nothing the caller passes: arguments are copied; the client,
  ///   unless it is closed or destroyed first (which completes the operation with
  ///   `operation_aborted`).
  /// - Threads: may be called from any thread; the handler runs on its associated executor.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_kick_job(job_id id, Token&& token = {}) {
    return submit(proto::kick_job_command{id}, std::forward<Token>(token));
  }

  /// `stats-job`.
  /// - Completion: `void(std::error_code, proto::job_stats)`.
  /// - Cancellation: none: the command is on the wire as soon as it is issued (`close()` completes
  ///   it with `operation_aborted`).
  /// - Must outlive the operation: nothing the caller passes: arguments are copied; the client,
  ///   unless it is closed or destroyed first (which completes the operation with
  ///   `operation_aborted`).
  /// - Threads: may be called from any thread; the handler runs on its associated executor.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_stats_job(job_id id, Token&& token = {}) {
    return submit(proto::stats_job_command{id}, std::forward<Token>(token));
  }
  /// `stats-tube`.
  /// - Completion: `void(std::error_code, proto::tube_stats)`.
  /// - Cancellation: none: the command is on the wire as soon as it is issued (`close()` completes
  ///   it with `operation_aborted`).
  /// - Must outlive the operation: nothing the caller passes: arguments are copied; the client,
  ///   unless it is closed or destroyed first (which completes the operation with
  ///   `operation_aborted`).
  /// - Threads: may be called from any thread; the handler runs on its associated executor.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_stats_tube(const tube_name& tube, Token&& token = {}) {
    return submit(proto::stats_tube_command{tube}, std::forward<Token>(token));
  }
  /// `stats`.
  /// - Completion: `void(std::error_code, proto::server_stats)`.
  /// - Cancellation: none: the command is on the wire as soon as it is issued (`close()` completes
  ///   it with `operation_aborted`).
  /// - Must outlive the operation: nothing the caller passes: arguments are copied; the client,
  ///   unless it is closed or destroyed first (which completes the operation with
  ///   `operation_aborted`).
  /// - Threads: may be called from any thread; the handler runs on its associated executor.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_stats(Token&& token = {}) {
    return submit(proto::stats_command{}, std::forward<Token>(token));
  }

  /// `list-tubes`.
  /// - Completion: `void(std::error_code, std::vector<std::string>)`.
  /// - Cancellation: none: the command is on the wire as soon as it is issued (`close()` completes
  ///   it with `operation_aborted`).
  /// - Must outlive the operation: nothing the caller passes: arguments are copied; the client,
  ///   unless it is closed or destroyed first (which completes the operation with
  ///   `operation_aborted`).
  /// - Threads: may be called from any thread; the handler runs on its associated executor.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_list_tubes(Token&& token = {}) {
    return submit(proto::list_tubes_command{}, std::forward<Token>(token));
  }
  /// `list-tube-used` (main connection).
  /// - Completion: `void(std::error_code, std::string)`.
  /// - Cancellation: none: the command is on the wire as soon as it is issued (`close()` completes
  ///   it with `operation_aborted`).
  /// - Must outlive the operation: nothing the caller passes: arguments are copied; the client,
  ///   unless it is closed or destroyed first (which completes the operation with
  ///   `operation_aborted`).
  /// - Threads: may be called from any thread; the handler runs on its associated executor.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_list_tube_used(Token&& token = {}) {
    return submit(proto::list_tube_used_command{}, std::forward<Token>(token));
  }
  /// `list-tubes-watched` (main connection).
  /// - Completion: `void(std::error_code, std::vector<std::string>)`.
  /// - Cancellation: none: the command is on the wire as soon as it is issued (`close()` completes
  ///   it with `operation_aborted`).
  /// - Must outlive the operation: nothing the caller passes: arguments are copied; the client,
  ///   unless it is closed or destroyed first (which completes the operation with
  ///   `operation_aborted`).
  /// - Threads: may be called from any thread; the handler runs on its associated executor.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_list_tubes_watched(Token&& token = {}) {
    return submit(proto::list_tubes_watched_command{}, std::forward<Token>(token));
  }

  /// `pause-tube`.
  /// - Completion: `void(std::error_code)`.
  /// - Cancellation: none: the command is on the wire as soon as it is issued (`close()` completes
  ///   it with `operation_aborted`).
  /// - Must outlive the operation: nothing the caller passes: arguments are copied; the client,
  ///   unless it is closed or destroyed first (which completes the operation with
  ///   `operation_aborted`).
  /// - Threads: may be called from any thread; the handler runs on its associated executor.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_pause_tube(const tube_name& tube, std::chrono::seconds delay, Token&& token = {}) {
    return submit(proto::pause_tube_command{tube, delay}, std::forward<Token>(token));
  }

 private:
  /// The user's handler, type-erased (the library sees only its signature).
  template <class Signature, class Handler>
  static detail::completion<Signature>* make_completion(Handler&& handler,
                                                        const detail::async_core& core) {
    using handler_t = std::decay_t<Handler>;
    return detail::completion_for<handler_t, executor_type, Signature>::make(
        std::forward<Handler>(handler), detail::executor_of(core));
  }

  template <class Command, class Token>
  auto submit(Command cmd, Token&& token, detail::op_route route = detail::op_route::main,
              job_id job = {}, bool is_put = false) {
    using signature = detail::signature_t<Command>;
    return asio::async_initiate<Token, signature>(
        [core = core_, route, job, is_put](auto handler, Command&& c) {
          detail::submit<Command>(*core, std::move(c),
                                  make_completion<signature>(std::move(handler), *core), route, job,
                                  is_put);
        },
        token, std::move(cmd));
  }

  // A command that must run in `tube` (a `use` goes right before it when needed). The tube is
  // read while the initiation runs, so it is passed through `async_initiate`: a deferred
  // operation keeps its own copy.
  template <class Command, class Token>
  auto submit_in(const tube_name& tube, Command cmd, Token&& token, bool is_put = false) {
    using signature = detail::signature_t<Command>;
    return asio::async_initiate<Token, signature>(
        [core = core_, is_put](auto handler, const tube_name& t, Command&& c) {
          detail::submit_in_tube<Command>(*core, std::move(c),
                                          make_completion<signature>(std::move(handler), *core),
                                          is_put, t);
        },
        token, tube, std::move(cmd));
  }

  // The pool sends a one-server pool's puts through `submit_in` itself, with the command built
  // once (pool.hpp).
  friend class async_pool;

  executor_type executor_;
  std::shared_ptr<detail::async_core> core_;
};

}  // namespace beanpole
