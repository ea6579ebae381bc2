// Helpers shared by the worker's integration tests.
#pragma once

#include <chrono>
#include <future>
#include <memory>
#include <system_error>

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

}  // namespace beanpole::testing
