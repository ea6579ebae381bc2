// The type-erased operation node of the async client: what the public templates create and the
// non-template core moves between queues, writes and completes. Internal: no stability promise.
#pragma once

#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/dispatch.hpp>
#include <asio/execution/outstanding_work.hpp>
#include <asio/io_context.hpp>
#include <asio/prefer.hpp>
#include <chrono>
#include <cstddef>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

#include "beanpole/proto/commands.hpp"
#include "beanpole/proto/reply.hpp"

namespace beanpole::detail {

/// What the core must know about an operation to route it and to report its loss honestly.
enum class op_route : std::uint8_t {
  main,        ///< any command that never waits: goes to the pipelined main connection
  waiting,     ///< a reserve that may wait: goes to a reserve connection of its own
  job_action,  ///< delete/release/bury/touch: goes to the connection that holds the job
};

/// Memory for operation nodes, recycled per thread: a pipelined put allocates one node and frees
/// it a moment later, and malloc/free were a tenth of its instructions. Nodes up to
/// `op_block_size` bytes come from a thread-local free list (bounded; beyond it, back to the heap).
inline constexpr std::size_t op_block_size = 512;

struct op_block_cache {
  static constexpr std::size_t max_blocks = 4096;
  std::size_t count = 0;
  void* blocks[max_blocks]{};  // the first `count` are free blocks
  ~op_block_cache() {
    while (count > 0) ::operator delete(blocks[--count]);
  }
};

inline op_block_cache& thread_op_cache() {
  thread_local op_block_cache cache;
  return cache;
}

inline void* allocate_op(std::size_t size) {
  if (size <= op_block_size) {
    auto& cache = thread_op_cache();
    if (cache.count > 0) return cache.blocks[--cache.count];
    return ::operator new(op_block_size);
  }
  return ::operator new(size);
}

inline void deallocate_op(void* p, std::size_t size) noexcept {
  if (size <= op_block_size) {
    auto& cache = thread_op_cache();
    if (cache.count < op_block_cache::max_blocks) {
      cache.blocks[cache.count++] = p;
      return;
    }
  }
  ::operator delete(p);
}

/// How a command changes the tube state the client keeps for every connection.
enum class tube_effect : std::uint8_t { none, use, watch, ignore };

/// One command in flight. The core owns it from `submit` until it calls `complete` (exactly once),
/// which interprets the reply, frees the node and hands the result to the user's handler on the
/// handler's own executor.
class op_base {
 public:
  op_base(const op_base&) = delete;
  op_base& operator=(const op_base&) = delete;

  /// Appends the request to `out`; a local-misuse error means nothing may be sent. A command may
  /// leave out a large body it owns: `body` is then set to it, and the request is what was
  /// appended, then `body` (written from where it is), then CRLF.
  virtual std::error_code encode_request(std::string& out, std::string_view& body) const = 0;
  /// Appends the whole request to `out`, a body left out by `encode_request` included.
  std::error_code encode(std::string& out) const {
    std::string_view body;
    auto ec = encode_request(out, body);
    if (!ec && !body.empty()) {
      out += body;
      out += "\r\n";
    }
    return ec;
  }
  /// Completes with `reply` (or, when `reply` is null, with `ec`) and destroys the node. Returns
  /// the error the handler gets, so the core can tell a protocol violation in the reply.
  virtual std::error_code complete(std::error_code ec, proto::reply* reply) = 0;
  /// The handler's cancellation slot (unconnected when the handler has none).
  virtual asio::cancellation_slot cancellation_slot() const noexcept = 0;

  proto::command_traits traits;
  proto::server_wait wait;
  op_route route = op_route::main;
  bool is_put = false;    ///< a lost reply means "outcome unknown", never "failed"
  bool internal = false;  ///< sent by the client itself (state restore): no user handler
  job_id job;             ///< for job actions: the job acted on
  /// Reply deadline, set when written; while the command waits unwritten for a connection, the
  /// time it stops waiting. Zero: none.
  std::chrono::steady_clock::time_point deadline{};
  std::size_t wire_size = 0;  ///< bytes of its request in the client's unwritten buffer
  std::uint64_t serial = 0;   ///< unique per core: lets a cancellation find its op safely
  tube_effect effect = tube_effect::none;  ///< use / watch / ignore
  const tube_name* tube = nullptr;         ///< their tube (points into the node's command)
  op_base* next = nullptr;  ///< intrusive queue link (owned by whichever queue holds the op)

 protected:
  op_base() = default;
  ~op_base() = default;
};

/// Whether a handler whose executor is `ex` may run right here, as `asio::dispatch` would run
/// it: the calling thread runs `ex`'s context. Checked directly because dispatching through
/// `any_io_executor` type-erases the handler into an allocated function object on every
/// completion, the largest cost of a pipelined put.
inline bool runs_here(const asio::any_io_executor& ex) {
  using plain = asio::io_context::executor_type;
  using tracked = std::decay_t<decltype(asio::prefer(std::declval<plain>(),
                                                     asio::execution::outstanding_work.tracked))>;
  if (const auto* e = ex.target<plain>()) return e->running_in_this_thread();
  if (const auto* e = ex.target<tracked>()) return e->running_in_this_thread();
  return false;
}
template <class Executor>
bool runs_here(const Executor& ex) {
  if constexpr (requires { ex.running_in_this_thread(); }) {
    return ex.running_in_this_thread();
  } else {
    return false;
  }
}

/// The completion signature of a command: `void(std::error_code)` for commands without a result,
/// `void(std::error_code, T)` otherwise.
template <class Result>
struct signature_of {
  using type = void(std::error_code, Result);
};
template <>
struct signature_of<void> {
  using type = void(std::error_code);
};
template <class Command>
using signature_t = typename signature_of<typename Command::result_type>::type;

/// An executor type no handler has: `associated_executor_t<H, no_executor>` is it exactly when
/// `H` has no executor of its own.
struct no_executor {};

/// Whether a handler of type `Handler` has an executor of its own to run on; without one, it runs
/// on the client's.
template <class Handler>
inline constexpr bool has_own_executor =
    !std::is_same_v<asio::associated_executor_t<Handler, no_executor>, no_executor>;

/// What a node keeps of the executor a handler runs on: nothing when it is the client's (the
/// node then points to the client's; copying an `any_io_executor` into every node, and tracking
/// work on it, was a fifth of a pipelined put), the executor and outstanding work otherwise.
template <class Handler, class IoExecutor, bool Own = has_own_executor<Handler>>
struct handler_target {
  explicit handler_target(const Handler& /*handler*/, const IoExecutor& io_ex) : client(&io_ex) {}
  const IoExecutor* client;  // the core's executor, which outlives every node
};

template <class Handler, class IoExecutor>
struct handler_target<Handler, IoExecutor, true> {
  using executor_type = asio::associated_executor_t<Handler, IoExecutor>;
  static auto track(const executor_type& ex) {
    return asio::prefer(ex, asio::execution::outstanding_work.tracked);
  }
  using work_type = std::decay_t<decltype(track(std::declval<const executor_type&>()))>;

  handler_target(const Handler& handler, const IoExecutor& io_ex)
      : executor(asio::get_associated_executor(handler, io_ex)), work(work_for(executor, io_ex)) {}

  /// The handler's executor must not run out of work before the handler runs. When it is the
  /// client's own executor, the client's pending I/O and timers already count as that work, so
  /// it is not tracked again per operation (a type-erased call each way).
  static work_type work_for(const executor_type& ex, const IoExecutor& io_ex) {
    if constexpr (std::is_same_v<executor_type, IoExecutor> &&
                  std::is_default_constructible_v<work_type>) {
      if (ex == io_ex) return work_type{};
    }
    return track(ex);
  }

  executor_type executor;
  work_type work;
};

/// The concrete node for one command and one handler.
template <class Command, class Handler, class IoExecutor>
class op final : public op_base {
 public:
  op(Command&& cmd, Handler&& handler, const IoExecutor& io_ex)
      : cmd_(std::move(cmd)), handler_(std::move(handler)), target_(handler_, io_ex) {
    traits = Command::traits;
    wait = proto::wait_of(cmd_);
    if constexpr (std::is_same_v<Command, proto::use_command>) {
      effect = tube_effect::use;
    } else if constexpr (std::is_same_v<Command, proto::watch_command>) {
      effect = tube_effect::watch;
    } else if constexpr (std::is_same_v<Command, proto::ignore_command>) {
      effect = tube_effect::ignore;
    }
    if constexpr (requires { cmd_.tube; }) tube = &cmd_.tube;
  }

  std::error_code encode_request(std::string& out, std::string_view& body) const override {
    if constexpr (requires { cmd_.encode(out, body); }) {
      return cmd_.encode(out, body);
    } else {
      return cmd_.encode(out);
    }
  }

  static void* operator new(std::size_t size) { return allocate_op(size); }
  static void operator delete(void* p, std::size_t size) noexcept { deallocate_op(p, size); }

  asio::cancellation_slot cancellation_slot() const noexcept override {
    return asio::get_associated_cancellation_slot(handler_);
  }

  std::error_code complete(std::error_code ec, proto::reply* reply) override {
    using result = typename Command::result_type;
    if constexpr (std::is_void_v<result>) {
      if (reply != nullptr) cmd_.interpret(std::move(*reply), ec);
      finish(ec);
    } else {
      result value{};
      if (reply != nullptr) value = cmd_.interpret(std::move(*reply), ec);
      finish(ec, std::move(value));
    }
    return ec;
  }

 private:
  ~op() = default;
  friend class op_base;

  /// Frees the node, then runs the handler with `args` on its executor: right here when this
  /// thread runs that executor, as `asio::dispatch` would (dispatching through an
  /// `any_io_executor` allocates a function object on every completion).
  template <class... Args>
  void finish(Args&&... args) {
    auto handler = std::move(handler_);
    auto target = std::move(target_);  // its work is released once the handler ran or was queued
    delete this;
    if constexpr (has_own_executor<Handler>) {
      run(target.executor, handler, std::forward<Args>(args)...);
    } else {
      run(*target.client, handler, std::forward<Args>(args)...);
    }
  }

  template <class Executor, class... Args>
  static void run(const Executor& ex, Handler& handler, Args&&... args) {
    if (runs_here(ex)) {
      invoke(handler, std::forward<Args>(args)...);
    } else {
      asio::dispatch(ex, [h = std::move(handler), ... a = std::forward<Args>(args)]() mutable {
        invoke(h, std::move(a)...);
      });
    }
  }

  /// The operation is over: a later cancellation request must find nothing to cancel. The slot
  /// is cleared on the handler's executor, where its owner emits signals, just before the handler
  /// runs.
  template <class... Args>
  static void invoke(Handler& h, Args&&... args) {
    if (auto slot = asio::get_associated_cancellation_slot(h); slot.is_connected()) slot.clear();
    std::move(h)(std::forward<Args>(args)...);
  }

  Command cmd_;
  Handler handler_;
  handler_target<Handler, IoExecutor> target_;
};

}  // namespace beanpole::detail
