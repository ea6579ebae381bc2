// Stopping a worker: running handlers may finish within the grace period; past it their jobs are
// released (ready again, not lost, not reserved) and their late results ignored; a second stop
// or signal stops at once; SIGTERM works like stop(); an idle worker can stop by itself.
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <future>
#include <mutex>
#include <thread>

#include "async_test_support.hpp"
#include "beanpole/worker.hpp"
#include "server_test.hpp"
#include "test_helpers.hpp"
#include "worker_test_support.hpp"

namespace beanpole::testing {
namespace {

using namespace std::chrono_literals;

/// The job is back in the queue: ready, reserved `reserves` times, not held by anyone.
::testing::AssertionResult ready_again(client& c, job_id id, std::uint64_t reserves) {
  std::error_code ec;
  const auto st = c.stats_job(id, ec);
  if (ec) return ::testing::AssertionFailure() << "stats-job: " << ec.message();
  if (st.state != "ready" || st.reserves != reserves) {
    return ::testing::AssertionFailure() << "state " << st.state << ", reserves " << st.reserves
                                         << " (expected ready, " << reserves << ")";
  }
  return ::testing::AssertionSuccess();
}

class worker_shutdown : public server_test {};

TEST_F(worker_shutdown, stop_during_a_long_job_lets_it_finish) {
  auto producer = make_client();
  const job_id first = producer.put("long");
  const job_id second = producer.put("never started");

  io_threads io;
  auto options = test_options();
  options.grace = 10s;
  worker w(io.executor(), server().endpoint(), options);
  std::atomic<int> calls{0};
  std::atomic<bool> saw_stopping{false};
  w.handle(tube(), [&](job_context& ctx) {
    ++calls;
    std::this_thread::sleep_for(1500ms);
    saw_stopping = ctx.stopping();
  });
  auto run = start_run(w);
  ASSERT_TRUE(eventually([&] { return calls.load() == 1; }, 3s));
  const stopwatch clock;
  w.stop();
  EXPECT_EQ(run_result(run, 5s), "");
  EXPECT_LT(clock.elapsed(), 3s);
  EXPECT_GE(clock.elapsed(), 1s) << "the run ended before its handler";
  EXPECT_EQ(calls.load(), 1);
  EXPECT_TRUE(saw_stopping.load());
  EXPECT_FALSE(producer.peek(first)) << "finished within the grace period: deleted";
  EXPECT_TRUE(ready_again(producer, second, 0)) << "nothing new is reserved after stop()";
  const auto m = w.metrics().total();
  EXPECT_EQ(m.succeeded, 1u);
  EXPECT_EQ(m.deleted, 1u);
  EXPECT_EQ(m.abandoned, 0u);
}

// The handler waits until the worker gives up on it (its stop token), then asks for a delete:
// too late, the job was released at the end of the grace period and must stay.
TEST_F(worker_shutdown, job_outliving_the_grace_period_is_released_and_late_result_ignored) {
  auto producer = make_client();
  const job_id id = producer.put("slow");

  io_threads io;
  auto options = test_options();
  options.grace = 1s;
  worker w(io.executor(), server().endpoint(), options);
  std::atomic<int> calls{0};
  std::atomic<bool> returned{false};
  w.handle(tube(), [&](job_context& ctx) {
    ++calls;
    std::mutex mu;
    std::condition_variable cv;
    bool cancelled = false;
    std::stop_callback on_cancel(ctx.stop_token(), [&] {
      std::lock_guard lock(mu);
      cancelled = true;
      cv.notify_all();
    });
    std::unique_lock lock(mu);
    cv.wait_for(lock, 10s, [&] { return cancelled; });
    lock.unlock();
    std::this_thread::sleep_for(200ms);  // the release is on its way meanwhile
    ctx.remove();                        // ignored: the handler was abandoned
    ctx.touch();                         // ignored too
    returned = true;
  });
  auto run = start_run(w);
  ASSERT_TRUE(eventually([&] { return calls.load() == 1; }, 3s));
  const stopwatch clock;
  w.stop();
  EXPECT_EQ(run_result(run, 5s), "");
  EXPECT_GE(clock.elapsed(), 900ms);
  EXPECT_LT(clock.elapsed(), 3s);
  ASSERT_TRUE(eventually([&] { return returned.load(); }, 3s));
  std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(ready_again(producer, id, 1));
  const auto m = w.metrics().total();
  EXPECT_EQ(m.abandoned, 1u);
  EXPECT_EQ(m.released, 1u);
  EXPECT_EQ(m.deleted, 0u);
  EXPECT_EQ(m.succeeded, 0u) << "the late result is not counted";
  EXPECT_EQ(m.in_flight, 0u);
  producer.remove(id);
}

// A handler that ignores everything keeps running on a detached thread after the run; the worker
// and the test go on. The handler only touches what it owns.
TEST_F(worker_shutdown, stubborn_plain_handler_is_left_behind) {
  auto producer = make_client();
  const job_id id = producer.put("stubborn");

  auto still_running = std::make_shared<std::atomic<bool>>(false);
  {
    io_threads io;
    auto options = test_options();
    options.grace = 1s;
    worker w(io.executor(), server().endpoint(), options);
    w.handle(tube(), [still_running](job_context& ctx) {
      *still_running = true;
      std::this_thread::sleep_for(2500ms);
      ctx.fail("too late");  // ignored: abandoned, the run is over and the worker gone
      *still_running = false;
    });
    auto run = start_run(w);
    ASSERT_TRUE(eventually([&] { return still_running->load(); }, 3s));
    const stopwatch clock;
    w.stop();
    EXPECT_EQ(run_result(run, 5s), "");
    EXPECT_LT(clock.elapsed(), 2s);
    EXPECT_TRUE(still_running->load());
    EXPECT_EQ(w.metrics().total().abandoned, 1u);
  }  // worker and io_context destroyed while the handler sleeps
  EXPECT_TRUE(ready_again(producer, id, 1));
  ASSERT_TRUE(eventually([&] { return !still_running->load(); }, 3s));
  EXPECT_TRUE(ready_again(producer, id, 1)) << "its late failure changed nothing";
  producer.remove(id);
}

// A coroutine handler gets a terminal cancellation at the end of the grace period.
TEST_F(worker_shutdown, coroutine_handler_is_cancelled_at_the_end_of_grace) {
  auto producer = make_client();
  const job_id id = producer.put("coro");

  io_threads io;
  auto options = test_options();
  options.grace = 1s;
  worker w(io.executor(), server().endpoint(), options);
  std::atomic<int> calls{0};
  std::atomic<bool> aborted{false};
  w.handle(tube(), [&](job_context&) -> asio::awaitable<void> {
    ++calls;
    asio::steady_timer t(co_await asio::this_coro::executor, 30s);
    try {
      co_await t.async_wait(asio::use_awaitable);
    } catch (const std::system_error& e) {
      aborted = e.code() == asio::error::operation_aborted;
      throw;
    }
  });
  auto run = start_run(w);
  ASSERT_TRUE(eventually([&] { return calls.load() == 1; }, 3s));
  w.stop();
  EXPECT_EQ(run_result(run, 5s), "");
  ASSERT_TRUE(eventually([&] { return aborted.load(); }, 2s));
  EXPECT_TRUE(ready_again(producer, id, 1));
  EXPECT_EQ(w.metrics().total().abandoned, 1u);
  EXPECT_EQ(w.metrics().total().failed, 0u) << "the abandoned handler's exception is ignored";
  producer.remove(id);
}

// SIGTERM stops gracefully; a second SIGTERM releases what still runs at once.
TEST_F(worker_shutdown, sigterm_stops_gracefully_and_a_second_one_at_once) {
  auto producer = make_client();
  const job_id graceful = producer.put("graceful");

  {
    io_threads io;
    auto options = test_options();
    options.handle_signals = true;
    options.grace = 10s;
    worker w(io.executor(), server().endpoint(), options);
    std::atomic<int> calls{0};
    w.handle(tube(), [&](job_context&) {
      ++calls;
      std::this_thread::sleep_for(800ms);
    });
    auto run = start_run(w);
    ASSERT_TRUE(eventually([&] { return calls.load() == 1; }, 3s));
    std::raise(SIGTERM);
    EXPECT_EQ(run_result(run, 5s), "");
    EXPECT_FALSE(producer.peek(graceful)) << "finished during the grace period";
    EXPECT_EQ(w.metrics().total().deleted, 1u);
  }

  const job_id abrupt = producer.put("abrupt");
  io_threads io;
  auto options = test_options();
  options.handle_signals = true;
  options.grace = 30s;
  worker w(io.executor(), server().endpoint(), options);
  auto release_handler = std::make_shared<std::atomic<bool>>(false);
  std::atomic<int> calls{0};
  w.handle(tube(), [&calls, release_handler](job_context& ctx) {
    ++calls;
    while (!ctx.stop_token().stop_requested() && !*release_handler) {
      std::this_thread::sleep_for(10ms);
    }
  });
  auto run = start_run(w);
  ASSERT_TRUE(eventually([&] { return calls.load() == 1; }, 3s));
  const stopwatch clock;
  std::raise(SIGTERM);
  std::this_thread::sleep_for(100ms);
  std::raise(SIGTERM);
  EXPECT_EQ(run_result(run, 3s), "");
  *release_handler = true;
  EXPECT_LT(clock.elapsed(), 2s) << "the second signal did not wait for the 30 s grace";
  EXPECT_TRUE(ready_again(producer, abrupt, 1));
  EXPECT_EQ(w.metrics().total().abandoned, 1u);
  producer.remove(abrupt);
}

TEST_F(worker_shutdown, stop_now_releases_at_once) {
  auto producer = make_client();
  const job_id id = producer.put("x");
  io_threads io;
  auto options = test_options();
  options.grace = 30s;
  worker w(io.executor(), server().endpoint(), options);
  std::atomic<int> calls{0};
  w.handle(tube(), [&](job_context& ctx) -> asio::awaitable<void> {
    ++calls;
    asio::steady_timer t(co_await asio::this_coro::executor, 30s);
    std::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    EXPECT_TRUE(ctx.stop_token().stop_requested());
  });
  auto run = start_run(w);
  ASSERT_TRUE(eventually([&] { return calls.load() == 1; }, 3s));
  w.stop_now();
  EXPECT_EQ(run_result(run, 2s), "");
  EXPECT_TRUE(ready_again(producer, id, 1));
  producer.remove(id);
}

TEST_F(worker_shutdown, idle_worker_stops_by_itself) {
  auto producer = make_client();
  for (int i = 0; i < 3; ++i) producer.put("job");
  io_threads io;
  auto options = test_options();
  options.stop_when_idle = 1s;
  worker w(io.executor(), server().endpoint(), options);
  w.handle(tube(), [](job_context&) -> asio::awaitable<void> { co_return; });
  auto run = start_run(w);
  EXPECT_EQ(run_result(run, 5s), "");
  EXPECT_EQ(w.metrics().total().deleted, 3u);
}

TEST_F(worker_shutdown, misuse_and_early_stop) {
  io_threads io;
  {
    worker w(io.executor(), server().endpoint(), test_options());
    auto run = start_run(w);
    EXPECT_NE(run_result(run, 2s), "") << "no handler: invalid argument";
  }
  {
    worker w(io.executor(), server().endpoint(), test_options());
    w.handle(tube(), [](job_context&) {});
    w.stop();
    auto run = start_run(w);
    EXPECT_EQ(run_result(run, 2s), "") << "stopped before it ran: ends at once";
    auto again = start_run(w);
    EXPECT_NE(run_result(again, 2s), "") << "a worker runs once";
    EXPECT_THROW(w.handle(tube(), [](job_context&) {}), std::logic_error);
  }
  {
    worker w(io.executor(), endpoint::tcp("127.0.0.1", find_free_loopback_port()), test_options());
    w.handle(tube(), [](job_context&) {});
    auto run = start_run(w);
    EXPECT_NE(run_result(run, 5s), "") << "nothing listens: the first connect fails the run";
  }
  {
    // A running worker that is destroyed closes its connections; its run is aborted.
    auto producer = make_client();
    const job_id id = producer.put("held");
    std::future<std::error_code> run;
    std::atomic<int> calls{0};
    {
      worker w(io.executor(), server().endpoint(), test_options());
      w.handle(tube(), [&](job_context&) -> asio::awaitable<void> {
        ++calls;
        asio::steady_timer t(co_await asio::this_coro::executor, 30s);
        std::error_code ec;
        co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      });
      run = start_run(w);
      ASSERT_TRUE(eventually([&] { return calls.load() == 1; }, 3s));
    }
    EXPECT_NE(run_result(run, 2s), "");
    EXPECT_TRUE(eventually([&] { return ready_again(producer, id, 1); }, 2s));
    producer.remove(id);
  }
}

// The blocking form with the worker's own io_context, stopped from another thread.
TEST_F(worker_shutdown, blocking_run_with_own_context) {
  auto producer = make_client();
  producer.put("a");
  worker w(server().endpoint(), test_options());
  std::atomic<int> calls{0};
  w.handle(tube(), [&](job_context&) { ++calls; });
  std::thread stopper([&] {
    eventually([&] { return calls.load() == 1; }, 3s);
    w.stop();
  });
  EXPECT_NO_THROW(w.run());
  stopper.join();
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(w.metrics().total().deleted, 1u);
}

// The blocking form on an executor that other threads run; a failed first connect throws.
TEST_F(worker_shutdown, blocking_run_on_an_outside_executor) {
  auto producer = make_client();
  producer.put("b");
  io_threads io;
  {
    worker w(io.executor(), server().endpoint(), test_options());
    std::atomic<int> calls{0};
    w.handle(tube(), [&](job_context&) -> asio::awaitable<void> {
      ++calls;
      co_return;
    });
    std::thread stopper([&] {
      eventually([&] { return calls.load() == 1; }, 3s);
      w.stop();
    });
    EXPECT_NO_THROW(w.run());
    stopper.join();
    EXPECT_EQ(w.metrics().total().deleted, 1u);
  }
  worker unreachable(io.executor(), endpoint::tcp("127.0.0.1", find_free_loopback_port()),
                     test_options());
  unreachable.handle(tube(), [](job_context&) {});
  try {
    unreachable.run();
    ADD_FAILURE() << "run() returned although nothing listens";
  } catch (const beanpole::error& e) {
    EXPECT_EQ(e.code(), asio::error::connection_refused) << e.what();
  }
}

}  // namespace
}  // namespace beanpole::testing
