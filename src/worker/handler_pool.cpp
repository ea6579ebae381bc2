#include "worker/handler_pool.hpp"

#include <algorithm>
#include <utility>

namespace beanpole::detail {

handler_pool::handler_pool(std::size_t threads) : state_(std::make_shared<state>()) {
  threads = std::max<std::size_t>(threads, 1);
  state_->busy.assign(threads, false);
  threads_.reserve(threads);
  try {
    for (std::size_t i = 0; i < threads; ++i) {
      threads_.emplace_back([s = state_, i] { loop(s, i); });
    }
  } catch (...) {
    // The system refused a thread (EAGAIN): the ones made so far are idle; join them, so that
    // no joinable std::thread is destroyed (std::terminate), and report the failure.
    shutdown();
    throw;
  }
}

handler_pool::~handler_pool() {
  shutdown();
}

void handler_pool::submit(std::function<void()> task) {
  {
    std::lock_guard lock(state_->mu);
    if (state_->closing) return;  // `task` is destroyed on return
    state_->queue.push_back(std::move(task));
  }
  state_->cv.notify_one();
}

void handler_pool::shutdown() {
  std::vector<bool> busy;
  std::deque<std::function<void()>> dropped;
  {
    std::lock_guard lock(state_->mu);
    if (state_->closing && threads_.empty()) return;
    state_->closing = true;
    busy = state_->busy;
    dropped.swap(state_->queue);
  }
  state_->cv.notify_all();
  dropped.clear();  // outside the lock: destroying a task may take other locks
  for (std::size_t i = 0; i < threads_.size(); ++i) {
    // A thread idle at the check can no longer become busy (`closing` is set), so it exits now.
    if (busy[i]) {
      threads_[i].detach();
    } else {
      threads_[i].join();
    }
  }
  threads_.clear();
}

void handler_pool::loop(const std::shared_ptr<state>& s, std::size_t index) {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(s->mu);
      s->cv.wait(lock, [&] { return s->closing || !s->queue.empty(); });
      if (s->closing) return;
      task = std::move(s->queue.front());
      s->queue.pop_front();
      s->busy[index] = true;
    }
    task();
    task = nullptr;  // its captures go before the thread counts as idle
    std::lock_guard lock(s->mu);
    s->busy[index] = false;
  }
}

}  // namespace beanpole::detail
