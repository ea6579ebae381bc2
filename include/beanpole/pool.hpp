// Many beanstalkd servers as one queue: `async_pool` (Asio) and `pool` (blocking, a thin layer
// over it). One `async_client` per server; puts placed by a policy, reserves taken from every
// server fairly, job actions routed to the job's server, admin commands sent to every server.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/associator.hpp>
#include <asio/async_result.hpp>
#include <asio/bind_executor.hpp>
#include <asio/dispatch.hpp>
#include <asio/error.hpp>
#include <asio/execution/outstanding_work.hpp>
#include <asio/prefer.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "beanpole/async_client.hpp"
#include "beanpole/pool_types.hpp"
#include "beanpole/proto/commands.hpp"
#include "beanpole/proto/stats.hpp"
#include "beanpole/types.hpp"

namespace beanpole {

/// Options of a pool.
struct pool_options {
  /// Where puts go. Default round-robin.
  placement_policy placement = placement_policy::round_robin;
  /// Options of each server's client (timeouts, limits, reconnect backoff). The pool always
  /// turns `reconnect.enabled` on, so a server that goes down is retried with the capped backoff
  /// of `reconnect.wait` and rejoins by itself; with the default bounds (none) it is retried for
  /// as long as the pool lives. `on_event` is wrapped: still called, with every client's events.
  async_client_options client{};
  /// Longest wait of one `reserve-with-timeout` a reserve sends to one server before it looks at
  /// the others again (see the README, "Reserving across servers"): a job put on another server
  /// while a reserve waits is found within this. Default 1 s; zero counts as 1 s.
  std::chrono::seconds reserve_slice{1};
  /// Called with every change of a server's health, on any thread; must not block. Default none.
  std::function<void(const pool_event&)> on_event;
  /// Called with every event of each server's client and the server's index in the pool's list
  /// (after `client.on_event`), on that client's executor; must not block. A job whose
  /// reservation was lost (`client_event::kind::lost_reservation`) is known by its server this
  /// way. Default none.
  std::function<void(std::size_t server, const client_event&)> on_client_event;
};

/// A server's name and state, as `async_pool::servers()` reports them.
struct server_status {
  /// The server's name in the pool.
  std::string name;
  /// Its state now.
  server_state state = server_state::down;
};

namespace detail {
class pool_core;

/// The commands on one job that complete with no value.
enum class job_action_kind : std::uint8_t { remove, release, bury, touch, kick_job };

/// A completion handler with its type erased, run on its associated executor (at once when the
/// calling thread already runs it). Internal to the pool.
template <class Signature>
class pool_completion;

/// See the primary template.
template <class... Args>
class pool_completion<void(Args...)> {
 public:
  /// Wraps `handler`; `fallback` runs it when it has no executor of its own.
  template <class Handler>
  pool_completion(Handler handler, const asio::any_io_executor& fallback)
      : fn_(std::make_unique<model<Handler>>(std::move(handler), fallback)) {}
  pool_completion() = default;

  /// Runs the handler with `args` (once; later calls do nothing).
  void operator()(Args... args) {
    if (auto fn = std::move(fn_)) fn->call(std::move(args)...);
  }
  /// Whether the handler has not run yet.
  explicit operator bool() const noexcept { return fn_ != nullptr; }

 private:
  struct concept_t {
    virtual ~concept_t() = default;
    virtual void call(Args... args) = 0;
  };
  template <class Handler>
  struct model final : concept_t {
    using executor_t = asio::associated_executor_t<Handler, asio::any_io_executor>;
    model(Handler h, const asio::any_io_executor& fallback)
        : handler(std::move(h)),
          work(asio::prefer(asio::get_associated_executor(handler, fallback),
                            asio::execution::outstanding_work.tracked)) {}
    void call(Args... args) override {
      auto h = std::move(handler);
      auto w = std::move(work);
      asio::dispatch(w, [h = std::move(h), ... a = std::move(args)]() mutable {
        std::move(h)(std::move(a)...);
      });
    }
    Handler handler;
    std::decay_t<decltype(asio::prefer(std::declval<executor_t>(),
                                       asio::execution::outstanding_work.tracked))>
        work;
  };
  std::unique_ptr<concept_t> fn_;
};

/// The server of a pool of one, for the operations that go straight to its client with nothing
/// for the pool to decide (see `async_pool::async_put`). Set once when the pool is made; all null
/// for a pool of several servers. Points into the pool's core, which the pool owns.
struct pool_sole_server {
  async_client* client = nullptr;                 ///< the server's client
  const std::string* name = nullptr;              ///< the server's name
  const std::atomic<bool>* takes_puts = nullptr;  ///< up and not draining
  const std::atomic<bool>* connected = nullptr;   ///< up (draining or not)
  /// Whether a put (`for_puts`) or a look that never waits (`reserve-with-timeout 0`) can go
  /// straight to the client now. Otherwise the pool's own path decides, and says why not.
  bool ready(bool for_puts) const noexcept {
    return client != nullptr &&
           (for_puts ? takes_puts : connected)->load(std::memory_order_relaxed);
  }
};

/// A handler that turns a member client's completion into the pool's with `Adapt`, keeping every
/// associated characteristic of `Handler` (executor, allocator, cancellation slot).
template <class Handler, class Adapt>
struct pool_adapted {
  Handler handler;  ///< the caller's
  Adapt adapt;      ///< called with `handler` and the client's completion arguments
  /// Completes the caller's handler through `adapt`.
  template <class... Args>
  void operator()(Args&&... args) {
    adapt(std::move(handler), std::forward<Args>(args)...);
  }
};

/// Starts the pool's operations (src/pool/async_pool.cpp).
struct pool_access {
  /// The server of a pool of one (the fast path of the benchmark's "pool over one server" rows);
  /// all null for a pool of several.
  static pool_sole_server sole_server(const pool_core& core) noexcept;
  /// The client of the server named `server`; null when the pool has no such server.
  static async_client* client_of(const pool_core& core, std::string_view server) noexcept;

  static void connect(pool_core& core, pool_completion<void(std::error_code)> done);
  static void put(pool_core& core, const tube_name& tube, put_body body, const put_options& opts,
                  pool_completion<void(std::error_code, pool_job_id)> done);
  static void reserve(pool_core& core, std::optional<std::chrono::seconds> timeout,
                      asio::cancellation_slot slot,
                      pool_completion<void(std::error_code, std::optional<pool_job>)> done);
  static void watch(pool_core& core, const tube_name& tube, bool ignore,
                    pool_completion<void(std::error_code)> done);
  static void job_action(pool_core& core, const pool_job_id& id, detail::job_action_kind kind,
                         priority pri, std::chrono::seconds delay,
                         pool_completion<void(std::error_code)> done);
  static void stats_job(pool_core& core, const pool_job_id& id,
                        pool_completion<void(std::error_code, proto::job_stats)> done);
  static void peek(pool_core& core, const pool_job_id& id,
                   pool_completion<void(std::error_code, std::optional<pool_job>)> done);
  static void peek_state(
      pool_core& core, const tube_name& tube, proto::job_state state,
      pool_completion<void(std::error_code, std::vector<server_reply<std::optional<job>>>)> done);
  static void kick(
      pool_core& core, const tube_name& tube, std::uint64_t bound,
      pool_completion<void(std::error_code, std::vector<server_reply<std::uint64_t>>)> done);
  static void pause_tube(
      pool_core& core, const tube_name& tube, std::chrono::seconds delay,
      pool_completion<void(std::error_code, std::vector<server_reply<bool>>)> done);
  static void stats(
      pool_core& core,
      pool_completion<void(std::error_code, std::vector<server_reply<proto::server_stats>>)> done);
  static void stats_tube(
      pool_core& core, const tube_name& tube,
      pool_completion<void(std::error_code, std::vector<server_reply<proto::tube_stats>>)> done);
  static void list_tubes(
      pool_core& core,
      pool_completion<void(std::error_code, std::vector<server_reply<std::vector<std::string>>>)>
          done);
};

/// A put sent straight to a one-server pool's client: names the job's server. (A DRAINING reply
/// has already marked the server draining, through the client's `draining` event.)
struct sole_put_reply {
  // A reference, not a copy of the name: the handler is moved several times before it runs, and a
  // string moves out of line (a copy here cost 100 instructions a put).
  std::shared_ptr<const pool_core> core;  ///< keeps `*name` alive until the handler has run
  const std::string* name;                ///< the server's
  /// Completes `h` with the pool's result.
  template <class Handler>
  void operator()(Handler&& h, std::error_code ec, job_id id) {
    std::move(h)(ec, pool_job_id{*name, id});
  }
};

/// A `reserve-with-timeout 0` sent straight to a one-server pool's client. As on the pool's own
/// path, a server that fails to answer has simply had its look: no job, no error (only the pool
/// closing is an error); a job comes with the error it came with (`errc::corrupt_job`).
struct sole_look_reply {
  std::shared_ptr<const pool_core> core;  ///< keeps `*name` alive (see `sole_put_reply`)
  const std::string* name;                ///< the server's
  /// Completes `h` with the pool's result.
  template <class Handler>
  void operator()(Handler&& h, std::error_code ec, std::optional<job> j) {
    if (j) return std::move(h)(ec, pool_job{{*name, j->id}, std::move(j->body)});
    if (ec != asio::error::operation_aborted) ec = {};
    std::move(h)(ec, std::optional<pool_job>{});
  }
};

/// Sends a job's action to its server's client, with the caller's handler as it is.
template <class Handler>
void start_job_action(async_client& c, job_id id, job_action_kind kind, priority pri,
                      std::chrono::seconds delay, Handler&& handler) {
  switch (kind) {
    case job_action_kind::remove:
      return c.async_remove(id, std::forward<Handler>(handler));
    case job_action_kind::release:
      return c.async_release(id, pri, delay, std::forward<Handler>(handler));
    case job_action_kind::bury:
      return c.async_bury(id, pri, std::forward<Handler>(handler));
    case job_action_kind::touch:
      return c.async_touch(id, std::forward<Handler>(handler));
    case job_action_kind::kick_job:
      return c.async_kick_job(id, std::forward<Handler>(handler));
  }
}
}  // namespace detail

/// Several beanstalkd servers used as one queue, asynchronously (Asio).
///
/// Each server gets an `async_client` of its own (reconnect always on). Puts go to one server,
/// chosen by `pool_options::placement` among the servers that are up (not down, reconnecting or
/// draining). Reserves take a job from whichever server has one, fairly, never holding more jobs
/// than were asked for (see `async_reserve`). A job carries its server (`pool_job_id`), and every
/// action on it goes to that server. Commands about the whole queue (`async_kick`,
/// `async_pause_tube`, `async_stats`, `async_stats_tube`, `async_list_tubes`, `async_peek_state`)
/// go to every server and report each server's answer (`server_reply`): a server that is not
/// connected is reported as `errc::not_connected` at once, without waiting.
///
/// Completion tokens, errors and handlers work as for `async_client`. A fan-out command
/// completes with an empty error when at least one server answered, else with the first
/// server's error.
///
/// Puts are never re-sent behind the caller's back once a server may have stored them: a put
/// whose reply was lost completes with `errc::outcome_unknown` (and the server it went to, in
/// the id), a put answered BURIED with `errc::buried` and the id of the buried job. Only a put
/// that no server stored (answered DRAINING, or refused with `errc::not_connected` before it was
/// sent) is placed again on another server that is up.
///
/// `delete` is a C++ keyword: the command is spelled `async_remove`.
///
/// Thread safety: every member function may be called from any thread at the same time. The
/// pool must outlive the operations it starts unless it is destroyed, which completes them with
/// `operation_aborted`.
class async_pool {
 public:
  /// The executor type of the pool (and of handlers without one of their own).
  using executor_type = asio::any_io_executor;

  /// A pool of `servers` (at least one; names unique). Nothing happens until `async_connect`.
  /// Throws `beanpole::error` with `errc::invalid_address` for an empty list or a duplicate name.
  async_pool(executor_type ex, std::vector<pool_server> servers, pool_options options = {});
  /// Closes every client; pending operations complete with `operation_aborted`.
  ~async_pool();
  async_pool(const async_pool&) = delete;
  async_pool& operator=(const async_pool&) = delete;

  /// The executor handlers without one of their own run on.
  executor_type get_executor() const noexcept { return executor_; }

  /// Connects every server. Completes once each has connected or failed its first attempt: with
  /// an empty error when at least one is up, else with the first server's error. A server that
  /// failed keeps being retried in the background and joins when it comes up.
  /// - Completion: `void(std::error_code)`.
  /// - Cancellation: none.
  /// - Threads: may be called from any thread.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_connect(Token&& token = {}) {
    return asio::async_initiate<Token, void(std::error_code)>(
        [this](auto handler) {
          detail::pool_access::connect(*core_, {std::move(handler), executor_});
        },
        token);
  }

  /// Closes every client now; pending operations complete with `operation_aborted`.
  void close();

  /// Every server's name and state, in the order given.
  std::vector<server_status> servers() const;
  /// Stops placing puts on `server` (`on`), or starts again; it stays reserved from. Returns
  /// false when no server has that name.
  bool drain(std::string_view server, bool on);
  /// The client of `server`, for what the pool does not offer; null when no server has that
  /// name. Owned by the pool.
  async_client* client(std::string_view server) const noexcept;

  /// `use tube` then `put` on the server the placement chooses.
  /// - Completion: `void(std::error_code, pool_job_id)`: the job's server and id; with
  ///   `errc::buried` and `errc::outcome_unknown` too (see the class comment);
  ///   `errc::not_connected` when no server is up.
  /// - Cancellation: none.
  /// - Must outlive the operation: nothing the caller passes: the operation owns the body (see
  ///   `put_body`: a `std::string` passed with `std::move` is taken without a copy, a small body
  ///   is copied without an allocation).
  /// - Threads: may be called from any thread.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_put(const tube_name& tube, put_body body, const put_options& opts = {},
                 Token&& token = {}) {
    return asio::async_initiate<Token, void(std::error_code, pool_job_id)>(
        [this](auto handler, const tube_name& t, auto&& b, const put_options& o) {
          if (sole_.ready(true)) {  // a pool of one: straight to its client
            sole_.client->submit_in(t,
                                    detail::owned_put_command{o.pri, o.delay, o.ttr, std::move(b)},
                                    detail::pool_adapted<decltype(handler), detail::sole_put_reply>{
                                        std::move(handler), {core_, sole_.name}},
                                    true);
            return;
          }
          detail::pool_access::put(*core_, t, std::move(b), o, {std::move(handler), executor_});
        },
        token, tube, std::move(body), opts);
  }

  /// `watch` on every server (each client restores it after a reconnect).
  /// - Completion: `void(std::error_code)`: empty when at least one server took it.
  /// - Cancellation: none.
  /// - Threads: may be called from any thread.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_watch(const tube_name& tube, Token&& token = {}) {
    return asio::async_initiate<Token, void(std::error_code)>(
        [this](auto handler, const tube_name& t) {
          detail::pool_access::watch(*core_, t, false, {std::move(handler), executor_});
        },
        token, tube);
  }
  /// `ignore` on every server.
  /// - Completion: `void(std::error_code)`: empty when at least one server took it.
  /// - Cancellation: none.
  /// - Threads: may be called from any thread.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_ignore(const tube_name& tube, Token&& token = {}) {
    return asio::async_initiate<Token, void(std::error_code)>(
        [this](auto handler, const tube_name& t) {
          detail::pool_access::watch(*core_, t, true, {std::move(handler), executor_});
        },
        token, tube);
  }

  /// A job from whichever server has one, waiting as long as it takes. One reserve command is
  /// out at a time per call, so the call holds at most one job; see the README ("Reserving
  /// across servers") for the sweep, the waits and the fairness.
  /// - Completion: `void(std::error_code, pool_job)`.
  /// - Cancellation: terminal, partial and total, through the handler's cancellation slot. A job
  ///   that a server hands over after the cancellation is released at once.
  /// - Threads: may be called from any thread.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_reserve(Token&& token = {}) {
    return asio::async_initiate<Token, void(std::error_code, pool_job)>(
        [this](auto handler) {
          auto slot = asio::get_associated_cancellation_slot(handler);
          const executor_type ex = asio::get_associated_executor(handler, executor_);
          auto unwrap = [h = std::move(handler)](std::error_code ec,
                                                 std::optional<pool_job> j) mutable {
            std::move(h)(ec, j ? std::move(*j) : pool_job{});
          };
          detail::pool_access::reserve(*core_, std::nullopt, slot,
                                       {asio::bind_executor(ex, std::move(unwrap)), executor_});
        },
        token);
  }

  /// A job from whichever server has one within `timeout`, or an empty optional. Zero looks at
  /// every server once, without waiting.
  /// - Completion: `void(std::error_code, std::optional<pool_job>)`.
  /// - Cancellation: terminal, partial and total (see `async_reserve`).
  /// - Threads: may be called from any thread.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_reserve_with_timeout(std::chrono::seconds timeout, Token&& token = {}) {
    return asio::async_initiate<Token, void(std::error_code, std::optional<pool_job>)>(
        [this](auto handler, std::chrono::seconds t) {
          // A pool of one: straight to its client, unless the look may be cancelled (the
          // client's zero-second reserve cannot be; the pool's own path releases a late job).
          if (t.count() == 0 && sole_.ready(false) &&
              !asio::get_associated_cancellation_slot(handler).is_connected()) {
            sole_.client->async_reserve_with_timeout(
                t, detail::pool_adapted<decltype(handler), detail::sole_look_reply>{
                       std::move(handler), {core_, sole_.name}});
            return;
          }
          auto slot = asio::get_associated_cancellation_slot(handler);
          detail::pool_access::reserve(*core_, t, slot, {std::move(handler), executor_});
        },
        token, timeout);
  }

  /// `delete` on the job's server.
  /// - Completion: `void(std::error_code)`; `errc::invalid_address` when the pool has no
  ///   server of that name.
  /// - Cancellation: none.
  /// - Threads: may be called from any thread.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_remove(const pool_job_id& id, Token&& token = {}) {
    return job_action(id, detail::job_action_kind::remove, 0, {}, std::forward<Token>(token));
  }
  /// `release` on the job's server.
  /// - Completion: `void(std::error_code)` (`errc::buried` when the server buried it).
  /// - Cancellation: none.
  /// - Threads: may be called from any thread.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_release(const pool_job_id& id, priority pri, std::chrono::seconds delay,
                     Token&& token = {}) {
    return job_action(id, detail::job_action_kind::release, pri, delay, std::forward<Token>(token));
  }
  /// `bury` on the job's server.
  /// - Completion: `void(std::error_code)`.
  /// - Cancellation: none.
  /// - Threads: may be called from any thread.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_bury(const pool_job_id& id, priority pri, Token&& token = {}) {
    return job_action(id, detail::job_action_kind::bury, pri, {}, std::forward<Token>(token));
  }
  /// `touch` on the job's server.
  /// - Completion: `void(std::error_code)`.
  /// - Cancellation: none.
  /// - Threads: may be called from any thread.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_touch(const pool_job_id& id, Token&& token = {}) {
    return job_action(id, detail::job_action_kind::touch, 0, {}, std::forward<Token>(token));
  }
  /// `kick-job` on the job's server.
  /// - Completion: `void(std::error_code)`.
  /// - Cancellation: none.
  /// - Threads: may be called from any thread.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_kick_job(const pool_job_id& id, Token&& token = {}) {
    return job_action(id, detail::job_action_kind::kick_job, 0, {}, std::forward<Token>(token));
  }

  /// `stats-job` on the job's server.
  /// - Completion: `void(std::error_code, proto::job_stats)`.
  /// - Cancellation: none.
  /// - Threads: may be called from any thread.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_stats_job(const pool_job_id& id, Token&& token = {}) {
    return asio::async_initiate<Token, void(std::error_code, proto::job_stats)>(
        [this](auto handler, const pool_job_id& j) {
          if (auto* c = detail::pool_access::client_of(*core_, j.server)) {
            return c->async_stats_job(j.id, std::move(handler));
          }
          detail::pool_access::stats_job(*core_, j, {std::move(handler), executor_});
        },
        token, id);
  }
  /// `peek` on the job's server: the job, or an empty optional when it does not exist.
  /// - Completion: `void(std::error_code, std::optional<pool_job>)`.
  /// - Cancellation: none.
  /// - Threads: may be called from any thread.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_peek(const pool_job_id& id, Token&& token = {}) {
    return asio::async_initiate<Token, void(std::error_code, std::optional<pool_job>)>(
        [this](auto handler, const pool_job_id& j) {
          detail::pool_access::peek(*core_, j, {std::move(handler), executor_});
        },
        token, id);
  }

  /// `use tube` then `peek-ready`, `peek-delayed` or `peek-buried` on every server.
  /// - Completion: `void(std::error_code, std::vector<server_reply<std::optional<job>>>)`, one
  ///   reply per server, in the pool's order.
  /// - Cancellation: none.
  /// - Threads: may be called from any thread.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_peek_state(const tube_name& tube, proto::job_state state, Token&& token = {}) {
    return asio::async_initiate<Token, void(std::error_code,
                                            std::vector<server_reply<std::optional<job>>>)>(
        [this](auto handler, const tube_name& t, proto::job_state s) {
          detail::pool_access::peek_state(*core_, t, s, {std::move(handler), executor_});
        },
        token, tube, state);
  }
  /// `use tube` then `kick bound` on every server; each reply holds that server's count.
  /// - Completion: `void(std::error_code, std::vector<server_reply<std::uint64_t>>)`.
  /// - Cancellation: none.
  /// - Threads: may be called from any thread.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_kick(const tube_name& tube, std::uint64_t bound, Token&& token = {}) {
    return asio::async_initiate<Token,
                                void(std::error_code, std::vector<server_reply<std::uint64_t>>)>(
        [this](auto handler, const tube_name& t, std::uint64_t b) {
          detail::pool_access::kick(*core_, t, b, {std::move(handler), executor_});
        },
        token, tube, bound);
  }
  /// `pause-tube` on every server (value true where it was paused; a server without the tube
  /// answers `errc::not_found`).
  /// - Completion: `void(std::error_code, std::vector<server_reply<bool>>)`.
  /// - Cancellation: none.
  /// - Threads: may be called from any thread.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_pause_tube(const tube_name& tube, std::chrono::seconds delay, Token&& token = {}) {
    return asio::async_initiate<Token, void(std::error_code, std::vector<server_reply<bool>>)>(
        [this](auto handler, const tube_name& t, std::chrono::seconds d) {
          detail::pool_access::pause_tube(*core_, t, d, {std::move(handler), executor_});
        },
        token, tube, delay);
  }
  /// `stats` on every server (sum them with `sum_counts`).
  /// - Completion: `void(std::error_code, std::vector<server_reply<proto::server_stats>>)`.
  /// - Cancellation: none.
  /// - Threads: may be called from any thread.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_stats(Token&& token = {}) {
    return asio::async_initiate<Token, void(std::error_code,
                                            std::vector<server_reply<proto::server_stats>>)>(
        [this](auto handler) {
          detail::pool_access::stats(*core_, {std::move(handler), executor_});
        },
        token);
  }
  /// `stats-tube` on every server (a server without the tube answers `errc::not_found`).
  /// - Completion: `void(std::error_code, std::vector<server_reply<proto::tube_stats>>)`.
  /// - Cancellation: none.
  /// - Threads: may be called from any thread.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_stats_tube(const tube_name& tube, Token&& token = {}) {
    return asio::async_initiate<Token, void(std::error_code,
                                            std::vector<server_reply<proto::tube_stats>>)>(
        [this](auto handler, const tube_name& t) {
          detail::pool_access::stats_tube(*core_, t, {std::move(handler), executor_});
        },
        token, tube);
  }
  /// `list-tubes` on every server (merge them with `union_of`).
  /// - Completion: `void(std::error_code, std::vector<server_reply<std::vector<std::string>>>)`.
  /// - Cancellation: none.
  /// - Threads: may be called from any thread.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_list_tubes(Token&& token = {}) {
    return asio::async_initiate<Token, void(std::error_code,
                                            std::vector<server_reply<std::vector<std::string>>>)>(
        [this](auto handler) {
          detail::pool_access::list_tubes(*core_, {std::move(handler), executor_});
        },
        token);
  }

 private:
  template <class Token>
  auto job_action(const pool_job_id& id, detail::job_action_kind kind, priority pri,
                  std::chrono::seconds delay, Token&& token) {
    return asio::async_initiate<Token, void(std::error_code)>(
        [this](auto handler, const pool_job_id& j, detail::job_action_kind k, priority p,
               std::chrono::seconds d) {
          // Straight to the job's server; the pool's own path only reports an unknown server.
          if (auto* c = detail::pool_access::client_of(*core_, j.server)) {
            return detail::start_job_action(*c, j.id, k, p, d, std::move(handler));
          }
          detail::pool_access::job_action(*core_, j, k, p, d, {std::move(handler), executor_});
        },
        token, id, kind, pri, delay);
  }

  executor_type executor_;
  std::shared_ptr<detail::pool_core> core_;
  detail::pool_sole_server sole_;  // set once, after core_
};

/// Several beanstalkd servers used as one queue, blocking: a thin layer over `async_pool`,
/// which runs on a thread of the pool's own. Every call waits for its operation and throws
/// `beanpole::error` (a `std::system_error`) when it fails; commands sent to every server throw
/// only when no server answered, and otherwise return each server's reply.
///
/// Thread safety: every member function may be called from any thread at the same time.
class pool {
 public:
  /// Connects to `servers` (see `async_pool::async_connect`): returns once each server has
  /// connected or failed once; throws when none is up. Servers that are down keep being retried
  /// in the background.
  explicit pool(std::vector<pool_server> servers, pool_options options = {});
  /// Closes every connection and stops the pool's thread.
  ~pool();
  pool(const pool&) = delete;
  pool& operator=(const pool&) = delete;

  /// The asynchronous pool underneath (runs on the pool's own thread).
  async_pool& async() noexcept;
  /// Every server's name and state.
  std::vector<server_status> servers() const;

  /// `put` on the server the placement chooses (see `async_pool::async_put`). Throws
  /// `beanpole::error` whose message holds `ADDR/ID` when the job may exist
  /// (`errc::outcome_unknown`) or was buried (`errc::buried`, `job()` holds the id).
  pool_job_id put(const tube_name& tube, std::string body, const put_options& opts = {});
  /// `put` without throwing: `ec` is set on failure, and the returned id names the server (and,
  /// for `errc::buried`, the job) whenever it is known.
  pool_job_id put(const tube_name& tube, std::string body, const put_options& opts,
                  std::error_code& ec);
  /// `watch` on every server.
  void watch(const tube_name& tube);
  /// `ignore` on every server.
  void ignore(const tube_name& tube);
  /// A job from whichever server has one; waits as long as it takes. A job whose body the
  /// server sent torn (`errc::corrupt_job`; also from `reserve_with_timeout` and `peek`) throws
  /// `beanpole::error` with the job's id in `job()` and "job ADDR/ID" in `what()`; the pool
  /// holds it (bury or delete it by that id).
  pool_job reserve();
  /// A job within `timeout`, or an empty optional.
  std::optional<pool_job> reserve_with_timeout(std::chrono::seconds timeout);
  /// `delete`.
  void remove(const pool_job_id& id);
  /// `release`.
  void release(const pool_job_id& id, priority pri = default_priority,
               std::chrono::seconds delay = {});
  /// `bury`.
  void bury(const pool_job_id& id, priority pri = default_priority);
  /// `touch`.
  void touch(const pool_job_id& id);
  /// `kick-job`.
  void kick_job(const pool_job_id& id);
  /// `stats-job`.
  proto::job_stats stats_job(const pool_job_id& id);
  /// `peek`: empty when the job does not exist.
  std::optional<pool_job> peek(const pool_job_id& id);
  /// `peek-ready`, `peek-delayed` or `peek-buried` in `tube` on every server.
  std::vector<server_reply<std::optional<job>>> peek_state(const tube_name& tube,
                                                           proto::job_state state);
  /// `kick` in `tube` on every server.
  std::vector<server_reply<std::uint64_t>> kick(const tube_name& tube, std::uint64_t bound);
  /// `pause-tube` on every server.
  std::vector<server_reply<bool>> pause_tube(const tube_name& tube, std::chrono::seconds delay);
  /// `stats` on every server.
  std::vector<server_reply<proto::server_stats>> stats();
  /// `stats-tube` on every server.
  std::vector<server_reply<proto::tube_stats>> stats_tube(const tube_name& tube);
  /// `list-tubes` on every server.
  std::vector<server_reply<std::vector<std::string>>> list_tubes();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// The union of the servers' tube lists, sorted, each name once (servers that failed add
/// nothing).
std::vector<std::string> union_of(const std::vector<server_reply<std::vector<std::string>>>& r);

/// The integer count fields of the servers that answered, summed (`pid`, `uptime`,
/// `max_job_size`, the binlog indexes and sizes are not counts: they are left 0; strings and
/// floats too).
proto::server_stats sum_counts(const std::vector<server_reply<proto::server_stats>>& r);
/// The integer count fields of the servers that answered, summed (`pause` and
/// `pause_time_left` are the largest of them; `name` is the first one's).
proto::tube_stats sum_counts(const std::vector<server_reply<proto::tube_stats>>& r);

}  // namespace beanpole

namespace asio {
/// A pool's adapted handler has the associated executor, allocator and cancellation slot of the
/// handler it wraps.
template <template <class, class> class Associator, class Handler, class Adapt, class Default>
struct associator<Associator, beanpole::detail::pool_adapted<Handler, Adapt>, Default> {
  /// What `Handler` has.
  using type = typename Associator<Handler, Default>::type;
  /// `Handler`'s.
  static type get(const beanpole::detail::pool_adapted<Handler, Adapt>& h,
                  const Default& d = Default()) noexcept {
    return Associator<Handler, Default>::get(h.handler, d);
  }
};
}  // namespace asio
