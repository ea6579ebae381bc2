// The worker keeps a job's time to run alive: a handler that runs for three times the job's TTR
// finishes it exactly once, and a second worker on the same tube never gets it meanwhile.
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <atomic>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "async_test_support.hpp"
#include "beanpole/worker.hpp"
#include "server_test.hpp"
#include "test_helpers.hpp"
#include "worker_test_support.hpp"

namespace beanpole::testing {
namespace {

using namespace std::chrono_literals;

put_options with_ttr(std::chrono::seconds ttr) {
  put_options p;
  p.ttr = ttr;
  return p;
}

class worker_ttr : public server_test {
 protected:
  std::chrono::seconds time_limit() const override { return std::chrono::seconds{20}; }
};

// Two jobs, TTR 1 s and 2 s, whose plain-function handlers run 3 s and 6 s; a second worker
// waits on the same tube all along and must get neither.
TEST_F(worker_ttr, plain_handlers_outlive_their_ttr_three_times) {
  auto producer = make_client();
  const job_id short_job = producer.put("ttr1", with_ttr(1s));
  const job_id long_job = producer.put("ttr2", with_ttr(2s));

  io_threads io;
  auto options = test_options();
  options.concurrency = 2;
  worker first(io.executor(), server().endpoint(), options);
  std::atomic<int> calls{0};
  std::mutex mu;
  std::vector<std::string> checks;  // failures seen inside handlers, reported at the end
  const auto endpoint = server().endpoint();
  first.handle(tube(), [&](job_context& ctx) {
    ++calls;
    const auto run_for = 3 * ctx.ttr();
    std::this_thread::sleep_for(run_for);
    // After three times its TTR the job is still ours, reserved once, never timed out.
    client inspector(endpoint, client_options());
    const auto st = inspector.stats_job(ctx.id());
    std::lock_guard lock(mu);
    if (st.state != "reserved" || st.reserves != 1 || st.timeouts != 0) {
      checks.push_back("job " + std::to_string(ctx.id().value) + ": state " + st.state +
                       ", reserves " + std::to_string(st.reserves) + ", timeouts " +
                       std::to_string(st.timeouts));
    }
  });
  auto first_run = start_run(first);
  ASSERT_TRUE(eventually([&] { return calls.load() == 2; }, 3s));

  options.concurrency = 2;
  worker second(io.executor(), server().endpoint(), options);
  std::atomic<int> second_calls{0};
  second.handle(tube(), [&](job_context&) { ++second_calls; });
  auto second_run = start_run(second);

  const stopwatch clock;
  ASSERT_TRUE(eventually([&] { return first.metrics().total().deleted == 2; }, 10s));
  EXPECT_GE(clock.elapsed(), 4s) << "the 6 s handler started less than 2 s before";
  first.stop();
  second.stop();
  EXPECT_TRUE(run_ends(first_run, 5s));
  EXPECT_TRUE(run_ends(second_run, 5s));

  EXPECT_EQ(calls.load(), 2);
  EXPECT_EQ(second_calls.load(), 0);
  for (const auto& c : checks) ADD_FAILURE() << c;
  const auto m = first.metrics().total();
  EXPECT_EQ(m.reserved, 2u);
  EXPECT_EQ(m.succeeded, 2u);
  EXPECT_EQ(m.deleted, 2u);
  EXPECT_EQ(m.lost, 0u);
  EXPECT_EQ(m.in_flight, 0u);
  // TTR 1 s: a touch every 0.5 s for 3 s; TTR 2 s: every 1 s for 6 s.
  EXPECT_GE(m.touched, 8u);
  EXPECT_EQ(second.metrics().total().reserved, 0u);
  EXPECT_FALSE(producer.peek(short_job));
  EXPECT_FALSE(producer.peek(long_job));
}

// The same with a coroutine handler that awaits a timer for 3 s on a TTR of 1 s; meanwhile the
// server reports the job reserved once, never timed out.
TEST_F(worker_ttr, coroutine_handler_outlives_its_ttr_three_times) {
  auto producer = make_client();
  const job_id id = producer.put("coro", with_ttr(1s));

  io_threads io;
  worker w(io.executor(), server().endpoint(), test_options());
  std::atomic<int> calls{0};
  w.handle(tube(), [&](job_context& ctx) -> asio::awaitable<void> {
    ++calls;
    asio::steady_timer t(co_await asio::this_coro::executor, 3 * ctx.ttr());
    co_await t.async_wait(asio::use_awaitable);
  });
  auto run = start_run(w);
  ASSERT_TRUE(eventually([&] { return calls.load() == 1; }, 3s));

  std::this_thread::sleep_for(2500ms);
  const auto st = producer.stats_job(id);
  EXPECT_EQ(st.state, "reserved");
  EXPECT_EQ(st.reserves, 1u);
  EXPECT_EQ(st.timeouts, 0u);

  ASSERT_TRUE(eventually([&] { return w.metrics().total().deleted == 1; }, 3s));
  w.stop();
  EXPECT_TRUE(run_ends(run, 5s));
  EXPECT_EQ(calls.load(), 1);
  EXPECT_GE(w.metrics().total().touched, 4u);
  EXPECT_FALSE(producer.peek(id));
}

// A handler may ask for more time itself; with automatic touches off, that alone keeps the job.
TEST_F(worker_ttr, explicit_touch_keeps_the_job_without_auto_touch) {
  auto producer = make_client();
  const job_id id = producer.put("manual", with_ttr(1s));

  io_threads io;
  auto options = test_options();
  options.auto_touch = false;
  worker w(io.executor(), server().endpoint(), options);
  std::atomic<int> calls{0};
  w.handle(tube(), [&](job_context& ctx) {
    ++calls;
    for (int i = 0; i < 8; ++i) {
      std::this_thread::sleep_for(250ms);
      ctx.touch();
    }
  });
  auto run = start_run(w);
  ASSERT_TRUE(eventually([&] { return w.metrics().total().deleted == 1; }, 5s));
  w.stop();
  EXPECT_TRUE(run_ends(run, 5s));
  EXPECT_EQ(calls.load(), 1);
  const auto m = w.metrics().total();
  EXPECT_GE(m.touched, 6u);
  EXPECT_EQ(m.lost, 0u);
  EXPECT_FALSE(producer.peek(id));
}

}  // namespace
}  // namespace beanpole::testing
