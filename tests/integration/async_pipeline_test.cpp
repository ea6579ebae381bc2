// The async client's pipelining: many commands in flight on one connection, replies matched in
// order, and back-pressure (`max_in_flight`) for producers that fire without awaiting.
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/use_future.hpp>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <future>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "async_test_support.hpp"
#include "beanpole/async_client.hpp"
#include "server_test.hpp"
#include "test_helpers.hpp"

namespace beanpole::testing {
namespace {

using namespace std::chrono_literals;

std::string body_of(std::size_t i) {
  return "job-" + std::to_string(i) + std::string(i % 97, 'x');
}

/// The index encoded by `body_of`, or SIZE_MAX.
std::size_t index_of(const std::string& body) {
  if (body.rfind("job-", 0) != 0) return SIZE_MAX;
  return std::stoul(body.substr(4));
}

class async_pipeline : public server_test {
 protected:
  static async_client_options options() { return test_client_options(5s); }

  /// Connects `c` and makes it use and watch only `tube()`. `c` must run on another thread.
  void setup(async_client& c) {
    value_of(c.async_connect(asio::use_future));
    value_of(c.async_use(tube(), asio::use_future));
    EXPECT_EQ(value_of(c.async_watch(tube(), asio::use_future)), 2u);
    EXPECT_EQ(value_of(c.async_ignore("default", asio::use_future)), 1u);
  }
};

// 10,000 puts issued from a loop with callbacks (none awaited), then 10,000 pipelined
// reserve-with-timeout 0, each followed by a delete issued from its handler.
TEST_F(async_pipeline, ten_thousand_callback_puts_then_reserves_and_deletes) {
  constexpr std::size_t n = 10'000;
  asio::io_context io;
  async_client c(io.get_executor(), server().endpoint(), options());

  // Setup commands issued together, before the connection is up, from the io thread.
  int setup_done = 0;
  std::vector<std::error_code> setup_errors;
  asio::post(io, [&] {
    c.async_connect([&](std::error_code e) {
      setup_errors.push_back(e);
      ++setup_done;
      c.async_use(tube(), [&](std::error_code ue) {
        setup_errors.push_back(ue);
        ++setup_done;
      });
      c.async_watch(tube(), [&](std::error_code we, std::size_t) {
        setup_errors.push_back(we);
        ++setup_done;
      });
      c.async_ignore("default", [&](std::error_code ie, std::size_t) {
        setup_errors.push_back(ie);
        ++setup_done;
      });
    });
  });
  ASSERT_TRUE(run_until(
      io, [&] { return setup_done == 4; }, 5s));
  for (const auto& e : setup_errors) EXPECT_FALSE(e) << e.message();

  std::vector<job_id> ids(n);
  std::vector<int> put_calls(n, 0);
  std::size_t puts_done = 0;
  std::size_t put_failures = 0;
  asio::post(io, [&] {
    for (std::size_t i = 0; i < n; ++i) {
      c.async_put(body_of(i), {}, [&, i](std::error_code e, job_id id) {
        ++put_calls[i];
        ++puts_done;
        if (e) {
          ++put_failures;
          return;
        }
        ids[i] = id;
      });
    }
  });
  ASSERT_TRUE(run_until(
      io, [&] { return puts_done >= n; }, 20s))
      << puts_done << " of " << n;
  EXPECT_EQ(put_failures, 0u);
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(put_calls[i], 1) << "put " << i;
  EXPECT_EQ(std::set<job_id>(ids.begin(), ids.end()).size(), n) << "put ids are not distinct";

  std::vector<int> seen(n, 0);
  std::size_t reserves_done = 0;
  std::size_t deletes_done = 0;
  std::size_t problems = 0;
  std::string first_problem;
  auto problem = [&](std::string what) {
    if (problems++ == 0) first_problem = std::move(what);
  };
  asio::post(io, [&] {
    for (std::size_t r = 0; r < n; ++r) {
      c.async_reserve_with_timeout(0s, [&](std::error_code e, std::optional<job> j) {
        ++reserves_done;
        if (e || !j) {
          ++deletes_done;  // nothing to delete
          problem(e ? "reserve failed: " + e.message() : "reserve found no job");
          return;
        }
        const std::size_t i = index_of(j->body);
        if (i >= n || j->body != body_of(i)) {
          problem("unexpected body " + j->body.substr(0, 20));
        } else {
          ++seen[i];
          if (ids[i] != j->id) problem("job " + std::to_string(i) + " has another id");
        }
        c.async_remove(j->id, [&](std::error_code de) {
          ++deletes_done;
          if (de) problem("delete failed: " + de.message());
        });
      });
    }
  });
  ASSERT_TRUE(run_until(
      io, [&] { return deletes_done >= n; }, 30s))
      << reserves_done << " reserves, " << deletes_done << " deletes done";
  EXPECT_EQ(problems, 0u) << first_problem;
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(seen[i], 1) << "job " << i;

  std::optional<proto::tube_stats> stats;
  std::error_code stats_error;
  std::optional<job> extra;
  bool extra_done = false;
  c.async_reserve_with_timeout(0s, [&](std::error_code e, std::optional<job> j) {
    EXPECT_FALSE(e) << e.message();
    extra = std::move(j);
    extra_done = true;
  });
  c.async_stats_tube(tube(), [&](std::error_code e, proto::tube_stats s) {
    stats_error = e;
    stats = std::move(s);
  });
  ASSERT_TRUE(run_until(
      io, [&] { return stats.has_value() && extra_done; }, 5s));
  ASSERT_FALSE(stats_error) << stats_error.message();
  EXPECT_FALSE(extra.has_value());
  EXPECT_EQ(stats->current_jobs_ready, 0u);
  EXPECT_EQ(stats->current_jobs_reserved, 0u);
  EXPECT_EQ(stats->current_jobs_delayed, 0u);
  EXPECT_EQ(stats->current_jobs_buried, 0u);
  EXPECT_EQ(stats->total_jobs, n);
  EXPECT_EQ(stats->cmd_delete, n);
  EXPECT_EQ(c.in_flight(), 0u);
  c.close();
  io.run_for(1s);
}

// The same with futures: a producer thread (this one) issues everything while another thread
// runs the io_context; the futures are only waited for afterwards.
TEST_F(async_pipeline, ten_thousand_future_puts_from_a_producer_thread) {
  constexpr std::size_t n = 10'000;
  io_threads runner;
  async_client c(runner.executor(), server().endpoint(), options());
  setup(c);

  std::vector<std::future<job_id>> put_futures;
  put_futures.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    put_futures.push_back(c.async_put(body_of(i), {}, asio::use_future));
  }
  std::vector<job_id> ids;
  ids.reserve(n);
  for (auto& f : put_futures) ids.push_back(value_of(std::move(f), 20s));
  EXPECT_EQ(std::set<job_id>(ids.begin(), ids.end()).size(), n);

  std::vector<std::future<std::optional<job>>> reserve_futures;
  reserve_futures.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    reserve_futures.push_back(c.async_reserve_with_timeout(0s, asio::use_future));
  }
  std::vector<int> seen(n, 0);
  std::vector<std::future<void>> delete_futures;
  delete_futures.reserve(n);
  for (auto& f : reserve_futures) {
    auto j = value_of(std::move(f), 20s);
    ASSERT_TRUE(j.has_value());
    const std::size_t i = index_of(j->body);
    ASSERT_LT(i, n) << j->body.substr(0, 20);
    EXPECT_EQ(j->body, body_of(i));
    EXPECT_EQ(j->id, ids[i]);
    ++seen[i];
    delete_futures.push_back(c.async_remove(j->id, asio::use_future));
  }
  for (auto& f : delete_futures) value_of(std::move(f), 20s);
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(seen[i], 1) << "job " << i;

  const auto stats = value_of(c.async_stats_tube(tube(), asio::use_future));
  EXPECT_EQ(stats.current_jobs_ready, 0u);
  EXPECT_EQ(stats.current_jobs_reserved, 0u);
  EXPECT_EQ(stats.total_jobs, n);
  EXPECT_EQ(c.in_flight(), 0u);
}

// A producer thread firing 5,000 puts with callbacks never sees more than max_in_flight
// commands in flight: submitting blocks instead. (Only the producer adds to the count, and it
// is checked right after each submit, so no slack is needed.)
TEST_F(async_pipeline, back_pressure_caps_commands_in_flight) {
  constexpr std::size_t n = 5'000;
  constexpr std::size_t cap = 64;
  // Declared before the io threads and the client: handlers may use them until the end.
  std::atomic<std::size_t> done{0};
  std::atomic<std::size_t> failures{0};
  std::size_t max_seen = 0;
  std::size_t at_cap = 0;
  io_threads runner;
  auto o = options();
  o.max_in_flight = cap;
  async_client c(runner.executor(), server().endpoint(), o);
  setup(c);

  std::atomic<bool> producer_finished{false};
  std::thread producer([&] {
    for (std::size_t i = 0; i < n; ++i) {
      c.async_put(body_of(i), {}, [&](std::error_code e, job_id) {
        if (e) ++failures;
        ++done;
      });
      const std::size_t now = c.in_flight();
      max_seen = std::max(max_seen, now);
      if (now == cap) ++at_cap;
    }
    producer_finished = true;
  });
  if (!eventually([&] { return producer_finished.load(); }, 20s)) {
    ADD_FAILURE() << "the producer is still blocked";
    c.close();  // wakes it
  }
  producer.join();
  EXPECT_TRUE(eventually([&] { return done.load() == n; }, 20s)) << done.load() << " of " << n;
  EXPECT_EQ(failures.load(), 0u);
  EXPECT_LE(max_seen, cap);
  EXPECT_GT(max_seen, 1u) << "no pipelining happened at all";
  std::printf("[ info ] max in flight seen by the producer: %zu (at the cap %zu times)\n", max_seen,
              at_cap);
  EXPECT_EQ(c.in_flight(), 0u);
  const auto stats = value_of(c.async_stats_tube(tube(), asio::use_future));
  EXPECT_EQ(stats.current_jobs_ready, n);
}

// With the server frozen nothing is answered: a producer thread blocks after exactly
// max_in_flight submits, while calls from the io thread itself still queue without blocking.
// Once the server thaws, everything completes.
TEST_F(async_pipeline, back_pressure_blocks_the_producer_while_the_server_is_frozen) {
  constexpr std::size_t n = 5'000;
  constexpr std::size_t cap = 64;
  // Declared before the io threads and the client: handlers may use them until the end.
  std::atomic<std::size_t> submitted{0};
  std::atomic<std::size_t> done{0};
  std::atomic<std::size_t> failures{0};
  std::atomic<std::size_t> max_seen{0};
  std::atomic<bool> producer_finished{false};
  auto from_io = std::make_shared<std::promise<std::size_t>>();
  std::thread producer;
  io_threads runner;
  auto o = options();
  o.max_in_flight = cap;
  o.reply_timeout = 10s;
  async_client c(runner.executor(), server().endpoint(), o);
  setup(c);
  // A handler runs before its command stops counting as in flight: let the count settle.
  ASSERT_TRUE(eventually([&] { return c.in_flight() == 0; }, 1s));

  // Whatever happens, the producer is woken (close) and joined before the test ends.
  struct joiner {
    std::thread& t;
    async_client& client;
    std::atomic<bool>& finished;
    ~joiner() {
      if (!t.joinable()) return;
      if (!eventually([&] { return finished.load(); }, 20s)) {
        ADD_FAILURE() << "the producer is still blocked";
        client.close();
      }
      t.join();
    }
  } join_producer{producer, c, producer_finished};
  {
    frozen_server frozen(server());
    producer = std::thread([&] {
      for (std::size_t i = 0; i < n; ++i) {
        c.async_put(body_of(i), {}, [&, i](std::error_code e, job_id) {
          if (e) {
            if (++failures < 4) std::printf("put %zu failed: %s\n", i, e.message().c_str());
          }
          ++done;
        });
        ++submitted;
        const std::size_t now = c.in_flight();
        if (now > max_seen.load()) max_seen = now;
      }
      producer_finished = true;
    });
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(submitted.load(), cap)
        << "the producer should block once " << cap << " commands are in flight";
    EXPECT_EQ(c.in_flight(), cap);

    // The io thread is not blocked: work posted to it runs, and its own submits queue.
    asio::post(runner.io(), [&c, &failures, &done, from_io] {
      for (int k = 0; k < 10; ++k) {
        c.async_put("from the io thread", {}, [&](std::error_code e, job_id) {
          if (e) ++failures;
          ++done;
        });
      }
      from_io->set_value(c.in_flight());
    });
    auto f = from_io->get_future();
    if (f.wait_for(1s) == std::future_status::ready) {
      EXPECT_EQ(f.get(), cap + 10) << "calls on the io thread queue beyond the cap";
    } else {
      ADD_FAILURE() << "the io thread blocked";
    }
    frozen.thaw();
  }
  EXPECT_TRUE(eventually([&] { return done.load() == n + 10; }, 20s))
      << done.load() << " of " << n + 10;
  EXPECT_EQ(failures.load(), 0u);
  EXPECT_LE(max_seen.load(), cap + 10);  // the io thread's 10 may be counted once
  const auto stats = value_of(c.async_stats_tube(tube(), asio::use_future));
  EXPECT_EQ(stats.current_jobs_ready, n + 10);
}

}  // namespace
}  // namespace beanpole::testing
