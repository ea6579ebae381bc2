// What the worker does with a job when its handler ends: delete on success, release with a
// growing delay on failure and bury after `max_attempts` reservations, or what the handler asked
// for (bury, release with delay, delete). Counters match, and the Prometheus endpoint serves them.
#include <asio/connect.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>
#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <stdexcept>
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

/// GET `target` from 127.0.0.1:`port` with a plain blocking socket; returns the whole response.
std::string http_get(std::uint16_t port, const std::string& target,
                     const std::string& method = "GET") {
  asio::io_context io;
  asio::ip::tcp::socket s(io);
  s.connect(asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), port));
  const std::string request = method + " " + target + " HTTP/1.1\r\nHost: localhost\r\n" +
                              (method == "GET" ? "" : "Content-Length: 0\r\n") + "\r\n";
  asio::write(s, asio::buffer(request));
  std::string response;
  std::error_code ec;
  asio::read(s, asio::dynamic_buffer(response), ec);  // until the server closes
  return response;
}

class worker_outcome : public server_test {};

// A handler that always fails: released after 1 s, then after 2 s, then buried on the third
// reservation (max_attempts 3) — all from the server's own `reserves` count.
TEST_F(worker_outcome, failing_job_is_retried_with_growing_delays_then_buried) {
  auto producer = make_client();
  const job_id id = producer.put("always fails");

  io_threads io;
  auto options = test_options();
  options.max_attempts = 3;
  options.backoff.initial = 1s;
  options.backoff.max = 60s;
  std::mutex mu;
  std::vector<std::chrono::steady_clock::time_point> attempts_at;
  std::vector<std::uint64_t> attempt_numbers;
  worker_event_log log;
  log.record_from(options);
  worker w(io.executor(), server().endpoint(), options);
  w.handle(tube(), [&](job_context& ctx) {
    {
      std::lock_guard lock(mu);
      attempts_at.push_back(std::chrono::steady_clock::now());
      attempt_numbers.push_back(ctx.attempt());
    }
    throw std::runtime_error("boom");
  });
  auto run = start_run(w);
  ASSERT_TRUE(eventually([&] { return w.metrics().total().buried == 1; }, 8s));
  w.stop();
  EXPECT_TRUE(run_ends(run, 5s));

  std::lock_guard lock(mu);
  ASSERT_EQ(attempts_at.size(), 3u);
  EXPECT_EQ(attempt_numbers, (std::vector<std::uint64_t>{1, 2, 3}));
  const auto gap1 = attempts_at[1] - attempts_at[0];
  const auto gap2 = attempts_at[2] - attempts_at[1];
  EXPECT_GE(gap1, 900ms);
  EXPECT_LT(gap1, 1800ms);
  EXPECT_GE(gap2, 1900ms);
  EXPECT_LT(gap2, 2800ms);
  EXPECT_GT(gap2, gap1);

  const auto st = producer.stats_job(id);
  EXPECT_EQ(st.state, "buried");
  EXPECT_EQ(st.reserves, 3u);
  EXPECT_EQ(st.releases, 2u);
  EXPECT_EQ(st.buries, 1u);

  const auto m = w.metrics().total();
  EXPECT_EQ(m.reserved, 3u);
  EXPECT_EQ(m.failed, 3u);
  EXPECT_EQ(m.succeeded, 0u);
  EXPECT_EQ(m.retried, 2u);
  EXPECT_EQ(m.buried, 1u);
  EXPECT_EQ(m.deleted, 0u);
  EXPECT_EQ(m.latency.count, 3u);

  std::vector<std::chrono::seconds> retry_delays;
  int failed_events = 0;
  for (const auto& e : log.events()) {
    if (e.what == worker_event::kind::retried) retry_delays.push_back(e.delay);
    if (e.what == worker_event::kind::failed) {
      ++failed_events;
      EXPECT_EQ(e.message, "boom");
      EXPECT_EQ(e.tube, tube().str());
    }
  }
  EXPECT_EQ(retry_delays, (std::vector<std::chrono::seconds>{1s, 2s}));
  EXPECT_EQ(failed_events, 3);
}

// Explicit decisions from a coroutine handler: bury (with a priority), release with a delay and
// a priority (then delete on the next attempt), delete, fail, and a decision followed by a throw.
TEST_F(worker_outcome, explicit_decisions_from_the_handler) {
  auto producer = make_client();
  std::map<std::string, job_id> ids;
  for (const char* body : {"bury", "release", "delete", "fail", "bury-then-throw", "plain"}) {
    ids[body] = producer.put(body);
  }

  io_threads io;
  auto options = test_options();
  options.concurrency = 3;
  options.backoff.initial = 60s;  // a failed job stays delayed for the rest of the test
  worker w(io.executor(), server().endpoint(), options);
  std::mutex mu;
  std::map<std::string, std::vector<std::uint64_t>> seen;  // body -> attempts
  std::map<std::string, priority> seen_pri;
  w.handle(tube(), [&](job_context& ctx) -> asio::awaitable<void> {
    const std::string body = ctx.body();
    {
      std::lock_guard lock(mu);
      seen[body].push_back(ctx.attempt());
      seen_pri[body] = ctx.pri();
    }
    if (body == "bury") ctx.bury(99);
    if (body == "release") {
      if (ctx.attempt() == 1) ctx.release(1s, 7);  // back in 1 s with priority 7
      // on the second attempt: returning normally deletes it
    }
    if (body == "delete") ctx.remove();
    if (body == "fail") ctx.fail("not today");
    if (body == "bury-then-throw") {
      ctx.bury();
      throw std::runtime_error("after the decision");
    }
    co_return;
  });
  auto run = start_run(w);
  ASSERT_TRUE(eventually(
      [&] {
        std::lock_guard lock(mu);
        return seen["release"].size() == 2 && w.metrics().total().in_flight == 0 &&
               w.metrics().total().deleted == 3;
      },
      5s));
  w.stop();
  EXPECT_TRUE(run_ends(run, 5s));

  auto st = producer.stats_job(ids["bury"]);
  EXPECT_EQ(st.state, "buried");
  EXPECT_EQ(st.pri, 99u);
  st = producer.stats_job(ids["bury-then-throw"]);
  EXPECT_EQ(st.state, "buried") << "an explicit decision wins over a later exception";
  EXPECT_EQ(st.pri, default_priority);
  st = producer.stats_job(ids["fail"]);
  EXPECT_EQ(st.state, "delayed") << "fail() retries with backoff";
  EXPECT_GT(st.time_left, 30u);
  EXPECT_FALSE(producer.peek(ids["delete"]));
  EXPECT_FALSE(producer.peek(ids["plain"]));
  EXPECT_FALSE(producer.peek(ids["release"]));
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(seen["release"], (std::vector<std::uint64_t>{1, 2}));
    EXPECT_EQ(seen_pri["release"], 7u) << "the second attempt saw the priority given on release";
    EXPECT_EQ(seen["bury"].size(), 1u);
    EXPECT_EQ(seen["fail"].size(), 1u);
  }

  const auto m = w.metrics().total();
  EXPECT_EQ(m.reserved, 7u);
  EXPECT_EQ(m.succeeded, 5u);  // bury, release x2, delete, plain
  EXPECT_EQ(m.failed, 2u);     // fail, bury-then-throw
  EXPECT_EQ(m.deleted, 3u);    // delete, plain, release (2nd)
  EXPECT_EQ(m.buried, 2u);
  EXPECT_EQ(m.released, 1u);
  EXPECT_EQ(m.retried, 1u);
  EXPECT_EQ(m.lost, 0u);
  EXPECT_EQ(m.in_flight, 0u);
}

// An exception from a plain-function handler is a failure: the job is released with the backoff
// delay (here long), never lost, and the worker goes on with the next job.
TEST_F(worker_outcome, exception_in_plain_handler_releases_with_backoff) {
  auto producer = make_client();
  const job_id bad = producer.put("throw");
  const job_id good = producer.put("fine");

  io_threads io;
  auto options = test_options();
  options.backoff.initial = 30s;
  options.backoff.jitter = 0;
  std::mutex mu;
  std::string failure;
  options.on_event = [&](const worker_event& e) {
    if (e.what == worker_event::kind::failed) {
      std::lock_guard lock(mu);
      failure = e.message;
    }
  };
  worker w(io.executor(), server().endpoint(), options);
  w.handle(tube(), [](job_context& ctx) {
    if (ctx.body() == "throw") throw std::invalid_argument("bad input");
  });
  auto run = start_run(w);
  ASSERT_TRUE(eventually(
      [&] {
        const auto m = w.metrics().total();
        return m.retried == 1 && m.deleted == 1;
      },
      5s));
  w.stop();
  EXPECT_TRUE(run_ends(run, 5s));

  const auto st = producer.stats_job(bad);
  EXPECT_EQ(st.state, "delayed");
  EXPECT_EQ(st.delay, 30u);
  EXPECT_EQ(st.reserves, 1u);
  EXPECT_FALSE(producer.peek(good));
  std::lock_guard lock(mu);
  EXPECT_EQ(failure, "bad input");
  const auto m = w.metrics().total();
  EXPECT_EQ(m.failed, 1u);
  EXPECT_EQ(m.succeeded, 1u);
}

// The worker watches exactly the registered tubes: jobs in "default" and in other tubes stay.
TEST_F(worker_outcome, watches_only_registered_tubes) {
  auto producer = make_client();
  auto other = make_plain_client();
  const job_id in_default = other.put("default job");
  other.use(unique_tube("other"));
  const job_id in_other = other.put("other job");
  const job_id mine = producer.put("mine");

  io_threads io;
  worker w(io.executor(), server().endpoint(), test_options());
  std::atomic<int> calls{0};
  w.handle(tube(), [&](job_context& ctx) -> asio::awaitable<void> {
    EXPECT_EQ(ctx.tube(), tube());
    ++calls;
    co_return;
  });
  auto run = start_run(w);
  ASSERT_TRUE(eventually([&] { return w.metrics().total().deleted == 1; }, 3s));
  std::this_thread::sleep_for(300ms);
  w.stop();
  EXPECT_TRUE(run_ends(run, 5s));
  EXPECT_EQ(calls.load(), 1);
  EXPECT_FALSE(producer.peek(mine));
  EXPECT_EQ(other.stats_job(in_default).state, "ready");
  EXPECT_EQ(other.stats_job(in_default).reserves, 0u);
  EXPECT_EQ(other.stats_job(in_other).reserves, 0u);
  other.remove(in_default);
  other.remove(in_other);
}

// Counters are served in the Prometheus text format on 127.0.0.1; format_metrics prints them.
TEST_F(worker_outcome, prometheus_endpoint_serves_the_counters) {
  auto producer = make_client();
  for (int i = 0; i < 3; ++i) producer.put("ok");
  producer.put("bad");

  io_threads io;
  auto options = test_options();
  options.metrics_port = 0;
  options.max_attempts = 1;
  worker w(io.executor(), server().endpoint(), options);
  ASSERT_NE(w.metrics_port(), 0u);
  w.handle(tube(), [](job_context& ctx) {
    if (ctx.body() == "bad") ctx.fail();
  });
  auto run = start_run(w);
  ASSERT_TRUE(eventually(
      [&] {
        const auto m = w.metrics().total();
        return m.deleted == 3 && m.buried == 1;
      },
      5s));

  const std::string response = http_get(w.metrics_port(), "/metrics");
  EXPECT_EQ(response.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << response;
  EXPECT_NE(response.find("Content-Type: text/plain; version=0.0.4"), std::string::npos);
  const std::string label = "{tube=\"" + tube().str() + "\"} ";
  for (const auto& [name, value] : std::vector<std::pair<std::string, int>>{{"reserved", 4},
                                                                            {"succeeded", 3},
                                                                            {"failed", 1},
                                                                            {"deleted", 3},
                                                                            {"buried", 1},
                                                                            {"retried", 0}}) {
    const std::string line =
        "beanpole_worker_jobs_" + name + "_total" + label + std::to_string(value) + "\n";
    EXPECT_NE(response.find(line), std::string::npos) << line << "\n" << response;
  }
  EXPECT_NE(response.find("beanpole_worker_handler_duration_seconds_count" + label + "4\n"),
            std::string::npos);
  EXPECT_NE(response.find("beanpole_worker_jobs_in_flight" + label + "0\n"), std::string::npos);

  const std::string missing = http_get(w.metrics_port(), "/");
  EXPECT_EQ(missing.rfind("HTTP/1.1 404", 0), 0u) << missing;
  const std::string post = http_get(w.metrics_port(), "/metrics", "POST");
  EXPECT_EQ(post.rfind("HTTP/1.1 405", 0), 0u) << post;
  {
    // A client that connects and says nothing does not hold the next scrape up.
    asio::io_context idle_io;
    asio::ip::tcp::socket idle(idle_io);
    idle.connect(asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), w.metrics_port()));
    const std::string again = http_get(w.metrics_port(), "/metrics");
    EXPECT_EQ(again.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << again;
  }

  const std::string table = format_metrics(w.metrics());
  EXPECT_NE(table.find(tube().str()), std::string::npos) << table;

  const auto port = w.metrics_port();
  w.stop();
  EXPECT_TRUE(run_ends(run, 5s));
  // The endpoint goes away with the run.
  asio::io_context probe;
  asio::ip::tcp::socket s(probe);
  std::error_code ec;
  s.connect(asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), port), ec);
  EXPECT_TRUE(ec) << "still listening after the run";
}

}  // namespace
}  // namespace beanpole::testing
