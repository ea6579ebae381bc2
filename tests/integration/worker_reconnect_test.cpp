// A connection lost mid-run: the server (with a binlog) is killed while a handler runs and
// restarted on the same port, so the job comes back as ready. The worker reconnects, reports
// the lost reservation, never crashes on the failing touches and deletes, and does not run the
// job twice: it either adopts the job when one of its own slots reserves it again, or deletes the
// ready job when the handler succeeds.
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
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

/// A handler that counts its calls and holds its job until `proceed`, then records whether the
/// worker had lost the job meanwhile.
struct held_handler {
  std::atomic<int> calls{0};
  std::atomic<bool> proceed{false};
  std::atomic<bool> saw_lost{false};

  void install(worker& w, const tube_name& tube) {
    w.handle(tube, [this](job_context& ctx) {
      ++calls;
      eventually([this] { return proceed.load(); }, 15s);
      saw_lost = ctx.lost();
    });
  }
};

class worker_reconnect : public server_test {
 public:
  static void SetUpTestSuite() { start_suite_server(server_options{}.with_binlog()); }

 protected:
  std::chrono::seconds time_limit() const override { return std::chrono::seconds{30}; }

  worker_options options(std::vector<worker_event>& events) {
    worker_options o;
    o.client.connect_timeout = 2s;
    o.client.reply_timeout = 5s;
    o.client.reconnect.wait.initial = 50ms;
    o.client.reconnect.wait.max = 300ms;
    o.on_event = [this, &events](const worker_event& e) {
      std::lock_guard lock(mu_);
      events.push_back(e);
    };
    return o;
  }

  int count(const std::vector<worker_event>& events, worker_event::kind what) {
    std::lock_guard lock(mu_);
    int n = 0;
    for (const auto& e : events) n += e.what == what ? 1 : 0;
    return n;
  }

  std::mutex mu_;
};

// Two slots: after the restart the idle slot reserves the job again; the running handler adopts
// that reservation and its delete goes through it.
TEST_F(worker_reconnect, lost_job_reserved_again_is_adopted_not_run_twice) {
  put_options p;
  p.ttr = 2s;
  const job_id id = make_client().put("survives", p);

  io_threads io;
  std::vector<worker_event> events;
  auto o = options(events);
  o.concurrency = 2;
  worker w(io.executor(), server().endpoint(), o);
  held_handler h;
  h.install(w, tube());
  auto run = start_run(w);
  ASSERT_TRUE(eventually([&] { return h.calls.load() == 1; }, 3s));

  server().kill();
  server().restart();
  ASSERT_TRUE(eventually([&] { return count(events, worker_event::kind::adopted) == 1; }, 8s))
      << "the job did not come back to the idle slot";
  std::this_thread::sleep_for(1500ms);  // a touch or two through the new reservation
  h.proceed = true;
  ASSERT_TRUE(eventually([&] { return w.metrics().total().deleted == 1; }, 5s));
  w.stop();
  EXPECT_EQ(run_result(run, 5s), "");

  EXPECT_EQ(h.calls.load(), 1);
  EXPECT_FALSE(h.saw_lost.load()) << "adopted: the handler holds the job again";
  EXPECT_GE(count(events, worker_event::kind::lost), 1);
  const auto m = w.metrics().total();
  EXPECT_EQ(m.deleted, 1u);
  EXPECT_GE(m.lost, 1u);
  EXPECT_GE(w.metrics().reconnects, 1u);
  auto c = make_client();
  EXPECT_FALSE(c.peek(id)) << "deleted";
}

// One slot: nobody reserves the job again; when the handler succeeds its delete (through the
// main connection) removes the job, which is ready again after the restart.
TEST_F(worker_reconnect, lost_job_is_deleted_when_its_handler_succeeds) {
  put_options p;
  p.ttr = 1s;  // touches every 0.5 s, some of them during the outage
  const job_id id = make_client().put("survives too", p);

  io_threads io;
  std::vector<worker_event> events;
  worker w(io.executor(), server().endpoint(), options(events));
  held_handler h;
  h.install(w, tube());
  auto run = start_run(w);
  ASSERT_TRUE(eventually([&] { return h.calls.load() == 1; }, 3s));

  server().kill();
  server().restart();
  ASSERT_TRUE(eventually([&] { return count(events, worker_event::kind::lost) >= 1; }, 5s));
  std::this_thread::sleep_for(1200ms);
  h.proceed = true;
  ASSERT_TRUE(eventually([&] { return w.metrics().total().deleted == 1; }, 5s));
  w.stop();
  EXPECT_EQ(run_result(run, 5s), "");

  EXPECT_EQ(h.calls.load(), 1);
  EXPECT_TRUE(h.saw_lost.load());
  const auto m = w.metrics().total();
  EXPECT_EQ(m.succeeded, 1u);
  EXPECT_EQ(m.deleted, 1u);
  EXPECT_EQ(m.lost, 1u) << "counted once, however many commands failed";
  auto c = make_client();
  EXPECT_FALSE(c.peek(id)) << "the ready job was deleted: no second run";
}

// The server dies while a handler runs; the handler then succeeds, so a delete is owed that
// nothing can carry. A stop must not wait for the server (nor for the reply timeout): the grace
// period bounds it, the job is reported, and the server (restarted with its binlog) still has
// it, as it takes back every job of a closed connection.
TEST_F(worker_reconnect, stop_with_a_delete_owed_while_the_server_is_down_ends_within_grace) {
  const job_id id = make_client().put("delete owed");

  io_threads io;
  std::vector<worker_event> events;
  auto o = options(events);
  o.client.reply_timeout = 30s;  // the delete could wait this long for a connection
  o.grace = 2s;
  worker w(io.executor(), server().endpoint(), o);
  held_handler h;
  h.install(w, tube());
  auto run = start_run(w);
  ASSERT_TRUE(eventually([&] { return h.calls.load() == 1; }, 3s));

  server().kill();
  ASSERT_TRUE(eventually([&] { return count(events, worker_event::kind::lost) >= 1; }, 5s));
  h.proceed = true;  // the handler succeeds: its delete waits for a server that is gone
  ASSERT_TRUE(eventually([&] { return w.metrics().total().succeeded == 1; }, 5s));
  const stopwatch clock;
  w.stop();
  EXPECT_EQ(run_result(run, 4s), "") << "the stop outlived the grace period";
  EXPECT_LE(clock.elapsed(), 3s);
  {
    std::lock_guard lock(mu_);
    bool reported = false;
    for (const auto& e : events) {
      reported = reported || (e.what == worker_event::kind::lost && e.job == id &&
                              e.message.find("delete") != std::string::npos);
    }
    EXPECT_TRUE(reported) << "the unsent delete was not reported";
  }
  server().restart();
  auto c = make_client();
  std::error_code ec;
  const auto st = c.stats_job(id, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(st.state, "ready") << "the server gave the job back";
}

// The same owed delete, a long grace period: a second stop ends the run at once.
TEST_F(worker_reconnect, second_stop_ends_at_once_while_a_delete_is_owed) {
  make_client().put("delete owed too");
  io_threads io;
  std::vector<worker_event> events;
  auto o = options(events);
  o.client.reply_timeout = 30s;
  o.grace = 60s;
  worker w(io.executor(), server().endpoint(), o);
  held_handler h;
  h.install(w, tube());
  auto run = start_run(w);
  ASSERT_TRUE(eventually([&] { return h.calls.load() == 1; }, 3s));
  server().kill();
  ASSERT_TRUE(eventually([&] { return count(events, worker_event::kind::lost) >= 1; }, 5s));
  h.proceed = true;
  ASSERT_TRUE(eventually([&] { return w.metrics().total().succeeded == 1; }, 5s));
  w.stop();
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(run.wait_for(0s), std::future_status::timeout)
      << "the first stop may wait (within the grace period) for the server";
  const stopwatch clock;
  w.stop();
  EXPECT_EQ(run_result(run, 2s), "") << "the second stop did not end the run at once";
  EXPECT_LE(clock.elapsed(), 1500ms);
  server().restart();
}

// A server not up yet at start: with wait_for_server the worker waits for it, through the
// client's reconnect backoff, and then works; without it the run fails (worker_shutdown).
TEST_F(worker_reconnect, waits_for_a_server_that_is_not_up_yet) {
  server().kill();
  io_threads io;
  std::vector<worker_event> events;
  auto o = options(events);
  o.wait_for_server = true;
  worker w(io.executor(), server().endpoint(), o);
  std::atomic<int> calls{0};
  w.handle(tube(), [&](job_context&) { ++calls; });
  auto run = start_run(w);
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(run.wait_for(0s), std::future_status::timeout) << "the run ended without a server";
  int attempts = 0;
  {
    std::lock_guard lock(mu_);
    for (const auto& e : events) {
      attempts += e.what == worker_event::kind::connection &&
                          e.client.what == client_event::kind::reconnecting
                      ? 1
                      : 0;
    }
  }
  EXPECT_GE(attempts, 2) << "every attempt is reported";
  server().restart();
  const job_id id = make_client().put("after the wait");
  ASSERT_TRUE(eventually([&] { return w.metrics().total().deleted == 1; }, 5s));
  w.stop();
  EXPECT_EQ(run_result(run, 5s), "");
  EXPECT_EQ(calls.load(), 1);
  EXPECT_FALSE(make_client().peek(id));
}

// Waiting for the server: a stop ends the run at once, and the client's reconnect bounds end
// the wait with the connect error.
TEST_F(worker_reconnect, waiting_for_the_server_ends_on_stop_or_when_the_client_gives_up) {
  server().kill();
  io_threads io;
  std::vector<worker_event> events;
  {
    auto o = options(events);
    o.wait_for_server = true;
    worker w(io.executor(), server().endpoint(), o);
    w.handle(tube(), [](job_context&) {});
    auto run = start_run(w);
    std::this_thread::sleep_for(500ms);
    const stopwatch clock;
    w.stop();
    EXPECT_EQ(run_result(run, 2s), "");
    EXPECT_LE(clock.elapsed(), 1s);
  }
  {
    auto o = options(events);
    o.wait_for_server = true;
    o.client.reconnect.max_attempts = 2;
    worker w(io.executor(), server().endpoint(), o);
    w.handle(tube(), [](job_context&) {});
    auto run = start_run(w);
    ASSERT_EQ(run.wait_for(5s), std::future_status::ready) << "the client's bounds were ignored";
    EXPECT_EQ(run.get(), asio::error::connection_refused);
  }
  server().restart();
}

}  // namespace
}  // namespace beanpole::testing
