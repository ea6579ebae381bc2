// Small helpers shared by the integration tests of the blocking client.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <system_error>
#include <thread>

#include "beanpole/client.hpp"
#include "beanpole/error.hpp"

namespace beanpole::testing {

using namespace std::chrono_literals;

/// Measures elapsed wall time.
class stopwatch {
 public:
  stopwatch() : start_(std::chrono::steady_clock::now()) {}
  std::chrono::milliseconds elapsed() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 start_);
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

/// Polls `done` every 10 ms until it is true or `limit` passes; returns its last value.
inline bool eventually(const std::function<bool()>& done,
                       std::chrono::milliseconds limit = std::chrono::seconds{3}) {
  const auto until = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
}

/// The connection still answers commands (after an error that must leave it usable).
inline ::testing::AssertionResult still_usable(client& c) {
  std::error_code ec;
  const std::string used = c.list_tube_used(ec);
  if (ec) return ::testing::AssertionFailure() << "list-tube-used failed: " << ec.message();
  if (!c.is_open()) return ::testing::AssertionFailure() << "connection is closed";
  return ::testing::AssertionSuccess() << "uses " << used;
}

/// Runs `f`, which must throw `beanpole::error` with code `expected`.
template <class F>
::testing::AssertionResult throws_errc(F&& f, std::error_code expected) {
  try {
    std::forward<F>(f)();
  } catch (const beanpole::error& e) {
    if (e.code() == expected) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "threw " << e.code() << " (" << e.what() << "), expected " << expected;
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "threw a non-beanpole exception: " << e.what();
  }
  return ::testing::AssertionFailure() << "did not throw, expected " << expected;
}

/// All 256 byte values, in order.
inline std::string all_bytes() {
  std::string s(256, '\0');
  for (int i = 0; i < 256; ++i) s[static_cast<std::size_t>(i)] = static_cast<char>(i);
  return s;
}

}  // namespace beanpole::testing
