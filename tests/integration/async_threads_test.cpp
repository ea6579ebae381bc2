// The async client used from many threads at once, with its io_context run by two threads.
// The suite is named `async_threads` so that a ThreadSanitizer build can select it
// (--gtest_filter='async_threads.*').
#include <algorithm>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>
#include <atomic>
#include <csignal>
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

/// Threads that are joined on every way out of a test; `finished()` tells whether all returned.
class thread_group {
 public:
  thread_group() = default;
  thread_group(const thread_group&) = delete;
  thread_group& operator=(const thread_group&) = delete;
  ~thread_group() { join(); }
  template <class F>
  void spawn(F f) {
    threads_.emplace_back([this, f = std::move(f)]() mutable {
      f();
      ++finished_;
    });
  }
  bool finish_within(std::chrono::milliseconds limit) {
    return eventually([&] { return finished_.load() == threads_.size(); }, limit);
  }
  void join() {
    for (auto& t : threads_) t.join();
    threads_.clear();
    finished_ = 0;
  }

 private:
  std::vector<std::thread> threads_;
  std::atomic<std::size_t> finished_{0};
};

/// What the puts of several producer threads completed with.
struct put_outcomes {
  std::mutex mu;
  std::vector<std::error_code> errors;  ///< under `mu`
  std::atomic<std::size_t> done{0};
};

/// Spawns `threads` producers on `group`, each issuing `each` puts through `c` (back-pressure may
/// block them) and recording every completion in `out`.
void spawn_producers(thread_group& group, async_client& c, std::size_t threads, std::size_t each,
                     put_outcomes& out) {
  for (std::size_t t = 0; t < threads; ++t) {
    group.spawn([&c, &out, each] {
      for (std::size_t i = 0; i < each; ++i) {
        c.async_put("blocked", {}, [&out](std::error_code e, job_id) {
          {
            std::lock_guard lock(out.mu);
            out.errors.push_back(e);
          }
          ++out.done;
        });
      }
    });
  }
}

class async_threads : public server_test {
 protected:
  static async_client_options options() { return test_client_options(10s); }
  static void setup(async_client& c, const tube_name& t) { connect_to_tube(c, t); }
};

constexpr std::size_t producers = 4;
constexpr std::size_t per_producer = 1'000;

// 4 threads x 1,000 puts with futures on ONE client, io run by 2 threads: all ids distinct, and
// the 4,000 jobs are then reserved and deleted from 4 threads, each exactly once.
TEST_F(async_threads, four_threads_put_with_futures_then_reserve_and_delete) {
  io_threads runner(2);
  async_client c(runner.executor(), server().endpoint(), options());
  setup(c, tube());

  std::vector<std::vector<job_id>> ids(producers);
  {
    thread_group group;
    for (std::size_t t = 0; t < producers; ++t) {
      group.spawn([&, t] {
        std::vector<std::future<job_id>> futures;
        for (std::size_t i = 0; i < per_producer; ++i) {
          futures.push_back(c.async_put("t" + std::to_string(t) + " #" + std::to_string(i), {},
                                        asio::use_future));
        }
        for (auto& f : futures) {
          if (f.wait_for(20s) != std::future_status::ready) return;
          try {
            ids[t].push_back(f.get());
          } catch (const std::system_error&) {
          }
        }
      });
    }
    ASSERT_TRUE(group.finish_within(30s));
  }
  std::set<job_id> all;
  for (const auto& v : ids) {
    EXPECT_EQ(v.size(), per_producer);
    all.insert(v.begin(), v.end());
  }
  EXPECT_EQ(all.size(), producers * per_producer) << "ids not distinct";
  EXPECT_EQ(value_of(c.async_stats_tube(tube(), asio::use_future)).current_jobs_ready,
            producers * per_producer);

  std::mutex mu;
  std::vector<job_id> reserved;
  std::atomic<std::size_t> errors{0};
  {
    thread_group group;
    for (std::size_t t = 0; t < producers; ++t) {
      group.spawn([&] {
        for (;;) {
          auto f = c.async_reserve_with_timeout(0s, asio::use_future);
          if (f.wait_for(10s) != std::future_status::ready) {
            ++errors;
            return;
          }
          std::optional<job> j;
          try {
            j = f.get();
          } catch (const std::system_error&) {
            ++errors;
            return;
          }
          if (!j) return;  // none left
          auto d = c.async_remove(j->id, asio::use_future);
          if (error_of(std::move(d), 10s)) ++errors;
          std::lock_guard lock(mu);
          reserved.push_back(j->id);
        }
      });
    }
    ASSERT_TRUE(group.finish_within(30s));
  }
  EXPECT_EQ(errors.load(), 0u);
  std::sort(reserved.begin(), reserved.end());
  EXPECT_EQ(reserved, std::vector<job_id>(all.begin(), all.end()));
  const auto stats = value_of(c.async_stats_tube(tube(), asio::use_future));
  EXPECT_EQ(stats.current_jobs_ready + stats.current_jobs_reserved, 0u);
  EXPECT_EQ(stats.cmd_delete, producers * per_producer);
}

// Four threads put into four tubes at once through the put that takes a tube, on ONE client
// with a small cap (so producers block and wake): every job lands in its own thread's tube, even
// though the client's used tube keeps changing under them. Separate `async_use` + `async_put`
// calls from the threads would interleave and send jobs to each other's tubes.
TEST_F(async_threads, puts_into_different_tubes_from_four_threads_each_reach_their_tube) {
  io_threads runner(2);
  auto opts = options();
  opts.max_in_flight = 16;
  async_client c(runner.executor(), server().endpoint(), opts);
  value_of(c.async_connect(asio::use_future));
  const auto tube_of = [&](std::size_t t) {
    return tube_name(tube().str() + "-" + std::to_string(t));
  };
  put_outcomes out;
  {
    thread_group group;
    for (std::size_t t = 0; t < producers; ++t) {
      group.spawn([&, t] {
        const tube_name mine = tube_of(t);
        for (std::size_t i = 0; i < per_producer; ++i) {
          c.async_put(mine, mine.str(), {}, [&out](std::error_code e, job_id) {
            {
              std::lock_guard lock(out.mu);
              out.errors.push_back(e);
            }
            ++out.done;
          });
        }
      });
    }
    ASSERT_TRUE(group.finish_within(30s));
  }
  ASSERT_TRUE(eventually([&] { return out.done.load() == producers * per_producer; }, 20s));
  for (const auto& e : out.errors) ASSERT_FALSE(e) << e.message();
  for (std::size_t t = 0; t < producers; ++t) {
    const auto stats = value_of(c.async_stats_tube(tube_of(t), asio::use_future));
    EXPECT_EQ(stats.current_jobs_ready, per_producer) << tube_of(t).str();
    // Every job in the tube says it is this tube's: drain it with peek-ready + delete.
    std::size_t seen = 0;
    while (auto j = value_of(
               c.async_peek_state(tube_of(t), proto::job_state::ready, asio::use_future))) {
      ASSERT_EQ(j->body, tube_of(t).str()) << "job " << j->id << " in the wrong tube";
      value_of(c.async_remove(j->id, asio::use_future));
      ++seen;
    }
    EXPECT_EQ(seen, per_producer);
  }
}

// The put that takes a tube sends `use` only when the client's used tube is another one: 100
// puts into one tube cost one `use`, and a kick in that tube none.
TEST_F(async_threads, a_put_into_the_used_tube_sends_no_use) {
  io_threads runner(1);
  async_client c(runner.executor(), server().endpoint(), options());
  value_of(c.async_connect(asio::use_future));
  const auto before = value_of(c.async_stats(asio::use_future)).cmd_use;
  std::vector<std::future<job_id>> puts;
  for (int i = 0; i < 100; ++i) puts.push_back(c.async_put(tube(), "x", {}, asio::use_future));
  for (auto& f : puts) value_of(std::move(f));
  EXPECT_EQ(value_of(c.async_kick(tube(), 10, asio::use_future)), 0u);
  EXPECT_EQ(value_of(c.async_stats(asio::use_future)).cmd_use - before, 1u);
  EXPECT_EQ(value_of(c.async_list_tube_used(asio::use_future)), tube().str());
  EXPECT_EQ(value_of(c.async_stats_tube(tube(), asio::use_future)).current_jobs_ready, 100u);
}

// The same with callbacks and a small in-flight cap, so that the producers keep blocking and
// being woken while handlers run on both io threads.
TEST_F(async_threads, four_threads_put_with_callbacks_under_a_small_cap) {
  std::mutex mu;
  std::set<job_id> ids;
  std::atomic<std::size_t> done{0};
  std::atomic<std::size_t> errors{0};
  std::atomic<std::size_t> over_cap{0};
  io_threads runner(2);
  auto o = options();
  o.max_in_flight = 8;
  async_client c(runner.executor(), server().endpoint(), o);
  setup(c, tube());
  {
    thread_group group;
    for (std::size_t t = 0; t < producers; ++t) {
      group.spawn([&] {
        for (std::size_t i = 0; i < per_producer; ++i) {
          c.async_put("cb", {}, [&](std::error_code e, job_id id) {
            if (e) {
              ++errors;
            } else {
              std::lock_guard lock(mu);
              ids.insert(id);
            }
            ++done;
          });
          if (c.in_flight() > 8) ++over_cap;
        }
      });
    }
    if (!group.finish_within(30s)) {
      ADD_FAILURE() << "producers still blocked";
      c.close();
    }
  }
  EXPECT_TRUE(eventually([&] { return done.load() == producers * per_producer; }, 20s));
  EXPECT_EQ(errors.load(), 0u);
  EXPECT_EQ(over_cap.load(), 0u);
  std::lock_guard lock(mu);
  EXPECT_EQ(ids.size(), producers * per_producer);
}

// Waiting reserves from 8 threads (more than the reserve-connection cap of 4), satisfied by puts
// from another thread; each job goes to exactly one reserve, and each thread deletes its own
// (through the reserve connection that holds it).
TEST_F(async_threads, waiting_reserves_from_many_threads) {
  constexpr std::size_t workers = 8;
  constexpr std::size_t rounds = 25;
  io_threads runner(2);
  auto o = options();
  o.max_reserve_connections = 4;
  async_client c(runner.executor(), server().endpoint(), o);
  setup(c, tube());
  std::mutex mu;
  std::vector<job_id> got;
  std::atomic<std::size_t> errors{0};
  std::vector<job_id> put_ids;
  {
    thread_group group;
    for (std::size_t w = 0; w < workers; ++w) {
      group.spawn([&] {
        for (std::size_t r = 0; r < rounds; ++r) {
          auto f = c.async_reserve(asio::use_future);
          if (f.wait_for(20s) != std::future_status::ready) {
            ++errors;
            return;
          }
          try {
            const job j = f.get();
            if (error_of(c.async_touch(j.id, asio::use_future), 10s)) ++errors;
            if (error_of(c.async_remove(j.id, asio::use_future), 10s)) ++errors;
            std::lock_guard lock(mu);
            got.push_back(j.id);
          } catch (const std::system_error&) {
            ++errors;
            return;
          }
        }
      });
    }
    group.spawn([&] {
      std::vector<std::future<job_id>> futures;
      for (std::size_t i = 0; i < workers * rounds; ++i) {
        futures.push_back(c.async_put("for a worker", {}, asio::use_future));
      }
      for (auto& f : futures) {
        if (f.wait_for(20s) != std::future_status::ready) {
          ++errors;
          return;
        }
        const job_id id = f.get();
        std::lock_guard lock(mu);
        put_ids.push_back(id);
      }
    });
    if (!group.finish_within(30s)) {
      ADD_FAILURE() << "workers still waiting";
      c.close();  // completes their reserves
    }
  }
  EXPECT_EQ(errors.load(), 0u);
  std::sort(got.begin(), got.end());
  std::sort(put_ids.begin(), put_ids.end());
  EXPECT_EQ(got, put_ids);
}

// close() from one thread while producer threads are blocked by back-pressure (the server is
// frozen, so nothing is answered): every operation still completes, and at once.
TEST_F(async_threads, close_while_producers_are_blocked_completes_everything) {
  constexpr std::size_t threads = 4;
  constexpr std::size_t each = 50;
  for (int round = 0; round < 10; ++round) {
    SCOPED_TRACE(round);
    put_outcomes outcomes;
    io_threads runner(2);
    auto o = options();
    o.max_in_flight = 4;
    async_client c(runner.executor(), server().endpoint(), o);
    setup(c, tube());
    ASSERT_TRUE(eventually([&] { return c.in_flight() == 0; }, 1s));
    {
      frozen_server frozen(server());
      thread_group group;
      spawn_producers(group, c, threads, each, outcomes);
      std::this_thread::sleep_for(100ms);
      EXPECT_EQ(c.in_flight(), 4u);
      c.close();
      EXPECT_TRUE(group.finish_within(3s)) << "producers still blocked after close()";
      group.join();
      EXPECT_TRUE(eventually([&] { return outcomes.done.load() == threads * each; }, 3s))
          << outcomes.done.load() << " of " << threads * each
          << " operations completed after close(); the others never will";
      frozen.thaw();
    }
    std::lock_guard lock(outcomes.mu);
    for (const auto& e : outcomes.errors) {
      EXPECT_TRUE(e == asio::error::operation_aborted || e == errc::outcome_unknown ||
                  e == errc::not_connected)
          << e.message();
    }
    if (HasFailure()) break;
  }
}

// The connection drops (reply timeout against the frozen server, no reconnect) while producer
// threads are blocked by back-pressure: every operation still completes, none is left queued
// for a connection that is gone.
TEST_F(async_threads, connection_lost_while_producers_are_blocked_completes_everything) {
  constexpr std::size_t threads = 2;
  constexpr std::size_t each = 20;
  for (int round = 0; round < 10; ++round) {
    SCOPED_TRACE(round);
    put_outcomes outcomes;
    io_threads runner(2);
    auto o = options();
    o.max_in_flight = 4;
    o.reply_timeout = 200ms;
    async_client c(runner.executor(), server().endpoint(), o);
    setup(c, tube());
    ASSERT_TRUE(eventually([&] { return c.in_flight() == 0; }, 1s));
    {
      frozen_server frozen(server());
      thread_group group;
      spawn_producers(group, c, threads, each, outcomes);
      // The reply timeout drops the connection; the producers wake and finish.
      EXPECT_TRUE(group.finish_within(3s))
          << "producers still blocked after the connection dropped";
      if (!group.finish_within(0ms)) c.close();
      group.join();
      EXPECT_TRUE(eventually([&] { return outcomes.done.load() == threads * each; }, 2s))
          << outcomes.done.load() << " of " << threads * each
          << " operations completed after the connection dropped; the others never will";
      frozen.thaw();
    }
    std::lock_guard lock(outcomes.mu);
    for (const auto& e : outcomes.errors) {
      EXPECT_TRUE(e == errc::outcome_unknown || e == errc::connection_lost ||
                  e == errc::not_connected)
          << e.message();
    }
    if (HasFailure()) break;
  }
}

}  // namespace
}  // namespace beanpole::testing
