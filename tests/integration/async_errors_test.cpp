// The async client's errors: the same error codes as the blocking client for server answers,
// arguments refused before anything is sent, commands without a connection, and what close()
// does to pending operations.
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/use_future.hpp>
#include <atomic>
#include <csignal>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "async_test_support.hpp"
#include "beanpole/async_client.hpp"
#include "beanstalkd_server.hpp"
#include "server_test.hpp"
#include "test_helpers.hpp"

namespace beanpole::testing {
namespace {

using namespace std::chrono_literals;

/// Records the error an operation completed with, and that it completed exactly once.
struct outcome {
  std::error_code ec;
  int calls = 0;
  void operator()(std::error_code e) {
    ec = e;
    ++calls;
  }
};

class async_errors : public server_test {
 protected:
  static async_client_options options() { return test_client_options(5s); }
  static void setup(async_client& c, const tube_name& t) { connect_to_tube(c, t); }
};

// Negative server answers: the async client reports exactly what the blocking client reports.
TEST_F(async_errors, server_answers_match_the_blocking_client) {
  io_threads runner;
  async_client c(runner.executor(), server().endpoint(), options());
  setup(c, tube());
  client b = make_client();
  const job_id missing{std::uint64_t{1} << 62};
  const tube_name never = unique_tube("never-used");

  struct check {
    const char* what;
    std::error_code async_ec;
    std::error_code blocking_ec;
  };
  std::vector<check> checks;
  auto blocking = [](auto f) {
    std::error_code ec;
    f(ec);
    return ec;
  };
  checks.push_back({"delete", error_of(c.async_remove(missing, asio::use_future)),
                    blocking([&](std::error_code& ec) { b.remove(missing, ec); })});
  checks.push_back({"touch", error_of(c.async_touch(missing, asio::use_future)),
                    blocking([&](std::error_code& ec) { b.touch(missing, ec); })});
  checks.push_back({"release", error_of(c.async_release(missing, 1, 0s, asio::use_future)),
                    blocking([&](std::error_code& ec) { b.release(missing, 1, 0s, ec); })});
  checks.push_back({"bury", error_of(c.async_bury(missing, 1, asio::use_future)),
                    blocking([&](std::error_code& ec) { b.bury(missing, 1, ec); })});
  checks.push_back({"kick-job", error_of(c.async_kick_job(missing, asio::use_future)),
                    blocking([&](std::error_code& ec) { b.kick_job(missing, ec); })});
  checks.push_back({"stats-job", error_of(c.async_stats_job(missing, asio::use_future)),
                    blocking([&](std::error_code& ec) { b.stats_job(missing, ec); })});
  checks.push_back({"stats-tube", error_of(c.async_stats_tube(never, asio::use_future)),
                    blocking([&](std::error_code& ec) { b.stats_tube(never, ec); })});
  checks.push_back({"pause-tube", error_of(c.async_pause_tube(never, 1s, asio::use_future)),
                    blocking([&](std::error_code& ec) { b.pause_tube(never, 1s, ec); })});
  checks.push_back({"ignore last", error_of(c.async_ignore(tube(), asio::use_future)),
                    blocking([&](std::error_code& ec) { b.ignore(tube(), ec); })});
  const std::string too_big(70'000, 'x');  // above the server's default max-job-size (65535)
  checks.push_back({"put too big", error_of(c.async_put(too_big, {}, asio::use_future)),
                    blocking([&](std::error_code& ec) { b.put(too_big, {}, ec); })});

  EXPECT_EQ(checks[0].async_ec, make_error_code(errc::not_found));
  EXPECT_EQ(checks[8].async_ec, make_error_code(errc::not_ignored));
  EXPECT_EQ(checks[9].async_ec, make_error_code(errc::job_too_big));
  for (const auto& k : checks) {
    SCOPED_TRACE(k.what);
    EXPECT_TRUE(k.async_ec) << "no error";
    EXPECT_EQ(k.async_ec, k.blocking_ec)
        << k.async_ec.message() << " vs " << k.blocking_ec.message();
    EXPECT_STREQ(k.async_ec.category().name(), "beanpole");
    EXPECT_TRUE(k.async_ec == condition::server_answer);
  }
  // "Not found" answers that are not errors: empty results, like the blocking client's.
  EXPECT_FALSE(value_of(c.async_peek(missing, asio::use_future)).has_value());
  EXPECT_FALSE(b.peek(missing).has_value());
  EXPECT_FALSE(value_of(c.async_reserve_job(missing, asio::use_future)).has_value());
  EXPECT_FALSE(value_of(c.async_peek_state(proto::job_state::buried, asio::use_future)));

  // The connection stayed in step through all of it: pipelined commands still match replies.
  auto p1 = c.async_put("one", {}, asio::use_future);
  auto bad = c.async_remove(missing, asio::use_future);
  auto p2 = c.async_put("two", {}, asio::use_future);
  const job_id id1 = value_of(std::move(p1));
  EXPECT_EQ(error_of(std::move(bad)), make_error_code(errc::not_found));
  const job_id id2 = value_of(std::move(p2));
  EXPECT_EQ(value_of(c.async_peek(id1, asio::use_future))->body, "one");
  EXPECT_EQ(value_of(c.async_peek(id2, asio::use_future))->body, "two");
}

// Arguments that do not fit the protocol are refused with value_out_of_range before anything is
// sent: the server counts no such command, and the pipeline around them is undisturbed.
// A put answered DRAINING: the client emits `draining` before the put completes, so that whoever
// places puts (the pool) stops sending them there before it hears of the failure. A server of
// its own: drain mode cannot be left.
TEST_F(async_errors, a_put_answered_draining_emits_draining_before_it_completes) {
  beanstalkd_server own;
  io_threads runner;
  auto opts = options();
  std::atomic<int> drained{0};
  opts.on_event = [&](const client_event& e) {
    if (e.what == client_event::kind::draining) ++drained;
  };
  async_client c(runner.executor(), own.endpoint(), opts);
  value_of(c.async_connect(asio::use_future));
  value_of(c.async_put("before", {}, asio::use_future));
  EXPECT_EQ(drained.load(), 0);
  own.signal(SIGUSR1);
  std::this_thread::sleep_for(100ms);
  std::promise<int> seen_at_completion;
  c.async_put("during", {}, [&](std::error_code ec, job_id) {
    EXPECT_EQ(ec, errc::draining);
    seen_at_completion.set_value(drained.load());
  });
  auto f = seen_at_completion.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(f.get(), 1);
  EXPECT_EQ(to_string(client_event::kind::draining), "draining");
}

// A put into another tube whose own request is refused (a TTR beyond 32 bits) after its `use`
// was queued: the `use` still goes out, and the client goes on. (The flush the `use` asked for
// was dropped with the refused put, and the next commands waited for a write that never came.)
TEST_F(async_errors, a_put_into_a_tube_refused_after_its_use_leaves_the_client_working) {
  io_threads runner;
  async_client c(runner.executor(), server().endpoint(), options());
  value_of(c.async_connect(asio::use_future));
  put_options bad;
  bad.ttr = std::chrono::seconds{std::int64_t{1} << 33};
  EXPECT_EQ(error_of(c.async_put(tube(), "x", bad, asio::use_future)), errc::value_out_of_range);
  EXPECT_EQ(value_of(c.async_list_tube_used(asio::use_future), 5s), tube().str());
  const job_id id = value_of(c.async_put(tube(), "y", {}, asio::use_future), 5s);
  EXPECT_EQ(value_of(c.async_stats_job(id, asio::use_future)).tube, tube().str());
}

TEST_F(async_errors, invalid_arguments_are_refused_before_anything_is_sent) {
  io_threads runner;
  async_client c(runner.executor(), server().endpoint(), options());
  setup(c, tube());
  client b = make_plain_client();
  const auto out_of_range = make_error_code(errc::value_out_of_range);
  const std::chrono::seconds too_big{std::int64_t{1} << 32};  // 2^32 > 2^32 - 1
  const auto before = b.stats();

  put_options late;
  late.delay = too_big;
  put_options long_ttr;
  long_ttr.ttr = too_big;
  put_options negative;
  negative.delay = -1s;
  put_options max_ok;
  max_ok.delay = std::chrono::seconds{0xFFFFFFFFLL};  // the largest delay that fits
  // Issued together, not awaited: the refused ones sit between two that go out.
  auto ok1 = c.async_put("ok 1", {}, asio::use_future);
  auto bad1 = c.async_put("late", late, asio::use_future);
  auto bad2 = c.async_put("long ttr", long_ttr, asio::use_future);
  auto bad3 = c.async_put("negative", negative, asio::use_future);
  auto ok2 = c.async_put("ok 2", max_ok, asio::use_future);
  const job_id id1 = value_of(std::move(ok1));
  EXPECT_EQ(error_of(std::move(bad1)), out_of_range);
  EXPECT_EQ(error_of(std::move(bad2)), out_of_range);
  EXPECT_EQ(error_of(std::move(bad3)), out_of_range);
  const job_id id2 = value_of(std::move(ok2));
  EXPECT_EQ(id2.value, id1.value + 1) << "something else was put in between";
  EXPECT_EQ(value_of(c.async_stats_job(id2, asio::use_future)).state, "delayed");
  EXPECT_TRUE(make_error_code(errc::value_out_of_range) == condition::local_misuse);

  // release with a delay too big, on a job the main connection holds: refused, job still held.
  EXPECT_EQ(value_of(c.async_peek(id1, asio::use_future))->body, "ok 1");
  const auto held = value_of(c.async_reserve_with_timeout(0s, asio::use_future));
  ASSERT_TRUE(held.has_value());
  EXPECT_EQ(error_of(c.async_release(held->id, 1, too_big, asio::use_future)), out_of_range);
  EXPECT_EQ(value_of(c.async_stats_job(held->id, asio::use_future)).state, "reserved");
  // The same on a job held by a reserve connection.
  value_of(c.async_release(held->id, 1, 0s, asio::use_future));
  const job lane_job = value_of(c.async_reserve(asio::use_future));
  EXPECT_EQ(error_of(c.async_release(lane_job.id, 1, too_big, asio::use_future)), out_of_range);
  EXPECT_EQ(value_of(c.async_stats_job(lane_job.id, asio::use_future)).state, "reserved");
  value_of(c.async_release(lane_job.id, 1, 0s, asio::use_future));

  EXPECT_EQ(error_of(c.async_pause_tube(tube(), too_big, asio::use_future)), out_of_range);
  EXPECT_EQ(error_of(c.async_reserve_with_timeout(-1s, asio::use_future)), out_of_range);

  const auto after = b.stats();
  EXPECT_EQ(after.cmd_put - before.cmd_put, 2u);
  EXPECT_EQ(after.cmd_release - before.cmd_release, 2u);
  EXPECT_EQ(after.cmd_pause_tube - before.cmd_pause_tube, 0u);
  EXPECT_EQ(after.cmd_reserve_with_timeout - before.cmd_reserve_with_timeout, 1u);
}

// Before async_connect every command fails with not_connected, at once, and nothing connects.
TEST_F(async_errors, commands_before_connect_fail_with_not_connected) {
  io_threads runner;
  async_client c(runner.executor(), server().endpoint(), options());
  const auto not_connected = make_error_code(errc::not_connected);
  stopwatch sw;
  EXPECT_EQ(error_of(c.async_put("x", {}, asio::use_future), 1s), not_connected);
  EXPECT_EQ(error_of(c.async_use(tube(), asio::use_future), 1s), not_connected);
  EXPECT_EQ(error_of(c.async_watch(tube(), asio::use_future), 1s), not_connected);
  EXPECT_EQ(error_of(c.async_ignore("default", asio::use_future), 1s), not_connected);
  EXPECT_EQ(error_of(c.async_stats(asio::use_future), 1s), not_connected);
  EXPECT_EQ(error_of(c.async_remove(job_id{1}, asio::use_future), 1s), not_connected);
  EXPECT_EQ(error_of(c.async_reserve_with_timeout(0s, asio::use_future), 1s), not_connected);
  EXPECT_EQ(error_of(c.async_list_tube_used(asio::use_future), 1s), not_connected);
  // At once: far below the 5 s reply timeout any wait would take (a bound loose enough for a
  // ThreadSanitizer build on a loaded machine, where these eight took 0.85 s).
  EXPECT_LT(sw.elapsed(), 3s);
  EXPECT_EQ(c.in_flight(), 0u);
  // use/watch refused above were not recorded either: after connecting, the state is fresh.
  value_of(c.async_connect(asio::use_future));
  EXPECT_EQ(value_of(c.async_list_tube_used(asio::use_future)), "default");
  EXPECT_EQ(value_of(c.async_list_tubes_watched(asio::use_future)),
            std::vector<std::string>{"default"});
}

// The reserves that may wait are commands too: before async_connect they fail the same way,
// rather than opening connections of their own.
TEST_F(async_errors, waiting_reserves_before_connect_fail_with_not_connected) {
  io_threads runner;
  async_client c(runner.executor(), server().endpoint(), options());
  const auto not_connected = make_error_code(errc::not_connected);
  auto r1 = c.async_reserve(asio::use_future);
  auto r2 = c.async_reserve_with_timeout(1s, asio::use_future);
  EXPECT_EQ(error_of(std::move(r1), 2s), not_connected) << "async_reserve";
  EXPECT_EQ(error_of(std::move(r2), 3s), not_connected) << "async_reserve_with_timeout(1s)";
  c.close();
}

// "Commands issued before it completes wait for it": commands issued right after
// async_connect, before the connection is up, are sent once it is.
TEST_F(async_errors, commands_issued_right_after_async_connect_wait_for_it) {
  asio::io_context io;  // not running while the commands are issued
  async_client c(io.get_executor(), server().endpoint(), options());
  outcome connected;
  outcome used;
  outcome put;
  job_id id{};
  c.async_connect(std::ref(connected));
  c.async_use(tube(), std::ref(used));
  c.async_put("right after connect", {}, [&](std::error_code e, job_id got) {
    put(e);
    id = got;
  });
  ASSERT_TRUE(run_until(
      io, [&] { return connected.calls && used.calls && put.calls; }, 5s));
  EXPECT_FALSE(connected.ec) << connected.ec.message();
  EXPECT_FALSE(used.ec) << used.ec.message();
  EXPECT_FALSE(put.ec) << put.ec.message();
  if (!put.ec) {
    client b = make_plain_client();
    EXPECT_EQ(b.stats_job(id).tube, tube().str());
  }
  c.close();
  io.run_for(500ms);
}

// close() completes every pending operation: written and unanswered (the server is frozen),
// queued and not yet written, waiting reserves, connects; a written put may instead be reported
// "outcome unknown" (it may have happened), never as a plain failure.
TEST_F(async_errors, close_completes_pending_operations_with_operation_aborted) {
  asio::io_context io;
  async_client c(io.get_executor(), server().endpoint(), options());
  outcome connected;
  c.async_connect(std::ref(connected));
  ASSERT_TRUE(run_until(
      io, [&] { return connected.calls == 1; }, 5s));
  ASSERT_FALSE(connected.ec);
  outcome used;
  c.async_use(tube(), std::ref(used));
  ASSERT_TRUE(run_until(
      io, [&] { return used.calls == 1; }, 5s));

  outcome reserve_waiting;
  c.async_reserve([&](std::error_code e, job) { reserve_waiting(e); });
  ASSERT_TRUE(run_until(
      io,
      [&] {
        client b = make_plain_client();
        return b.stats_tube("default").current_waiting == 1;
      },
      3s));

  frozen_server frozen(server());
  outcome stats_written;
  outcome put_written;
  c.async_stats([&](std::error_code e, proto::server_stats) { stats_written(e); });
  c.async_put("written", {}, [&](std::error_code e, job_id) { put_written(e); });
  io.run_for(100ms);  // written; the frozen server will not answer
  outcome stats_queued;
  outcome put_queued;
  outcome reserve_queued;
  c.async_stats([&](std::error_code e, proto::server_stats) { stats_queued(e); });
  c.async_put("queued", {}, [&](std::error_code e, job_id) { put_queued(e); });
  c.async_reserve([&](std::error_code e, job) { reserve_queued(e); });
  c.close();
  outcome connect_after;
  c.async_connect(std::ref(connect_after));
  const std::vector<outcome*> all{&reserve_waiting, &stats_written,  &put_written,  &stats_queued,
                                  &put_queued,      &reserve_queued, &connect_after};
  stopwatch sw;
  const bool finished = run_until(
      io,
      [&] {
        for (const auto* o : all) {
          if (o->calls == 0) return false;
        }
        return true;
      },
      3s);
  EXPECT_TRUE(finished) << "some operation never completed after close()";
  EXPECT_LT(sw.elapsed(), 500ms);
  const auto aborted = make_error_code(asio::error::operation_aborted);
  EXPECT_EQ(reserve_waiting.ec, aborted) << reserve_waiting.ec.message();
  EXPECT_EQ(stats_written.ec, aborted) << stats_written.ec.message();
  EXPECT_TRUE(put_written.ec == aborted || put_written.ec == errc::outcome_unknown)
      << put_written.ec.message();
  EXPECT_EQ(stats_queued.ec, aborted) << stats_queued.ec.message();
  EXPECT_EQ(put_queued.ec, aborted) << put_queued.ec.message();
  EXPECT_EQ(reserve_queued.ec, aborted) << reserve_queued.ec.message();
  EXPECT_EQ(connect_after.ec, aborted) << connect_after.ec.message();
  for (const auto* o : all) EXPECT_LE(o->calls, 1) << "completed more than once";
  frozen.thaw();

  // After close(), new commands fail at once.
  outcome late;
  c.async_stats([&](std::error_code e, proto::server_stats) { late(e); });
  ASSERT_TRUE(run_until(
      io, [&] { return late.calls == 1; }, 1s));
  EXPECT_TRUE(late.ec) << "a command after close() succeeded";
  EXPECT_EQ(c.in_flight(), 0u);
}

// The handler that reports a connection failure may issue the next command: the client is then
// disconnected (no reconnect), so that command fails with not_connected, like any command after
// the failure, and is not swept up with the failed connection's own commands.
TEST_F(async_errors, command_from_a_failure_handler_fails_with_not_connected) {
  io_threads runner;
  auto o = options();
  o.reply_timeout = 300ms;
  async_client c(runner.executor(), server().endpoint(), o);
  value_of(c.async_connect(asio::use_future));
  auto next = std::make_shared<std::promise<std::error_code>>();
  {
    frozen_server frozen(server());
    c.async_put("in flight", {}, [&c, next](std::error_code, job_id) {
      // The put's reply was lost (reply timeout); issue the next command right here.
      c.async_stats([next](std::error_code e, proto::server_stats) { next->set_value(e); });
    });
    const auto ec = value_of(next->get_future(), 3s);
    EXPECT_EQ(ec, make_error_code(errc::not_connected)) << ec.message();
    frozen.thaw();
  }

  // The same for a failed connect: a command issued by the connect handler.
  asio::io_context local;
  asio::ip::tcp::acceptor acceptor(local);
  const asio::ip::tcp::endpoint any(asio::ip::make_address("127.0.0.1"), 0);
  acceptor.open(any.protocol());
  acceptor.bind(any);
  acceptor.listen(0);  // room for one unaccepted connection: the next connect times out
  asio::ip::tcp::socket filler(local);
  filler.connect(acceptor.local_endpoint());
  o.connect_timeout = 300ms;
  async_client d(runner.executor(), endpoint::tcp("127.0.0.1", acceptor.local_endpoint().port()),
                 o);
  auto after_connect = std::make_shared<std::promise<std::error_code>>();
  d.async_connect([&d, after_connect](std::error_code) {
    d.async_stats(
        [after_connect](std::error_code e, proto::server_stats) { after_connect->set_value(e); });
  });
  const auto ec = value_of(after_connect->get_future(), 5s);
  EXPECT_EQ(ec, make_error_code(errc::not_connected)) << ec.message();
}

// A handler may call the client (here: issue a put) even when it runs because the client was
// closed. A reserve started after close() must not complete while the client holds its own
// lock, or the handler's call deadlocks the io thread.
TEST_F(async_errors, handler_of_a_reserve_after_close_may_call_the_client) {
  // On purpose on the heap: if the io thread deadlocks they must stay alive (and are leaked).
  auto io = std::make_shared<asio::io_context>();
  auto c = std::make_shared<async_client>(io->get_executor(), server().endpoint(), options());
  auto result = std::make_shared<std::promise<std::error_code>>();
  auto f = result->get_future();
  c->close();
  c->async_reserve([c, result](std::error_code e, job) {
    c->async_put("from a handler", {}, [](std::error_code, job_id) {});
    result->set_value(e);
  });
  auto io_done = std::make_shared<std::atomic<bool>>(false);
  std::thread runner([io, io_done] {
    io->run_for(5s);
    *io_done = true;
  });
  if (f.wait_for(3s) != std::future_status::ready) {
    ADD_FAILURE() << "the reserve's handler never returned: the io thread is deadlocked on the "
                     "client's mutex (the handler's call re-locks it)";
    runner.detach();  // stuck for good; the client and io_context are left to it
    return;
  }
  EXPECT_EQ(f.get(), make_error_code(asio::error::operation_aborted));
  runner.join();
}

}  // namespace
}  // namespace beanpole::testing
