// Helpers shared by the async client's integration tests: futures with time limits, an
// io_context on background threads that fails the test when an operation never completes, and
// a server frozen for a scope.
#pragma once

#include <algorithm>
#include <asio/any_io_executor.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <atomic>
#include <chrono>
#include <csignal>
#include <future>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <asio/awaitable.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>

#include "beanpole/async_client.hpp"

#include "beanstalkd_server.hpp"
#include "test_helpers.hpp"

namespace beanpole::testing {

using namespace std::chrono_literals;

/// The error a future ended with (none on success); `std::errc::operation_in_progress` when it
/// did not end within `limit`, i.e. the operation never completed.
template <class T>
std::error_code error_of(std::future<T> f, std::chrono::milliseconds limit = 5s) {
  if (f.wait_for(limit) != std::future_status::ready) {
    return std::make_error_code(std::errc::operation_in_progress);
  }
  try {
    f.get();
    return {};
  } catch (const std::system_error& e) {
    return e.code();
  }
}

/// The value of a future that must succeed within `limit`; throws (failing the test) otherwise.
template <class T>
T value_of(std::future<T> f, std::chrono::milliseconds limit = 5s) {
  if (f.wait_for(limit) != std::future_status::ready) {
    throw std::runtime_error("an async operation did not complete in time");
  }
  return f.get();
}

/// Runs an io_context on background threads. `stop()` (or the destructor) lets them finish once
/// no work is left, and fails the test if some operation never completed within a bound.
class io_threads {
 public:
  explicit io_threads(std::size_t n = 1) : guard_(asio::make_work_guard(io_)) {
    for (std::size_t i = 0; i < n; ++i) {
      threads_.emplace_back([this] {
        io_.run();
        ++finished_;
      });
    }
  }
  ~io_threads() { stop(); }
  io_threads(const io_threads&) = delete;
  io_threads& operator=(const io_threads&) = delete;

  asio::io_context& io() { return io_; }
  asio::any_io_executor executor() { return io_.get_executor(); }

  void stop(std::chrono::milliseconds limit = 5s) {
    if (threads_.empty()) return;
    guard_.reset();
    if (!eventually([&] { return finished_.load() == threads_.size(); }, limit)) {
      ADD_FAILURE() << "the io_context still had work " << limit.count()
                    << " ms after the test: some operation never completed";
      io_.stop();
    }
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::vector<std::thread> threads_;
  std::atomic<std::size_t> finished_{0};
};

/// Runs `io` on this thread until `done()` or `limit`; returns `done()`.
template <class Pred>
bool run_until(asio::io_context& io, Pred done, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    if (io.stopped()) io.restart();
    io.run_for(10ms);
  }
  return true;
}

/// SIGSTOP for a scope, SIGCONT on every way out.
class frozen_server {
 public:
  explicit frozen_server(beanstalkd_server& s) : server_(s) { server_.signal(SIGSTOP); }
  ~frozen_server() { thaw(); }
  frozen_server(const frozen_server&) = delete;
  frozen_server& operator=(const frozen_server&) = delete;
  void thaw() {
    if (frozen_) server_.signal(SIGCONT);
    frozen_ = false;
  }

 private:
  beanstalkd_server& server_;
  bool frozen_ = true;
};

inline std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

/// Options for the async clients of tests: connect timeout 2 s, reply timeout `reply`.
inline async_client_options test_client_options(std::chrono::milliseconds reply = 5s) {
  async_client_options o;
  o.connect_timeout = 2s;
  o.reply_timeout = reply;
  return o;
}

/// Connects `c` and makes it use and watch only `t`. `c` must run on another thread.
inline void connect_to_tube(async_client& c, const tube_name& t) {
  value_of(c.async_connect(asio::use_future));
  value_of(c.async_use(t, asio::use_future));
  value_of(c.async_watch(t, asio::use_future));
  value_of(c.async_ignore("default", asio::use_future));
}

/// The same from a coroutine on `c`'s own executor.
inline asio::awaitable<void> co_connect_to_tube(async_client& c, const tube_name& t) {
  co_await c.async_connect(asio::use_awaitable);
  co_await c.async_use(t, asio::use_awaitable);
  co_await c.async_watch(t, asio::use_awaitable);
  co_await c.async_ignore("default", asio::use_awaitable);
}

}  // namespace beanpole::testing
