// The threads that run plain-function handlers. Unlike `asio::thread_pool`, shutting it down
// never waits for a running task: a thread still busy is detached and finishes on its own (a
// thread cannot be killed), which is what the worker needs when a handler outlives the grace
// period. Tasks must therefore share ownership of everything they touch.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace beanpole::detail {

class handler_pool {
 public:
  /// Starts `threads` threads (at least one). Throws `std::system_error` when the system cannot
  /// create one of them (the ones already created are joined first).
  explicit handler_pool(std::size_t threads);
  /// `shutdown()`.
  ~handler_pool();
  handler_pool(const handler_pool&) = delete;
  handler_pool& operator=(const handler_pool&) = delete;

  /// Queues `task` (which must not throw). Any thread. Dropped (destroyed unrun) after shutdown.
  void submit(std::function<void()> task);

  /// Stops the pool: tasks not started are dropped, idle threads are joined, busy threads are
  /// detached (they exit when their task returns). Idempotent; not from a task of this pool.
  void shutdown();

 private:
  struct state {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::function<void()>> queue;
    std::vector<bool> busy;
    bool closing = false;
  };
  static void loop(const std::shared_ptr<state>& s, std::size_t index);

  std::shared_ptr<state> state_;
  std::vector<std::thread> threads_;
};

}  // namespace beanpole::detail
