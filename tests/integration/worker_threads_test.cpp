// Workers on several threads: two workers (each on its own io_context thread, several slots)
// split 10,000 jobs of one tube with none processed twice and none lost; plain handlers run on
// the worker's thread pool, several at once.
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <atomic>
#include <future>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <vector>

#include "async_test_support.hpp"
#include "beanpole/async_client.hpp"
#include "beanpole/worker.hpp"
#include "server_test.hpp"
#include "test_helpers.hpp"
#include "worker_test_support.hpp"

namespace beanpole::testing {
namespace {

using namespace std::chrono_literals;

/// Puts `n` jobs (body = index) into `tube` through a pipelined async client; returns their ids.
std::vector<job_id> put_jobs(const endpoint& ep, const tube_name& tube, std::size_t n) {
  asio::io_context io;
  async_client_options o;
  o.connect_timeout = 2s;
  o.reply_timeout = 10s;
  async_client c(io.get_executor(), ep, o);
  std::vector<job_id> ids(n);
  std::size_t done = 0;
  std::error_code failure;
  c.async_connect([&](std::error_code ec) {
    if (ec) {
      failure = ec;
      return;
    }
    c.async_use(tube, [](std::error_code) {});
    for (std::size_t i = 0; i < n; ++i) {
      c.async_put(std::to_string(i), {}, [&, i](std::error_code pec, job_id id) {
        if (pec) failure = pec;
        ids[i] = id;
        if (++done == n) c.close();
      });
    }
  });
  io.run_for(60s);
  if (failure) throw std::system_error(failure, "put");
  if (done != n) throw std::runtime_error("puts did not complete");
  return ids;
}

class worker_threads : public server_test {
 protected:
  std::chrono::seconds time_limit() const override { return std::chrono::seconds{50}; }
};

TEST_F(worker_threads, two_workers_split_ten_thousand_jobs) {
  constexpr std::size_t total = 10'000;
  auto inspector = make_client();  // keeps the tube (and its counters) alive after the workers
  // Both workers wait before the jobs arrive, so that both get a share.
  io_threads io_a;
  io_threads io_b;
  auto options = test_options();
  options.concurrency = 8;
  worker a(io_a.executor(), server().endpoint(), options);
  worker b(io_b.executor(), server().endpoint(), options);

  std::mutex mu;
  std::unordered_map<std::uint64_t, int> handled;  // id -> times handled
  std::atomic<std::size_t> count_a{0};
  std::atomic<std::size_t> count_b{0};
  std::atomic<std::size_t> reattempts{0};
  const auto handler = [&](std::atomic<std::size_t>& mine) {
    return [&](job_context& ctx) -> asio::awaitable<void> {
      if (ctx.attempt() != 1) ++reattempts;
      {
        std::lock_guard lock(mu);
        ++handled[ctx.id().value];
      }
      ++mine;
      co_return;
    };
  };
  a.handle(tube(), handler(count_a));
  b.handle(tube(), handler(count_b));
  auto run_a = start_run(a);
  auto run_b = start_run(b);

  const stopwatch clock;
  const std::vector<job_id> ids = put_jobs(server().endpoint(), tube(), total);
  const auto put_time = clock.elapsed();
  ASSERT_TRUE(eventually(
      [&] { return a.metrics().total().deleted + b.metrics().total().deleted == total; }, 40s))
      << "deleted " << a.metrics().total().deleted << " + " << b.metrics().total().deleted;
  const auto work_time = clock.elapsed();
  a.stop();
  b.stop();
  EXPECT_EQ(run_result(run_a, 5s), "");
  EXPECT_EQ(run_result(run_b, 5s), "");
  std::printf("puts %lld ms, all handled after %lld ms: worker a %zu, worker b %zu\n",
              static_cast<long long>(put_time.count()), static_cast<long long>(work_time.count()),
              count_a.load(), count_b.load());

  // Every id handled exactly once, by one of the two.
  std::lock_guard lock(mu);
  EXPECT_EQ(handled.size(), total);
  std::size_t twice = 0;
  for (const auto& [id, n] : handled) twice += n != 1 ? 1 : 0;
  EXPECT_EQ(twice, 0u);
  for (const job_id id : ids) EXPECT_EQ(handled.count(id.value), 1u) << id;
  EXPECT_EQ(count_a.load() + count_b.load(), total);
  EXPECT_GT(count_a.load(), 0u);
  EXPECT_GT(count_b.load(), 0u);
  EXPECT_EQ(reattempts.load(), 0u) << "a job was reserved more than once";

  const auto ma = a.metrics().total();
  const auto mb = b.metrics().total();
  EXPECT_EQ(ma.reserved + mb.reserved, total);
  EXPECT_EQ(ma.succeeded + mb.succeeded, total);
  EXPECT_EQ(ma.lost + mb.lost, 0u);
  EXPECT_EQ(ma.released + mb.released + ma.retried + mb.retried, 0u);

  const auto st = inspector.stats_tube(tube());
  EXPECT_EQ(st.current_jobs_ready, 0u);
  EXPECT_EQ(st.current_jobs_reserved, 0u);
  EXPECT_EQ(st.current_jobs_delayed, 0u);
  EXPECT_EQ(st.current_jobs_buried, 0u);
  EXPECT_EQ(st.total_jobs, total);
  EXPECT_EQ(st.cmd_delete, total);
}

// Plain handlers block on the worker's own threads, several at once, while the I/O thread keeps
// touching and settling; two io threads drive the worker.
TEST_F(worker_threads, plain_handlers_run_in_parallel) {
  auto producer = make_client();
  for (int i = 0; i < 8; ++i) producer.put("job");
  io_threads io(2);
  auto options = test_options();
  options.concurrency = 4;
  worker w(io.executor(), server().endpoint(), options);
  std::atomic<int> running{0};
  std::atomic<int> most{0};
  w.handle(tube(), [&](job_context&) {
    const int now = ++running;
    int seen = most.load();
    while (now > seen && !most.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(300ms);
    --running;
  });
  auto run = start_run(w);
  ASSERT_TRUE(eventually([&] { return w.metrics().total().deleted == 8; }, 5s));
  w.stop();
  EXPECT_EQ(run_result(run, 5s), "");
  EXPECT_EQ(most.load(), 4);
  EXPECT_EQ(w.metrics().total().latency.count, 8u);
}

}  // namespace
}  // namespace beanpole::testing
