// Helpers shared by the worker's integration tests.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <vector>

#include "beanpole/worker.hpp"

namespace beanpole::testing {

using namespace std::chrono_literals;

inline worker_options test_options() {
  worker_options o;
  o.client.connect_timeout = 2s;
  o.client.reply_timeout = 5s;
  return o;
}

/// Starts `w`'s run; the future gets the completion's error code. (A callback rather than
/// `asio::use_future`: no exception object crosses threads, which ThreadSanitizer cannot follow
/// through the uninstrumented libstdc++.)
inline std::future<std::error_code> start_run(worker& w) {
  auto done = std::make_shared<std::promise<std::error_code>>();
  auto f = done->get_future();
  w.async_run([done](std::error_code ec) { done->set_value(ec); });
  return f;
}

/// How a run ended: "" (success), "timeout" or the error's message.
inline std::string run_result(std::future<std::error_code>& f, std::chrono::milliseconds limit) {
  if (f.wait_for(limit) != std::future_status::ready) return "timeout";
  const auto ec = f.get();
  return ec ? ec.message() : std::string();
}

/// Waits for a run's future; fails the test if it does not end within `limit` or ends in error.
inline ::testing::AssertionResult run_ends(std::future<std::error_code>& f,
                                           std::chrono::milliseconds limit) {
  if (f.wait_for(limit) != std::future_status::ready) {
    return ::testing::AssertionFailure() << "the run did not end within " << limit.count() << " ms";
  }
  if (const auto ec = f.get()) {
    return ::testing::AssertionFailure() << "the run failed: " << ec.message();
  }
  return ::testing::AssertionSuccess();
}

/// The events a worker reports, recorded from whichever thread reports them.
class worker_event_log {
 public:
  /// Makes a worker built with `options` record its events here (the log must outlive it).
  void record_from(worker_options& options) {
    options.on_event = [this](const worker_event& e) {
      std::lock_guard lock(mu_);
      events_.push_back(e);
    };
  }
  /// A copy of the events so far, in the order reported.
  std::vector<worker_event> events() const {
    std::lock_guard lock(mu_);
    return events_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<worker_event> events_;
};

}  // namespace beanpole::testing
