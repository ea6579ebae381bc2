// The async client's reserves: waiting reserves on connections of their own that never stall
// other work, job actions routed to the connection that holds the job, cancellation of a
// waiting reserve (cancellation slots, awaitable operators), and the client's tube state
// (use / watch / ignore) on every connection.
#include <algorithm>
#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>
#include <atomic>
#include <future>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "async_test_support.hpp"
#include "beanpole/async_client.hpp"
#include "server_test.hpp"
#include "test_helpers.hpp"

namespace beanpole::testing {
namespace {

using namespace std::chrono_literals;

class async_fixture : public server_test {
 protected:
  static async_client_options options() { return test_client_options(5s); }

  /// Connects `c` and makes it use and watch only `t`. `c` must run on another thread.
  static void setup(async_client& c, const tube_name& t) { connect_to_tube(c, t); }

  /// How many connections wait in a reserve on `t` (asked on a connection of its own).
  std::uint64_t waiting_on(const tube_name& t) {
    client b = make_plain_client();
    return b.stats_tube(t).current_waiting;
  }

  /// The state of job `id` ("ready", "reserved", ...), or "gone".
  std::string state_of(job_id id) {
    client b = make_plain_client();
    std::error_code ec;
    auto st = b.stats_job(id, ec);
    return ec ? std::string("gone") : st.state;
  }
};

// ============================================================================ async_reserve

class async_reserve : public async_fixture {};

// A reserve waiting for a job (on its own connection) does not hold back puts, stats, peeks,
// deletes issued on the same client meanwhile; a put to the watched tube then satisfies it.
TEST_F(async_reserve, waiting_reserve_does_not_stall_other_work) {
  io_threads runner;
  async_client c(runner.executor(), server().endpoint(), options());
  setup(c, tube());

  auto reserve = c.async_reserve(asio::use_future);
  ASSERT_TRUE(eventually([&] { return waiting_on(tube()) == 1; }, 3s))
      << "the reserve never reached the server";

  const tube_name other = unique_tube("other");
  stopwatch total;
  auto prompt = [](auto f) {  // each command must complete well under a second
    struct timer {
      stopwatch sw;
      ~timer() { EXPECT_LT(sw.elapsed(), 500ms); }
    } t;
    return value_of(std::move(f), 1s);
  };
  prompt(c.async_use(other, asio::use_future));
  std::vector<job_id> ids;
  for (int i = 0; i < 10; ++i) {
    ids.push_back(prompt(c.async_put("meanwhile " + std::to_string(i), {}, asio::use_future)));
  }
  const auto server_stats = prompt(c.async_stats(asio::use_future));
  EXPECT_GE(server_stats.current_jobs_ready, 10u);
  EXPECT_EQ(prompt(c.async_stats_tube(other, asio::use_future)).current_jobs_ready, 10u);
  const auto peeked = prompt(c.async_peek(ids.front(), asio::use_future));
  ASSERT_TRUE(peeked.has_value());
  EXPECT_EQ(peeked->body, "meanwhile 0");
  EXPECT_EQ(prompt(c.async_stats_job(ids.back(), asio::use_future)).tube, other.str());
  for (const job_id id : ids) prompt(c.async_remove(id, asio::use_future));
  EXPECT_EQ(prompt(c.async_list_tube_used(asio::use_future)), other.str());
  EXPECT_LT(total.elapsed(), 1000ms) << "the other work was held back";

  EXPECT_EQ(reserve.wait_for(0s), std::future_status::timeout)
      << "the reserve completed although no job was put to its tube";

  prompt(c.async_use(tube(), asio::use_future));
  const job_id for_reserve = prompt(c.async_put("for the reserve", {}, asio::use_future));
  const job j = value_of(std::move(reserve), 2s);
  EXPECT_EQ(j.id, for_reserve);
  EXPECT_EQ(j.body, "for the reserve");
  value_of(c.async_remove(j.id, asio::use_future));
  EXPECT_EQ(state_of(j.id), "gone");
}

// Several waiting reserves each get a job of their own.
TEST_F(async_reserve, several_waiting_reserves_each_get_a_distinct_job) {
  io_threads runner;
  async_client c(runner.executor(), server().endpoint(), options());
  setup(c, tube());
  std::vector<std::future<job>> reserves;
  for (int i = 0; i < 5; ++i) reserves.push_back(c.async_reserve(asio::use_future));
  ASSERT_TRUE(eventually([&] { return waiting_on(tube()) == 5; }, 3s));
  const auto stats = value_of(c.async_stats(asio::use_future));  // not held back by five reserves
  EXPECT_GE(stats.current_connections, 6u);
  std::vector<job_id> put_ids;
  for (int i = 0; i < 5; ++i) {
    put_ids.push_back(value_of(c.async_put("job " + std::to_string(i), {}, asio::use_future)));
  }
  std::vector<job_id> got;
  for (auto& f : reserves) got.push_back(value_of(std::move(f), 3s).id);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, put_ids);
  for (const job_id id : got) value_of(c.async_remove(id, asio::use_future));
}

class async_job_actions : public async_fixture {
 protected:
  /// Touch, release, reserve again, bury, kick, reserve again, delete a job obtained with
  /// `reserve`; checks the server's view after each step. Touch, release and bury of a reserved
  /// job are refused (NOT_FOUND) on every connection but the one that reserved it, and so is
  /// delete, so each success proves the routing.
  template <class Reserve>
  void exercise(async_client& c, Reserve reserve, const std::string& how) {
    SCOPED_TRACE(how);
    const job_id id = value_of(c.async_put("act on me: " + how, {}, asio::use_future));
    std::optional<job> j = reserve();
    ASSERT_TRUE(j.has_value());
    ASSERT_EQ(j->id, id);
    EXPECT_EQ(state_of(id), "reserved");

    EXPECT_FALSE(error_of(c.async_touch(id, asio::use_future))) << "touch";
    EXPECT_EQ(state_of(id), "reserved");

    EXPECT_FALSE(error_of(c.async_release(id, 7, 0s, asio::use_future))) << "release";
    EXPECT_EQ(state_of(id), "ready");

    j = reserve();
    ASSERT_TRUE(j.has_value());
    ASSERT_EQ(j->id, id);
    EXPECT_FALSE(error_of(c.async_bury(id, 9, asio::use_future))) << "bury";
    EXPECT_EQ(state_of(id), "buried");

    EXPECT_FALSE(error_of(c.async_kick_job(id, asio::use_future))) << "kick-job";
    EXPECT_EQ(state_of(id), "ready");

    j = reserve();
    ASSERT_TRUE(j.has_value());
    ASSERT_EQ(j->id, id);
    const auto st = value_of(c.async_stats_job(id, asio::use_future));
    EXPECT_EQ(st.reserves, 3u);
    EXPECT_EQ(st.releases, 1u);
    EXPECT_EQ(st.buries, 1u);
    EXPECT_EQ(st.pri, 9u);
    EXPECT_FALSE(error_of(c.async_remove(id, asio::use_future))) << "delete";
    EXPECT_EQ(state_of(id), "gone");
    // The job is finished: later actions on it are plain NOT_FOUND, wherever they go.
    EXPECT_EQ(error_of(c.async_touch(id, asio::use_future)), make_error_code(errc::not_found));
  }
};

TEST_F(async_job_actions, job_from_a_waiting_reserve) {
  io_threads runner;
  async_client c(runner.executor(), server().endpoint(), options());
  setup(c, tube());
  exercise(
      c, [&]() -> std::optional<job> { return value_of(c.async_reserve(asio::use_future)); },
      "reserve");
}

TEST_F(async_job_actions, job_from_reserve_with_timeout_zero) {
  io_threads runner;
  async_client c(runner.executor(), server().endpoint(), options());
  setup(c, tube());
  exercise(
      c, [&] { return value_of(c.async_reserve_with_timeout(0s, asio::use_future)); },
      "reserve-with-timeout 0");
}

TEST_F(async_job_actions, job_from_reserve_with_timeout_that_may_wait) {
  io_threads runner;
  async_client c(runner.executor(), server().endpoint(), options());
  setup(c, tube());
  exercise(
      c, [&] { return value_of(c.async_reserve_with_timeout(2s, asio::use_future)); },
      "reserve-with-timeout 2");
}

TEST_F(async_job_actions, job_from_reserve_job) {
  io_threads runner;
  async_client c(runner.executor(), server().endpoint(), options());
  setup(c, tube());
  exercise(
      c,
      [&]() -> std::optional<job> {
        // reserve-job needs the id: take the oldest ready job of the tube.
        auto ready = value_of(c.async_peek_state(proto::job_state::ready, asio::use_future));
        if (!ready) return std::nullopt;
        return value_of(c.async_reserve_job(ready->id, asio::use_future));
      },
      "reserve-job");
}

// Jobs held at the same time by a reserve connection and by the main connection: actions on
// them, interleaved, each reach the right connection.
TEST_F(async_job_actions, jobs_held_on_both_kinds_of_connection) {
  io_threads runner;
  async_client c(runner.executor(), server().endpoint(), options());
  setup(c, tube());
  const job_id a = value_of(c.async_put("a", {}, asio::use_future));
  const job_id b = value_of(c.async_put("b", {}, asio::use_future));
  const job ja = value_of(c.async_reserve(asio::use_future));  // reserve connection
  const auto jb = value_of(c.async_reserve_with_timeout(0s, asio::use_future));  // main
  ASSERT_TRUE(jb.has_value());
  EXPECT_EQ(ja.id, a);
  EXPECT_EQ(jb->id, b);
  // All issued together, without awaiting.
  auto t1 = c.async_touch(a, asio::use_future);
  auto t2 = c.async_touch(b, asio::use_future);
  auto r1 = c.async_release(b, 1, 0s, asio::use_future);
  auto r2 = c.async_release(a, 2, 0s, asio::use_future);
  EXPECT_FALSE(error_of(std::move(t1)));
  EXPECT_FALSE(error_of(std::move(t2)));
  EXPECT_FALSE(error_of(std::move(r1)));
  EXPECT_FALSE(error_of(std::move(r2)));
  EXPECT_EQ(state_of(a), "ready");
  EXPECT_EQ(state_of(b), "ready");
  auto j1 = value_of(c.async_reserve_with_timeout(0s, asio::use_future));
  auto j2 = value_of(c.async_reserve(asio::use_future));
  ASSERT_TRUE(j1.has_value());
  EXPECT_EQ(j1->id, b);  // priority 1 before priority 2
  EXPECT_EQ(j2.id, a);
  auto d1 = c.async_remove(a, asio::use_future);
  auto d2 = c.async_remove(b, asio::use_future);
  EXPECT_FALSE(error_of(std::move(d1)));
  EXPECT_FALSE(error_of(std::move(d2)));
  EXPECT_EQ(state_of(a), "gone");
  EXPECT_EQ(state_of(b), "gone");
}

// A worker that lets a job's TTR run out (a normal beanstalkd pattern: the server gives the job
// to someone else) must not block later reserves: the server released the job, so the
// connection that reserved it holds nothing.
TEST_F(async_reserve, job_left_to_time_out_does_not_block_later_reserves) {
  io_threads runner;
  auto o = options();
  o.max_reserve_connections = 1;
  async_client c(runner.executor(), server().endpoint(), o);
  setup(c, tube());
  put_options ttr1;
  ttr1.ttr = 1s;
  const job_id id = value_of(c.async_put("abandoned", ttr1, asio::use_future));
  const job first = value_of(c.async_reserve(asio::use_future));
  ASSERT_EQ(first.id, id);
  // Abandon it past its TTR. (beanstalkd 1.12 may not release it until the connection that
  // holds it sends something; the client's probe of that connection takes care of it.)
  std::this_thread::sleep_for(2500ms);
  auto again = c.async_reserve_with_timeout(5s, asio::use_future);
  const auto st = again.wait_for(8s);
  ASSERT_EQ(st, std::future_status::ready)
      << "a reserve waits forever: the only reserve connection still counts the timed-out job "
         "as held";
  auto j = again.get();
  ASSERT_TRUE(j.has_value()) << "the ready job was not reserved";
  EXPECT_EQ(j->id, id);
  value_of(c.async_remove(id, asio::use_future));
}

// ============================================================================= async_cancel

class async_cancel : public async_fixture {
 protected:
  /// After a cancelled reserve: a job put now is not held by anybody. It is ready, and another
  /// client reserves it at once.
  void expect_next_job_is_free(async_client& c) {
    const job_id id = value_of(c.async_put("after the cancel", {}, asio::use_future));
    EXPECT_TRUE(eventually([&] { return state_of(id) == "ready"; }, 1s))
        << "the job is " << state_of(id) << ", held by a cancelled reserve";
    client other = make_client();
    stopwatch sw;
    auto j = other.reserve_with_timeout(2s);
    ASSERT_TRUE(j.has_value());
    EXPECT_EQ(j->id(), id);
    EXPECT_LT(sw.elapsed(), 500ms);
    j->remove();
  }

  /// The client still works: commands on the main connection and a new waiting reserve.
  void expect_usable(async_client& c) {
    EXPECT_EQ(value_of(c.async_list_tube_used(asio::use_future)), tube().str());
    auto r = c.async_reserve(asio::use_future);
    const job_id id = value_of(c.async_put("for a new reserve", {}, asio::use_future));
    const job j = value_of(std::move(r), 3s);
    EXPECT_EQ(j.id, id);
    value_of(c.async_remove(id, asio::use_future));
  }
};

// Cancellation through a cancellation slot while the reserve waits on the server.
TEST_F(async_cancel, signal_cancels_a_reserve_waiting_on_the_server) {
  for (const auto type : {asio::cancellation_type::terminal, asio::cancellation_type::partial,
                          asio::cancellation_type::total}) {
    SCOPED_TRACE(static_cast<int>(type));
    asio::cancellation_signal signal;
    io_threads runner;
    async_client c(runner.executor(), server().endpoint(), options());
    setup(c, tube());
    auto r = c.async_reserve(asio::bind_cancellation_slot(signal.slot(), asio::use_future));
    ASSERT_TRUE(eventually([&] { return waiting_on(tube()) == 1; }, 3s));
    stopwatch sw;
    asio::post(runner.io(), [&signal, type] { signal.emit(type); });  // on the io thread
    EXPECT_EQ(error_of(std::move(r), 2s), make_error_code(asio::error::operation_aborted));
    EXPECT_LT(sw.elapsed(), 500ms);
    EXPECT_TRUE(eventually([&] { return waiting_on(tube()) == 0; }, 1s));
    expect_next_job_is_free(c);
    expect_usable(c);
  }
}

// Cancellation before the reserve connection is even up.
TEST_F(async_cancel, signal_cancels_a_reserve_not_yet_sent) {
  asio::cancellation_signal signal;
  io_threads runner;
  async_client c(runner.executor(), server().endpoint(), options());
  setup(c, tube());
  std::promise<std::future<job>> started;
  asio::post(runner.io(), [&] {
    // Start and cancel in one go on the io thread: the reserve connection is not up yet.
    started.set_value(
        c.async_reserve(asio::bind_cancellation_slot(signal.slot(), asio::use_future)));
    signal.emit(asio::cancellation_type::terminal);
  });
  auto r = value_of(started.get_future());
  EXPECT_EQ(error_of(std::move(r), 2s), make_error_code(asio::error::operation_aborted));
  std::this_thread::sleep_for(100ms);  // let a reserve connection come up, if one was opened
  EXPECT_EQ(waiting_on(tube()), 0u);
  expect_next_job_is_free(c);
  expect_usable(c);
}

// The server hands a job to the reserve at the very moment it is cancelled: either the reserve
// completes with the job, or it is aborted and the job is free again at once (never held until
// its TTR runs out).
TEST_F(async_cancel, job_handed_over_while_cancelling_is_never_held) {
  io_threads runner;
  async_client c(runner.executor(), server().endpoint(), options());
  setup(c, tube());
  client producer = make_client();
  int got_job = 0;
  int aborted = 0;
  for (int round = 0; round < 20; ++round) {
    SCOPED_TRACE(round);
    asio::cancellation_signal signal;
    auto r = c.async_reserve(asio::bind_cancellation_slot(signal.slot(), asio::use_future));
    ASSERT_TRUE(eventually([&] { return waiting_on(tube()) == 1; }, 3s));
    const job_id id = producer.put("raced", {});  // the server hands it over at once
    asio::post(runner.io(), [&signal] { signal.emit(asio::cancellation_type::terminal); });
    if (r.wait_for(2s) != std::future_status::ready) {
      ADD_FAILURE() << "the cancelled reserve never completed";
      break;
    }
    try {
      const job j = r.get();
      EXPECT_EQ(j.id, id);
      ++got_job;
      value_of(c.async_remove(j.id, asio::use_future));
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), make_error_code(asio::error::operation_aborted));
      ++aborted;
      EXPECT_TRUE(eventually([&] { return state_of(id) == "ready"; }, 1s))
          << "job " << id << " is " << state_of(id) << " after the cancel";
      producer.remove(id);
    }
  }
  std::printf("[ info ] the race went %d times to the reserve, %d times to the cancel\n", got_job,
              aborted);
}

// Cancellation by a coroutine racing the reserve against a timer with `||`.
TEST_F(async_cancel, awaitable_or_with_a_timer) {
  using namespace asio::experimental::awaitable_operators;
  asio::io_context io;
  async_client c(io.get_executor(), server().endpoint(), options());
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await co_connect_to_tube(c, tube());
        asio::steady_timer timer(co_await asio::this_coro::executor);

        // Nothing to reserve: the timer wins, the reserve is cancelled.
        timer.expires_after(200ms);
        stopwatch sw;
        auto first = co_await (c.async_reserve(asio::use_awaitable) ||
                               timer.async_wait(asio::use_awaitable));
        EXPECT_EQ(first.index(), 1u);
        EXPECT_GE(sw.elapsed(), 150ms);
        EXPECT_LT(sw.elapsed(), 1000ms);

        // The job put right after is not held by the cancelled reserve.
        const job_id id = co_await c.async_put("after the race", {}, asio::use_awaitable);
        std::string state;
        for (int i = 0; i < 50; ++i) {
          state = (co_await c.async_stats_job(id, asio::use_awaitable)).state;
          if (state == "ready") break;
          timer.expires_after(20ms);
          co_await timer.async_wait(asio::use_awaitable);
        }
        EXPECT_EQ(state, "ready");

        // A job is there: the reserve wins, the timer is cancelled.
        timer.expires_after(3s);
        sw = stopwatch{};
        auto second = co_await (c.async_reserve(asio::use_awaitable) ||
                                timer.async_wait(asio::use_awaitable));
        EXPECT_LT(sw.elapsed(), 1000ms);
        EXPECT_EQ(second.index(), 0u);
        if (second.index() == 0) {
          const job& j = std::get<0>(second);
          EXPECT_EQ(j.id, id);
          co_await c.async_remove(j.id, asio::use_awaitable);
        }
        const auto stats = co_await c.async_stats_tube(tube(), asio::use_awaitable);
        EXPECT_EQ(stats.current_jobs_ready + stats.current_jobs_reserved, 0u);
        EXPECT_EQ(stats.current_waiting, 0u);
        done = true;
        c.close();
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  io.run_for(10s);
  EXPECT_TRUE(done);
}

// ============================================================================== async_tubes

class async_tubes : public async_fixture {};

// use / watch / ignore are remembered, and sent only when they change something.
TEST_F(async_tubes, use_watch_ignore_are_remembered_and_sent_only_when_needed) {
  io_threads runner;
  async_client c(runner.executor(), server().endpoint(), options());
  value_of(c.async_connect(asio::use_future));
  client b = make_plain_client();
  const auto before = b.stats();
  const tube_name u = unique_tube("u");

  EXPECT_EQ(value_of(c.async_list_tube_used(asio::use_future)), "default");
  value_of(c.async_use(tube(), asio::use_future));
  value_of(c.async_use(tube(), asio::use_future));  // no change
  EXPECT_EQ(value_of(c.async_watch(tube(), asio::use_future)), 2u);
  EXPECT_EQ(value_of(c.async_watch(tube(), asio::use_future)), 2u);  // no change
  EXPECT_EQ(value_of(c.async_watch(u, asio::use_future)), 3u);
  EXPECT_EQ(value_of(c.async_ignore("default", asio::use_future)), 2u);
  EXPECT_EQ(value_of(c.async_ignore("default", asio::use_future)), 2u);  // not watched
  EXPECT_EQ(value_of(c.async_ignore(u, asio::use_future)), 1u);
  // The last watched tube cannot be ignored: the same error as the server's NOT_IGNORED.
  EXPECT_EQ(error_of(c.async_ignore(tube(), asio::use_future)), make_error_code(errc::not_ignored));
  std::error_code blocking_ec;
  b.ignore("default", blocking_ec);  // the blocking client on a fresh connection
  EXPECT_EQ(blocking_ec, make_error_code(errc::not_ignored));

  EXPECT_EQ(value_of(c.async_list_tube_used(asio::use_future)), tube().str());
  EXPECT_EQ(value_of(c.async_list_tubes_watched(asio::use_future)),
            std::vector<std::string>{tube().str()});
  const auto after = b.stats();
  EXPECT_EQ(after.cmd_use - before.cmd_use, 1u) << "use sent more than once";
  EXPECT_EQ(after.cmd_watch - before.cmd_watch, 2u) << "watch sent when nothing changed";
  // ignore default, ignore u; the ignore of an unwatched tube and the refused one need not go
  // out (+1 from the blocking client's own refused ignore).
  EXPECT_EQ(after.cmd_ignore - before.cmd_ignore, 3u);
}

// use changes pipelined between puts (nothing awaited) route each put to the right tube.
TEST_F(async_tubes, use_changes_pipelined_with_puts) {
  io_threads runner;
  async_client c(runner.executor(), server().endpoint(), options());
  value_of(c.async_connect(asio::use_future));
  const tube_name a = unique_tube("a");
  const tube_name b = unique_tube("b");
  std::vector<std::future<void>> uses;
  std::vector<std::future<job_id>> puts;
  std::vector<std::string> expected;
  for (int i = 0; i < 100; ++i) {
    const tube_name& t = (i % 3 == 0) ? a : b;
    uses.push_back(c.async_use(t, asio::use_future));
    puts.push_back(c.async_put("to " + t.str(), {}, asio::use_future));
    expected.push_back(t.str());
  }
  for (auto& f : uses) value_of(std::move(f));
  std::vector<std::future<proto::job_stats>> stats;
  for (auto& f : puts) stats.push_back(c.async_stats_job(value_of(std::move(f)), asio::use_future));
  for (std::size_t i = 0; i < stats.size(); ++i) {
    EXPECT_EQ(value_of(std::move(stats[i])).tube, expected[i]) << "put " << i;
  }
  EXPECT_EQ(value_of(c.async_stats_tube(a, asio::use_future)).current_jobs_ready, 34u);
  EXPECT_EQ(value_of(c.async_stats_tube(b, asio::use_future)).current_jobs_ready, 66u);
}

// Reserve connections watch what the client watches: a waiting reserve gets a job from a watched
// non-default tube and never one from an ignored tube, on a fresh reserve connection as on a
// reused one.
TEST_F(async_tubes, reserve_connections_watch_the_same_tubes) {
  io_threads runner;
  async_client c(runner.executor(), server().endpoint(), options());
  const tube_name w = unique_tube("watched");
  const tube_name i = unique_tube("ignored");
  value_of(c.async_connect(asio::use_future));
  value_of(c.async_watch(w, asio::use_future));
  value_of(c.async_watch(i, asio::use_future));
  value_of(c.async_ignore("default", asio::use_future));
  client p = make_plain_client();

  p.use(i);
  const job_id in_i = p.put("in i", {});
  const job held = value_of(c.async_reserve(asio::use_future), 3s);  // reserve connection 1
  EXPECT_EQ(held.id, in_i);

  EXPECT_EQ(value_of(c.async_ignore(i, asio::use_future)), 1u);
  const job_id ignored_job = p.put("in i, ignored", {});  // older than the next one
  p.use(w);
  const job_id in_w = p.put("in w", {});
  // Connection 1 holds a job: this reserve gets a fresh connection, which must not watch i.
  const job j = value_of(c.async_reserve(asio::use_future), 3s);
  EXPECT_EQ(j.id, in_w) << "got the job of an ignored tube";
  value_of(c.async_remove(j.id, asio::use_future));
  value_of(c.async_remove(held.id, asio::use_future));

  // Both connections idle; the next reserve reuses one: it must not watch i either.
  auto none = value_of(c.async_reserve_with_timeout(1s, asio::use_future), 3s);
  EXPECT_FALSE(none.has_value()) << "got job " << (none ? none->id.value : 0)
                                 << " from an ignored tube";
  if (none) value_of(c.async_remove(none->id, asio::use_future));

  // Watched again: now it comes.
  EXPECT_EQ(value_of(c.async_watch(i, asio::use_future)), 2u);
  const job k = value_of(c.async_reserve(asio::use_future), 3s);
  EXPECT_EQ(k.id, ignored_job);
  value_of(c.async_remove(k.id, asio::use_future));
  EXPECT_EQ(sorted(value_of(c.async_list_tubes_watched(asio::use_future))),
            sorted({w.str(), i.str()}));
}

// A waiting reserve refused for a bad argument (nothing sent) must not leave its reserve
// connection believing it watches the client's tubes when the watch commands never went out.
TEST_F(async_tubes, refused_waiting_reserve_keeps_the_reserve_connection_in_step) {
  io_threads runner;
  async_client c(runner.executor(), server().endpoint(), options());
  setup(c, tube());
  client p = make_client();
  const job_id id = p.put("in the watched tube", {});

  const std::chrono::seconds too_long{std::int64_t{1} << 33};  // does not fit 32 bits
  EXPECT_EQ(error_of(c.async_reserve_with_timeout(too_long, asio::use_future)),
            make_error_code(errc::value_out_of_range));

  auto j = value_of(c.async_reserve_with_timeout(2s, asio::use_future), 4s);
  ASSERT_TRUE(j.has_value()) << "the reserve connection does not watch " << tube()
                             << ": its watch commands were dropped with the refused reserve";
  EXPECT_EQ(j->id, id);
  value_of(c.async_remove(j->id, asio::use_future));
}

}  // namespace
}  // namespace beanpole::testing
