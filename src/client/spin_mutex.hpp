// A lock for the async driver's short critical sections (queueing a command, reading the
// connection's state), taken once per command: uncontended, it costs a tenth of a std::mutex's
// instructions, and a pipelined put is a few hundred instructions in all. A waiter spins a while,
// then yields, so that a holder preempted on a busy machine gets the CPU back.
#pragma once

#include <atomic>
#include <thread>

namespace beanpole::detail {

class spin_mutex {
 public:
  void lock() noexcept {
    if (!locked_.exchange(true, std::memory_order_acquire)) return;  // free: the common case
    lock_contended();
  }
  bool try_lock() noexcept {
    return !locked_.load(std::memory_order_relaxed) &&
           !locked_.exchange(true, std::memory_order_acquire);
  }
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }

 private:
  static constexpr int max_spins = 64;

  // Out of line, so that the uncontended path above stays small enough to inline.
  [[gnu::noinline]] void lock_contended() noexcept {
    do {
      for (int spins = 0; locked_.load(std::memory_order_relaxed); ++spins) {
        if (spins < max_spins) {
          relax();
        } else {
          std::this_thread::yield();
        }
      }
    } while (locked_.exchange(true, std::memory_order_acquire));
  }

  static void relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }

  std::atomic<bool> locked_{false};
};

}  // namespace beanpole::detail
