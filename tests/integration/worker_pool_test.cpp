// The worker on several real beanstalkd servers used as one queue: it takes jobs from every
// server, settles each job on the server that holds it (touch, delete, bury), never holds more
// jobs than its concurrency, and keeps working while a server is killed, taking it back (and the
// jobs of its binlog) once it is restarted.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "async_test_support.hpp"
#include "beanpole/client.hpp"
#include "beanpole/worker.hpp"
#include "beanstalkd_server.hpp"
#include "server_test.hpp"
#include "test_helpers.hpp"
#include "worker_test_support.hpp"

namespace beanpole::testing {
namespace {

using namespace std::chrono_literals;

class worker_pool : public ::testing::Test {
 protected:
  void start(std::size_t n, bool binlog = false) {
    for (std::size_t i = 0; i < n; ++i) {
      servers_.push_back(std::make_unique<beanstalkd_server>(server_options{}.with_binlog(binlog)));
    }
  }
  std::vector<pool_server> list() const {
    std::vector<pool_server> out;
    for (const auto& s : servers_) out.push_back({s->endpoint(), {}, 1});
    return out;
  }
  std::string name(std::size_t i) const { return servers_[i]->endpoint().to_string(); }
  client direct(std::size_t i) {
    return client(servers_[i]->endpoint(), server_test::client_options());
  }
  job_id put_on(std::size_t i, const tube_name& tube, const std::string& body, put_options p = {}) {
    auto c = direct(i);
    c.use(tube);
    return c.put(body, p);
  }
  std::uint64_t count_in(std::size_t i, const tube_name& tube,
                         std::uint64_t proto::tube_stats::*field) {
    try {
      return direct(i).stats_tube(tube).*field;
    } catch (const beanpole::error&) {
      return 0;  // NOT_FOUND: the tube is gone (empty) or never was there
    }
  }
  static worker_options options() {
    worker_options o = test_options();
    o.client.reconnect.wait.initial = 50ms;
    o.client.reconnect.wait.max = 300ms;
    return o;
  }

  std::vector<std::unique_ptr<beanstalkd_server>> servers_;
};

/// What the handlers saw: each job's `ADDR/ID` and body.
struct seen_jobs {
  std::mutex mu;
  std::map<std::string, std::string> by_id;  // ADDR/ID -> body
  std::multiset<std::string> bodies;

  void add(const job_context& ctx) {
    std::lock_guard lock(mu);
    by_id[ctx.server() + "/" + std::to_string(ctx.id().value)] = ctx.body();
    bodies.insert(ctx.body());
  }
  std::size_t size() {
    std::lock_guard lock(mu);
    return bodies.size();
  }
};

TEST_F(worker_pool, takes_jobs_from_every_server_and_names_their_server) {
  start(3);
  const tube_name tube("wp-every");
  std::map<std::string, std::string> expected;  // ADDR/ID -> body
  for (std::size_t i = 0; i < 3; ++i) {
    for (int k = 0; k < 4; ++k) {
      const std::string body = "s" + std::to_string(i) + "-" + std::to_string(k);
      expected[name(i) + "/" + std::to_string(put_on(i, tube, body).value)] = body;
    }
  }
  io_threads io;
  worker w(io.executor(), list(), options());
  seen_jobs seen;
  w.handle(tube, [&](job_context& ctx) { seen.add(ctx); });
  auto run = start_run(w);
  ASSERT_TRUE(eventually([&] { return seen.size() == expected.size(); }, 15s));
  ASSERT_TRUE(eventually(
      [&] {
        for (std::size_t i = 0; i < 3; ++i) {
          if (count_in(i, tube, &proto::tube_stats::total_jobs) > 0 &&
              count_in(i, tube, &proto::tube_stats::current_jobs_ready) +
                      count_in(i, tube, &proto::tube_stats::current_jobs_reserved) >
                  0) {
            return false;
          }
        }
        return true;
      },
      10s))
      << "every job is deleted on its own server";
  w.stop();
  EXPECT_TRUE(run_ends(run, 10s));
  std::lock_guard lock(seen.mu);
  EXPECT_EQ(seen.by_id, expected);
  EXPECT_EQ(w.metrics().total().deleted, expected.size());
}

// A job with a time to run of 1 s on the second server runs for 2.5 s: the touches must reach
// that server (and the reserving connection there) or the job would be lost. A failing job is
// buried on its own server.
TEST_F(worker_pool, touches_and_buries_on_the_job_s_server) {
  start(3);
  const tube_name slow("wp-slow");
  const tube_name bad("wp-bad");
  put_options p;
  p.ttr = 1s;
  const job_id slow_id = put_on(1, slow, "slow", p);
  const job_id bad_id = put_on(2, bad, "bad");
  io_threads io;
  auto o = options();
  o.concurrency = 2;
  o.max_attempts = 1;
  std::mutex mu;
  std::vector<worker_event> events;
  o.on_event = [&](const worker_event& e) {
    std::lock_guard lock(mu);
    events.push_back(e);
  };
  worker w(io.executor(), list(), o);
  std::atomic<bool> slow_lost{true};
  std::atomic<int> done{0};
  w.handle(slow, [&](job_context& ctx) {
    std::this_thread::sleep_for(2500ms);
    slow_lost = ctx.lost();
    ++done;
  });
  w.handle(bad, [&](job_context& ctx) {
    ++done;
    ctx.fail("always");
  });
  auto run = start_run(w);
  ASSERT_TRUE(eventually([&] { return done.load() == 2; }, 15s));
  ASSERT_TRUE(eventually([&] { return w.metrics().total().deleted == 1; }, 5s));
  ASSERT_TRUE(eventually([&] { return w.metrics().total().buried == 1; }, 5s));
  w.stop();
  EXPECT_TRUE(run_ends(run, 10s));
  EXPECT_FALSE(slow_lost.load());
  EXPECT_GE(w.metrics().total().touched, 1u);
  EXPECT_EQ(w.metrics().total().lost, 0u);
  auto c1 = direct(1);
  EXPECT_FALSE(c1.peek(slow_id)) << "deleted on server 1";
  auto c2 = direct(2);
  EXPECT_EQ(c2.stats_job(bad_id).state, "buried");
  std::lock_guard lock(mu);
  bool saw_buried_event = false;
  for (const auto& e : events) {
    if (e.what == worker_event::kind::buried) {
      saw_buried_event = true;
      EXPECT_EQ(e.server, name(2));
      EXPECT_EQ(e.job, bad_id);
    }
  }
  EXPECT_TRUE(saw_buried_event);
}

// Whatever the spread of jobs, the servers together never have more jobs reserved by the worker
// than its concurrency, and neither do its handlers.
TEST_F(worker_pool, never_holds_more_jobs_than_its_concurrency) {
  start(3);
  const tube_name tube("wp-bound");
  for (std::size_t i = 0; i < 3; ++i) {
    for (int k = 0; k < 10; ++k) put_on(i, tube, "j");
  }
  io_threads io(2);
  auto o = options();
  o.concurrency = 3;
  worker w(io.executor(), list(), o);
  std::atomic<int> running{0};
  std::atomic<int> most_running{0};
  std::atomic<int> done{0};
  w.handle(tube, [&](job_context&) {
    const int now = ++running;
    int seen = most_running.load();
    while (now > seen && !most_running.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(30ms);
    --running;
    ++done;
  });
  std::uint64_t most_reserved = 0;
  auto run = start_run(w);
  const bool finished = eventually(
      [&] {
        // The servers are read one after another, which is not one snapshot: a job finished on
        // a server already read and the next one reserved on a server not yet read would both
        // count. Only two reads in a row that agree server by server are taken.
        const auto read = [&] {
          std::array<std::uint64_t, 3> r{};
          for (std::size_t i = 0; i < 3; ++i) {
            r[i] = count_in(i, tube, &proto::tube_stats::current_jobs_reserved);
          }
          return r;
        };
        const auto first = read();
        if (first == read()) {
          most_reserved = std::max(most_reserved, first[0] + first[1] + first[2]);
        }
        return done.load() == 30;
      },
      30s);
  w.stop();
  EXPECT_TRUE(run_ends(run, 10s));
  EXPECT_TRUE(finished) << done.load() << " of 30 jobs done";
  EXPECT_LE(most_reserved, 3u);
  EXPECT_GE(most_reserved, 1u);
  EXPECT_LE(most_running.load(), 3);
}

// A server is killed while the worker runs: the worker keeps taking jobs from the others, and
// once the server is restarted (with its binlog) takes the jobs it had back.
TEST_F(worker_pool, keeps_working_while_a_server_is_down_and_takes_it_back) {
  start(3, true);
  const tube_name tube("wp-down");
  io_threads io;
  auto o = options();
  o.concurrency = 2;
  worker w(io.executor(), list(), o);
  seen_jobs seen;
  w.handle(tube, [&](job_context& ctx) { seen.add(ctx); });
  auto run = start_run(w);
  for (std::size_t i = 0; i < 3; ++i) put_on(i, tube, "before-" + std::to_string(i));
  ASSERT_TRUE(eventually([&] { return seen.size() == 3; }, 15s));

  // Delayed jobs sit on the server to be killed; they come back from the binlog.
  put_options later;
  later.delay = 2s;
  put_on(0, tube, "kept-a", later);
  put_on(0, tube, "kept-b", later);
  servers_[0]->kill();
  for (std::size_t i = 1; i < 3; ++i) put_on(i, tube, "during-" + std::to_string(i));
  ASSERT_TRUE(eventually([&] { return seen.size() == 5; }, 15s))
      << "the servers still up are served while one is down";

  servers_[0]->restart();
  ASSERT_TRUE(eventually([&] { return seen.size() == 7; }, 20s))
      << "the restarted server's jobs are taken";
  put_on(0, tube, "after-0");
  ASSERT_TRUE(eventually([&] { return seen.size() == 8; }, 15s));
  w.stop();
  EXPECT_TRUE(run_ends(run, 10s));
  std::lock_guard lock(seen.mu);
  const std::multiset<std::string> expected{"before-0", "before-1", "before-2", "kept-a",
                                            "kept-b",   "during-1", "during-2", "after-0"};
  EXPECT_EQ(seen.bodies, expected);
  EXPECT_GE(w.metrics().reconnects, 1u);
}

// No server up at start, with `wait_for_server`: the worker starts as soon as one comes up, even
// though another never does (its watch and its connect must not hold up the start), and takes
// a third when it comes up later.
TEST_F(worker_pool, waits_for_any_server_and_starts_without_the_others) {
  start(3);
  const tube_name tube("wp-late");
  for (auto& s : servers_) s->stop();
  io_threads io;
  auto o = options();
  o.wait_for_server = true;
  worker w(io.executor(), list(), o);
  seen_jobs seen;
  w.handle(tube, [&](job_context& ctx) { seen.add(ctx); });
  auto run = start_run(w);
  std::this_thread::sleep_for(300ms);
  servers_[0]->restart();
  put_on(0, tube, "a");
  ASSERT_TRUE(eventually([&] { return seen.size() == 1; }, 8s)) << "server 1 is still down";
  servers_[2]->restart();
  put_on(2, tube, "c");
  ASSERT_TRUE(eventually([&] { return seen.size() == 2; }, 15s));
  w.stop();
  EXPECT_TRUE(run_ends(run, 10s));
  std::lock_guard lock(seen.mu);
  EXPECT_EQ(seen.bodies, (std::multiset<std::string>{"a", "c"}));
}

// Jobs spread over the servers are taken from all of them as they go, not one server first:
// with one slot and 8 jobs on each of 3 servers, the first 12 jobs come from every server.
TEST_F(worker_pool, takes_from_every_server_in_turn) {
  start(3);
  const tube_name tube("wp-fair");
  for (std::size_t i = 0; i < 3; ++i) {
    for (int k = 0; k < 8; ++k) put_on(i, tube, std::to_string(i));
  }
  io_threads io;
  worker w(io.executor(), list(), options());
  std::mutex mu;
  std::vector<std::string> order;
  w.handle(tube, [&](job_context& ctx) {
    std::lock_guard lock(mu);
    order.push_back(ctx.server());
  });
  auto run = start_run(w);
  ASSERT_TRUE(eventually(
      [&] {
        std::lock_guard lock(mu);
        return order.size() == 24;
      },
      20s));
  w.stop();
  EXPECT_TRUE(run_ends(run, 10s));
  std::map<std::string, int> first;
  for (std::size_t k = 0; k < 12; ++k) ++first[order[k]];
  EXPECT_EQ(first.size(), 3u);
  for (const auto& [server, n] : first) EXPECT_GE(n, 2) << server;
}

}  // namespace
}  // namespace beanpole::testing
