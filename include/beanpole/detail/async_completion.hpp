// The user's handler of an async operation, type-erased: the one part of an operation that must
// be built where the handler's type is known (the public templates). The operation itself (its
// command, queue links, deadlines) lives inside the library (src/client/async_op.hpp) and only
// ever sees a `completion`. Internal: no stability promise.
#pragma once

#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/dispatch.hpp>
#include <asio/execution/outstanding_work.hpp>
#include <asio/io_context.hpp>
#include <asio/prefer.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <system_error>
#include <type_traits>
#include <utility>

namespace beanpole::detail {

/// What the core must know about an operation to route it and to report its loss honestly.
enum class op_route : std::uint8_t {
  main,        ///< any command that never waits: goes to the pipelined main connection
  waiting,     ///< a reserve that may wait: goes to a reserve connection of its own
  job_action,  ///< delete/release/bury/touch: goes to the connection that holds the job
};

/// Memory for operations and their completions, recycled per thread: a pipelined put allocates
/// both and frees them a moment later, and malloc/free were a tenth of its instructions. Blocks up
/// to `op_block_size` bytes come from a thread-local free list (bounded; beyond it, the heap).
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

/// How an operation ends: the user's handler, behind a signature-only interface. The library
/// calls `complete` exactly once; it frees the completion and runs the handler.
template <class Signature>
class completion;

template <class... Results>
class completion<void(std::error_code, Results...)> {
 public:
  completion(const completion&) = delete;
  completion& operator=(const completion&) = delete;

  /// Frees this object, then runs the handler with `ec` and `results` on the handler's executor.
  virtual void complete(std::error_code ec, Results... results) = 0;
  /// The handler's cancellation slot (unconnected when the handler has none).
  virtual asio::cancellation_slot cancellation_slot() const noexcept = 0;

  /// Room for `size` bytes aligned to `align` in this completion's own memory block, or null.
  /// The library builds the operation there, so that an operation costs one block from the
  /// thread's cache, not two; what it builds there must be destroyed before `complete`, which
  /// frees the block.
  void* spare_room(std::size_t size, std::size_t align) noexcept {
    void* p = spare_;
    std::size_t room = spare_size_;
    return std::align(align, size, p, room);
  }

 protected:
  completion() = default;
  ~completion() = default;

  void* spare_ = nullptr;       // the block's bytes after this object
  std::size_t spare_size_ = 0;  // how many
};

/// The completion for one handler type.
template <class Handler, class IoExecutor, class Signature>
class completion_for;

template <class Handler, class IoExecutor, class... Results>
class completion_for<Handler, IoExecutor, void(std::error_code, Results...)> final
    : public completion<void(std::error_code, Results...)> {
 public:
  /// A completion in a block of its own from the thread's cache, with the rest of the block
  /// left as spare room for the operation.
  static completion_for* make(Handler&& handler, const IoExecutor& io_ex) {
    void* block = allocate_op(block_size);
    auto* self = ::new (block) completion_for(std::move(handler), io_ex);
    if constexpr (block_size == op_block_size) {
      self->spare_ = static_cast<std::byte*>(block) + sizeof(completion_for);
      self->spare_size_ = op_block_size - sizeof(completion_for);
    }
    return self;
  }

  asio::cancellation_slot cancellation_slot() const noexcept override {
    return asio::get_associated_cancellation_slot(handler_);
  }

  /// Frees the completion, then runs the handler on its executor: right here when this thread
  /// runs that executor, as `asio::dispatch` would (dispatching through an `any_io_executor`
  /// allocates a function object on every completion).
  void complete(std::error_code ec, Results... results) override {
    auto handler = std::move(handler_);
    auto target = std::move(target_);  // its work is released once the handler ran or was queued
    this->~completion_for();
    deallocate_op(this, block_size);
    if constexpr (has_own_executor<Handler>) {
      run(target.executor, handler, ec, std::move(results)...);
    } else {
      run(*target.client, handler, ec, std::move(results)...);
    }
  }

 private:
  static constexpr std::size_t block_size =
      sizeof(completion_for) <= op_block_size ? op_block_size : sizeof(completion_for);

  completion_for(Handler&& handler, const IoExecutor& io_ex)
      : handler_(std::move(handler)), target_(handler_, io_ex) {}
  ~completion_for() = default;

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

  Handler handler_;
  handler_target<Handler, IoExecutor> target_;
};

}  // namespace beanpole::detail
