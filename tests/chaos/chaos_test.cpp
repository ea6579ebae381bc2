// The library under faults: puts through the async client with reconnect, and jobs run by the
// worker, through tests/support's fault proxy on a seeded schedule (resets anywhere, stalls,
// 1-7 byte segments), against a real beanstalkd; and a server killed with SIGKILL and restarted
// with its binlog. Afterwards the server is checked against what the client said: every
// acknowledged put is there exactly once, an unknown one at most once, nothing else; every job
// the worker reported deleted is gone; few jobs ran twice. Every wait is bounded: a hang fails.
//
// Each test prints its seed; BEANPOLE_FAULT_SEED=N replays a schedule.
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>
#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "beanpole/async_client.hpp"
#include "beanpole/worker.hpp"
#include "chaos_support.hpp"
#include "fault_proxy.hpp"
#include "server_test.hpp"

namespace beanpole::testing {
namespace {

using namespace std::chrono_literals;

/// Runs `io` on a thread of its own. `finish()` lets it run out of work and joins; leaving the
/// test early (a failed assertion) stops it instead, where a joinable std::thread would end the
/// whole process with std::terminate and hide the failure.
class io_runner {
 public:
  explicit io_runner(asio::io_context& io)
      : io_(io), guard_(asio::make_work_guard(io)), thread_([&io] { io.run(); }) {}
  ~io_runner() {
    if (!thread_.joinable()) return;
    io_.stop();
    thread_.join();
  }
  io_runner(const io_runner&) = delete;
  io_runner& operator=(const io_runner&) = delete;

  void finish() {
    guard_.reset();
    thread_.join();
  }

 private:
  asio::io_context& io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::thread thread_;
};

class chaos : public server_test {
 public:
  static void SetUpTestSuite() { start_suite_server(server_options{}.with_binlog()); }

 protected:
  std::chrono::seconds time_limit() const override { return 150s; }

  static async_client_options reconnecting() {
    async_client_options o;
    o.connect_timeout = 2s;
    o.reply_timeout = 3s;
    o.reconnect.enabled = true;
    o.reconnect.wait.initial = 10ms;
    o.reconnect.wait.max = 200ms;
    return o;
  }

  /// Puts every body of `ledger` through `c`, in pipelined batches, sending again what was
  /// never written (as a user would), until none is left or `rounds` are used up. `during(n)`
  /// is called while the n-th batch is in flight.
  static void put_all(async_client& c, put_ledger& ledger, std::size_t batch, int rounds = 50,
                      const std::function<void(int)>& during = {}) {
    int n = 0;
    for (int round = 0; round < rounds; ++round) {
      const auto todo = ledger.to_send();
      if (todo.empty()) return;
      for (std::size_t from = 0; from < todo.size(); from += batch) {
        const std::vector<std::size_t> part(
            todo.begin() + static_cast<std::ptrdiff_t>(from),
            todo.begin() + static_cast<std::ptrdiff_t>(std::min(todo.size(), from + batch)));
        std::function<void()> hook;
        if (during) hook = [&during, k = n] { during(k); };
        ++n;
        ASSERT_TRUE(put_batch(c, ledger, part, 30s, hook)) << "puts left unanswered past 30 s";
      }
    }
    EXPECT_TRUE(ledger.to_send().empty()) << "puts still not sent after " << rounds << " rounds";
  }
};

TEST_F(chaos, async_client_puts_with_reconnect) {
  fault_schedule s;
  s.seed = fault_schedule::seed_for("chaos.async_client_puts_with_reconnect");
  s.cut_every = 24 * 1024;
  s.stall_every = 48 * 1024;
  s.max_stall = 300ms;
  s.split = 0.05;
  fault_proxy proxy(server().port(), s);

  asio::io_context io;
  io_runner runner(io);
  {
    async_client c(io.get_executor(), proxy.endpoint(), reconnecting());
    auto connected = c.async_connect(asio::use_future);
    ASSERT_EQ(connected.wait_for(10s), std::future_status::ready);
    connected.get();
    auto used = c.async_use(tube(), asio::use_future);
    ASSERT_EQ(used.wait_for(10s), std::future_status::ready);

    put_ledger ledger("async:", 12000);
    put_all(c, ledger, 100);
    c.close();

    std::size_t unknown_found = 0;
    std::size_t torn = 0;
    ledger.reconcile([this] { return make_client(); }, tube(), unknown_found, torn);
    std::cerr << "async client: " << ledger.count(put_ledger::state::acknowledged)
              << " acknowledged, " << ledger.count(put_ledger::state::unknown) << " unknown (found "
              << unknown_found << ", unreadable " << torn << "); proxy: " << proxy.connections()
              << " connections, " << proxy.cuts() << " cuts, " << proxy.stalls() << " stalls, "
              << proxy.splits() << " splits\n";
    EXPECT_EQ(torn, 0U) << "without a kill, every job on the server is readable";
    EXPECT_GT(proxy.cuts(), 0) << "the schedule cut nothing: the test proved little";
  }
  runner.finish();
}

TEST_F(chaos, acknowledged_puts_survive_sigkill_with_binlog) {
  asio::io_context io;
  io_runner runner(io);
  {
    async_client c(io.get_executor(), server().endpoint(), reconnecting());
    auto connected = c.async_connect(asio::use_future);
    ASSERT_EQ(connected.wait_for(10s), std::future_status::ready);
    connected.get();
    auto used = c.async_use(tube(), asio::use_future);
    ASSERT_EQ(used.wait_for(10s), std::future_status::ready);

    put_ledger ledger("kill:", 4000);
    // The server is killed (SIGKILL: nothing flushed on the way out) twice while a batch of
    // puts is in flight, and restarted on its binlog at once. From this thread (the fixture's
    // caveat about PR_SET_PDEATHSIG).
    put_all(c, ledger, 250, 50, [&](int batch) {
      if (batch == 3 || batch == 9) {
        std::this_thread::sleep_for(5ms);  // some answered, some on the wire, some not written
        server().kill();
        server().restart();
      }
    });
    c.close();

    std::size_t unknown_found = 0;
    std::size_t torn = 0;
    ledger.reconcile([this] { return make_client(); }, tube(), unknown_found, torn);
    std::cerr << "sigkill: " << ledger.count(put_ledger::state::acknowledged) << " acknowledged, "
              << ledger.count(put_ledger::state::unknown) << " unknown (found " << unknown_found
              << ", torn by the kill " << torn << ")\n";
  }
  runner.finish();
}

TEST_F(chaos, worker_runs_jobs_through_faults) {
  constexpr std::size_t jobs = 6000;
  {
    // Put directly, pipelined: the faults are the worker's.
    asio::io_context io;
    io_runner runner(io);
    {
      async_client c(io.get_executor(), server().endpoint(), reconnecting());
      auto connected = c.async_connect(asio::use_future);
      ASSERT_EQ(connected.wait_for(10s), std::future_status::ready);
      connected.get();
      auto used = c.async_use(tube(), asio::use_future);
      ASSERT_EQ(used.wait_for(10s), std::future_status::ready);
      put_ledger ledger("work:", jobs);
      put_all(c, ledger, 500);
      ASSERT_EQ(ledger.count(put_ledger::state::acknowledged), jobs);
      c.close();
    }
    runner.finish();
  }

  fault_schedule s;
  s.seed = fault_schedule::seed_for("chaos.worker_runs_jobs_through_faults");
  s.cut_every = 160 * 1024;
  s.stall_every = 64 * 1024;
  s.max_stall = 200ms;
  s.split = 0.05;
  fault_proxy proxy(server().port(), s);

  std::mutex mu;
  std::vector<int> runs(jobs, 0);
  std::set<job_id> deleted;
  worker_options o;
  o.concurrency = 8;
  o.grace = 5s;
  o.client = reconnecting();
  o.on_event = [&](const worker_event& e) {
    if (e.what != worker_event::kind::deleted) return;
    const std::lock_guard lock(mu);
    deleted.insert(e.job);
  };
  worker w(proxy.endpoint(), o);
  w.handle(tube(), [&](job_context& ctx) {
    const std::size_t i = std::stoul(ctx.body().substr(5));
    const std::lock_guard lock(mu);
    ++runs.at(i);
  });
  std::thread run([&] { w.run(); });

  auto direct = make_client();
  const auto all_ran = [&] {
    const std::lock_guard lock(mu);
    for (const int n : runs) {
      if (n == 0) return false;
    }
    return true;
  };
  const auto deadline = std::chrono::steady_clock::now() + 90s;
  bool finished = false;
  for (int tick = 1; !finished && std::chrono::steady_clock::now() < deadline; ++tick) {
    std::this_thread::sleep_for(100ms);
    const auto st = direct.stats_tube(tube());
    finished = all_ran() && st.current_jobs_ready == 0 && st.current_jobs_reserved == 0 &&
               st.current_jobs_delayed == 0;
    if (tick % 50 == 0) {
      std::cerr << "worker: ready " << st.current_jobs_ready << ", reserved "
                << st.current_jobs_reserved << ", delayed " << st.current_jobs_delayed
                << "; proxy: " << proxy.cuts() << " cuts\n";
    }
  }
  // The stop is bounded too: grace (5 s) plus a margin.
  w.stop();
  auto stopped = std::async(std::launch::async, [&] { run.join(); });
  ASSERT_EQ(stopped.wait_for(20s), std::future_status::ready) << "the worker did not stop";
  EXPECT_TRUE(finished) << "jobs left after 90 s";

  std::size_t twice = 0;
  std::size_t never = 0;
  for (const int n : runs) {
    twice += n > 1 ? 1 : 0;
    never += n == 0 ? 1 : 0;
  }
  EXPECT_EQ(never, 0u);
  EXPECT_LT(twice * 100, jobs) << twice << " of " << jobs << " jobs ran more than once";
  for (const job_id id : deleted) {
    std::error_code ec;
    EXPECT_FALSE(direct.peek(id, ec).has_value()) << "job " << id.value << " reported deleted";
  }
  EXPECT_EQ(direct.stats_tube(tube()).current_jobs_buried, 0u);
  std::cerr << "worker: " << jobs << " jobs, " << deleted.size() << " deleted events, " << twice
            << " ran twice; proxy: " << proxy.connections() << " connections, " << proxy.cuts()
            << " cuts, " << proxy.stalls() << " stalls, " << proxy.splits() << " splits\n";
}

}  // namespace
}  // namespace beanpole::testing
