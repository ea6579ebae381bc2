// The worker's handler threads: when the system refuses a thread, the pool reports it with an
// exception (which the worker turns into the run's error) instead of std::terminate, which a
// destroyed joinable std::thread would call (`beanpole work --concurrency 50000` aborted so).
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <system_error>
#include <thread>

#include "worker/handler_pool.hpp"

namespace beanpole::detail {
namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool sanitized = true;  // an address-space limit breaks the sanitizers' shadow memory
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool sanitized = true;
#else
constexpr bool sanitized = false;
#endif
#else
constexpr bool sanitized = false;
#endif

/// In a child process: limits the address space so that thread stacks cannot all be mapped,
/// then asks for far more threads than fit. Exit 0: the pool threw std::system_error.
[[noreturn]] void make_too_many_threads() {
  rlimit limit{};
  limit.rlim_cur = limit.rlim_max = rlim_t{512} << 20;
  if (::setrlimit(RLIMIT_AS, &limit) != 0) std::_Exit(4);
  try {
    handler_pool pool(5000);
  } catch (const std::system_error&) {
    std::_Exit(0);
  } catch (...) {
    std::_Exit(3);
  }
  std::_Exit(2);  // 5000 stacks in 512 MiB: cannot happen
}

TEST(handler_pool, a_thread_the_system_refuses_is_an_exception_not_an_abort) {
  if (sanitized) GTEST_SKIP() << "an address-space limit and a sanitizer do not mix";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(make_too_many_threads(), ::testing::ExitedWithCode(0), "");
}

TEST(handler_pool, runs_tasks_and_shuts_down) {
  handler_pool pool(3);
  std::atomic<int> ran{0};
  for (int i = 0; i < 10; ++i) pool.submit([&ran] { ++ran; });
  for (int i = 0; i < 500 && ran.load() < 10; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  pool.shutdown();
  EXPECT_EQ(ran.load(), 10);
}

}  // namespace
}  // namespace beanpole::detail
