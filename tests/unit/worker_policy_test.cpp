// The worker's pure decisions, without sockets: retry delays (the library's `beanpole::backoff`
// rounded to whole seconds: growth, cap, jitter bounds), the bury-or-release decision, and the
// touch schedule.
#include <gtest/gtest.h>

#include <random>

#include "beanpole/worker.hpp"

namespace beanpole {
namespace {

using namespace std::chrono_literals;

backoff policy(std::chrono::seconds initial, std::chrono::seconds max, double jitter) {
  return backoff{initial, max, jitter};
}

/// The release delay of a failed job after `attempt` reservations (never buried).
std::chrono::seconds retry_delay(const backoff& p, std::uint64_t attempt, double unit_random) {
  return decide_failure(attempt, 0, p, unit_random).delay;
}

TEST(worker_backoff, defaults_are_documented_ones) {
  const worker_options o;
  EXPECT_EQ(o.backoff.initial, 1s);
  EXPECT_EQ(o.backoff.max, 300s);
  EXPECT_DOUBLE_EQ(o.backoff.jitter, 0.2);
  EXPECT_EQ(o.max_attempts, 5u);
  EXPECT_EQ(o.grace, 30s);
  EXPECT_EQ(o.concurrency, 1u);
}

TEST(worker_backoff, doubles_from_initial_without_jitter) {
  const auto p = policy(1s, 300s, 0.0);
  const std::chrono::seconds expected[] = {1s, 2s, 4s, 8s, 16s, 32s, 64s, 128s, 256s, 300s, 300s};
  for (std::uint64_t n = 1; n <= std::size(expected); ++n) {
    EXPECT_EQ(retry_delay(p, n, 0.5), expected[n - 1]) << "attempt " << n;
  }
  EXPECT_EQ(retry_delay(p, 0, 0.0), 1s) << "attempt 0 counts as the first";
}

TEST(worker_backoff, never_exceeds_the_cap_and_never_overflows) {
  const auto p = policy(7s, 100s, 0.3);
  for (std::uint64_t n : {1ULL, 2ULL, 5ULL, 63ULL, 64ULL, 65ULL, 1000ULL, ~0ULL}) {
    for (double u : {0.0, 0.25, 0.5, 0.999, 1.0}) {
      const auto d = retry_delay(p, n, u);
      EXPECT_LE(d, 100s) << n << " " << u;
      EXPECT_GE(d, 0s) << n << " " << u;
    }
  }
  EXPECT_EQ(retry_delay(p, ~0ULL, 0.0), 100s);
  EXPECT_EQ(retry_delay(policy(10s, 5s, 0.0), 1, 0.0), 5s) << "a cap below the first delay wins";
}

TEST(worker_backoff, jitter_only_shortens_within_its_fraction) {
  const auto p = policy(1s, 300s, 0.2);
  std::mt19937 rng(42);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (std::uint64_t n = 1; n <= 12; ++n) {
    const double base = std::min(300.0, static_cast<double>(1ULL << (n - 1)));
    for (int i = 0; i < 200; ++i) {
      const auto d = static_cast<double>(retry_delay(p, n, unit(rng)).count());
      // Rounded to whole seconds: within half a second of [0.8 base, base].
      EXPECT_LE(d, base + 0.5) << "attempt " << n;
      EXPECT_GE(d, 0.8 * base - 0.5) << "attempt " << n;
    }
  }
  EXPECT_EQ(retry_delay(p, 9, 0.0), 256s);
  EXPECT_EQ(retry_delay(p, 9, 1.0), 205s);  // 256 * 0.8 = 204.8
  EXPECT_EQ(retry_delay(p, 20, 1.0), 240s) << "jitter still spreads delays at the cap";
}

TEST(worker_backoff, grows_for_every_random_draw) {
  // With jitter <= 0.5 every delay is at least the previous one's lower bound: the n+1-th delay
  // with the most jitter is never below the n-th delay with none (until the cap).
  const auto p = policy(1s, 300s, 0.5);
  for (std::uint64_t n = 1; n < 9; ++n) {
    EXPECT_GE(retry_delay(p, n + 1, 1.0), retry_delay(p, n, 0.0)) << "attempt " << n;
  }
}

TEST(worker_backoff, odd_inputs) {
  EXPECT_EQ(retry_delay(policy(0s, 300s, 0.2), 3, 0.5), 0s) << "initial 0: retry at once";
  EXPECT_EQ(retry_delay(policy(1s, 300s, 5.0), 3, 1.0), 0s) << "jitter is clamped to 1";
  EXPECT_EQ(retry_delay(policy(4s, 300s, -1.0), 1, 1.0), 4s) << "negative jitter is clamped to 0";
  EXPECT_EQ(retry_delay(policy(4s, 300s, 0.5), 1, 7.0), 2s) << "u is clamped to 1";
  EXPECT_EQ(retry_delay(policy(4s, 300s, 0.5), 1, -3.0), 4s) << "u is clamped to 0";
}

TEST(worker_backoff, rounds_to_whole_seconds_for_the_server) {
  // beanstalkd delays are whole seconds: the worker sends the nearest one.
  EXPECT_EQ(retry_delay(backoff{1500ms, 300s, 0.0}, 1, 0.0), 2s);
  EXPECT_EQ(retry_delay(backoff{1499ms, 300s, 0.0}, 1, 0.0), 1s);
  EXPECT_EQ(retry_delay(backoff{400ms, 300s, 0.0}, 1, 0.0), 0s) << "retried at once";
  EXPECT_EQ(retry_delay(backoff{400ms, 300s, 0.0}, 2, 0.0), 1s) << "800 ms";
}

TEST(worker_backoff, failure_decision_buries_at_max_attempts) {
  const auto p = policy(1s, 300s, 0.0);
  EXPECT_EQ(decide_failure(1, 3, p, 0.0), (failure_action{false, 1s}));
  EXPECT_EQ(decide_failure(2, 3, p, 0.0), (failure_action{false, 2s}));
  EXPECT_EQ(decide_failure(3, 3, p, 0.0), (failure_action{true, 0s}));
  EXPECT_EQ(decide_failure(9, 3, p, 0.0), (failure_action{true, 0s})) << "past the limit too";
  EXPECT_EQ(decide_failure(1, 1, p, 0.0), (failure_action{true, 0s})) << "one attempt only";
  EXPECT_EQ(decide_failure(50, 0, p, 0.0), (failure_action{false, 300s})) << "0: never bury";
}

TEST(worker_keepalive, touches_before_the_time_to_run_ends) {
  EXPECT_EQ(keepalive_interval(1s, 1000ms), 500ms);
  EXPECT_EQ(keepalive_interval(2s, 1000ms), 1000ms);
  EXPECT_EQ(keepalive_interval(3s, 1000ms), 2000ms);
  EXPECT_EQ(keepalive_interval(60s, 1000ms), 59000ms);
  EXPECT_EQ(keepalive_interval(0s, 1000ms), 500ms) << "the server makes ttr 0 into 1 s";
  EXPECT_EQ(keepalive_interval(10s, 0ms), 10000ms);
  EXPECT_EQ(keepalive_interval(10s, 60000ms), 5000ms) << "never later than half the ttr";
  for (int ttr = 1; ttr <= 120; ++ttr) {
    const auto i = keepalive_interval(std::chrono::seconds{ttr}, 1000ms);
    EXPECT_LT(i, std::chrono::seconds{ttr});
    EXPECT_GE(i, std::chrono::seconds{ttr} / 2);
  }
}

}  // namespace
}  // namespace beanpole
