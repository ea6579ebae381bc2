// The async client's timeouts: reply timeouts against a frozen server (SIGSTOP), connect
// failures (refused, timed out) that come promptly, and reserve waits that a reply timeout
// does not cut short.
#include <sys/socket.h>

#include <asio/connect.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/use_future.hpp>
#include <atomic>
#include <csignal>
#include <future>
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

class async_timeouts : public server_test {
 protected:
  static async_client_options options() {
    async_client_options o;
    o.connect_timeout = 2s;
    o.reply_timeout = 300ms;
    return o;
  }
};

// A frozen server accepts connections (the kernel does) but never answers: a stats fails with
// reply_timeout after about the reply timeout, and a put caught in flight is "outcome unknown".
TEST_F(async_timeouts, reply_timeout_against_a_frozen_server) {
  io_threads runner;
  async_client c(runner.executor(), server().endpoint(), options());
  value_of(c.async_connect(asio::use_future));
  value_of(c.async_use(tube(), asio::use_future));
  {
    frozen_server frozen(server());
    stopwatch sw;
    auto stats = c.async_stats(asio::use_future);
    auto put = c.async_put("in flight", {}, asio::use_future);
    EXPECT_EQ(error_of(std::move(stats), 3s), make_error_code(errc::reply_timeout));
    EXPECT_GE(sw.elapsed(), 250ms);
    EXPECT_LT(sw.elapsed(), 1500ms);
    EXPECT_EQ(error_of(std::move(put), 1s), make_error_code(errc::outcome_unknown));

    // Without reconnect the client is now disconnected: commands fail at once. (A command
    // issued a moment after the failure may still be failed with the connection, as
    // connection_lost: see async_errors.command_from_a_failure_handler_fails_with_not_connected.)
    sw = stopwatch{};
    const auto after_ec = error_of(c.async_stats(asio::use_future), 1s);
    EXPECT_TRUE(after_ec == errc::not_connected || after_ec == errc::connection_lost)
        << after_ec.message();
    EXPECT_LT(sw.elapsed(), 200ms);

    // Connect again (the kernel accepts for the frozen server): a put alone is outcome unknown.
    EXPECT_FALSE(error_of(c.async_connect(asio::use_future), 3s));
    sw = stopwatch{};
    EXPECT_EQ(error_of(c.async_put("alone", {}, asio::use_future), 3s),
              make_error_code(errc::outcome_unknown));
    EXPECT_LT(sw.elapsed(), 1500ms);
    frozen.thaw();
  }
  // Thawed: a new connection works, and comes back with the used tube.
  EXPECT_FALSE(error_of(c.async_connect(asio::use_future), 3s));
  EXPECT_EQ(value_of(c.async_list_tube_used(asio::use_future)), tube().str());
  EXPECT_FALSE(error_of(c.async_stats(asio::use_future)));
}

// The reply timeout bounds each reply, not the whole pipeline: many commands answered quickly
// in a row never trip it, and a reserve's own wait is added to it.
TEST_F(async_timeouts, reserve_waits_are_not_cut_short_by_the_reply_timeout) {
  io_threads runner;
  async_client c(runner.executor(), server().endpoint(), options());
  value_of(c.async_connect(asio::use_future));
  value_of(c.async_use(tube(), asio::use_future));
  value_of(c.async_watch(tube(), asio::use_future));
  value_of(c.async_ignore("default", asio::use_future));

  // reserve-with-timeout 1 on an empty tube: TIMED_OUT after ~1 s, not a reply timeout.
  stopwatch sw;
  auto none = c.async_reserve_with_timeout(1s, asio::use_future);
  EXPECT_FALSE(value_of(std::move(none), 3s).has_value());
  EXPECT_GE(sw.elapsed(), 900ms);

  // A plain reserve has no reply timeout at all.
  auto r = c.async_reserve(asio::use_future);
  EXPECT_EQ(r.wait_for(800ms), std::future_status::timeout);
  const job_id id = value_of(c.async_put("late", {}, asio::use_future));
  EXPECT_EQ(value_of(std::move(r), 2s).id, id);
  value_of(c.async_remove(id, asio::use_future));

  // Commands spread over more than one reply timeout, each answered in time.
  for (int i = 0; i < 8; ++i) {
    EXPECT_FALSE(error_of(c.async_stats(asio::use_future), 2s));
    std::this_thread::sleep_for(100ms);
  }
}

// Nothing listens on the port: the connect fails at once (refused), it does not hang.
TEST_F(async_timeouts, connect_refused_fails_promptly) {
  io_threads runner;
  auto o = options();
  o.connect_timeout = 5s;  // so that a prompt failure is not the timeout
  const auto port = find_free_loopback_port();
  async_client c(runner.executor(), endpoint::tcp("127.0.0.1", port), o);
  stopwatch sw;
  const auto ec = error_of(c.async_connect(asio::use_future), 3s);
  EXPECT_EQ(ec, make_error_code(asio::error::connection_refused)) << ec.message();
  EXPECT_LT(sw.elapsed(), 1000ms);
  // (see the note in reply_timeout_against_a_frozen_server)
  const auto put_ec = error_of(c.async_put("x", {}, asio::use_future), 1s);
  EXPECT_TRUE(put_ec == errc::not_connected || put_ec == asio::error::connection_refused)
      << put_ec.message();
  // And again: still prompt.
  sw = stopwatch{};
  EXPECT_EQ(error_of(c.async_connect(asio::use_future), 3s),
            make_error_code(asio::error::connection_refused));
  EXPECT_LT(sw.elapsed(), 1000ms);
}

// A listener whose accept queue is full drops connection attempts (the SYN goes unanswered):
// the connect timeout ends the attempt.
TEST_F(async_timeouts, connect_timeout_when_nobody_accepts) {
  asio::io_context local;
  asio::ip::tcp::acceptor acceptor(local);
  const asio::ip::tcp::endpoint any(asio::ip::make_address("127.0.0.1"), 0);
  acceptor.open(any.protocol());
  acceptor.bind(any);
  acceptor.listen(0);  // room for one unaccepted connection
  const auto port = acceptor.local_endpoint().port();
  asio::ip::tcp::socket filler(local);
  filler.connect(acceptor.local_endpoint());  // fills the accept queue; never accepted

  io_threads runner;
  auto o = options();
  o.connect_timeout = 300ms;
  async_client c(runner.executor(), endpoint::tcp("127.0.0.1", port), o);
  stopwatch sw;
  const auto ec = error_of(c.async_connect(asio::use_future), 5s);
  EXPECT_EQ(ec, make_error_code(errc::connect_timeout)) << ec.message();
  EXPECT_GE(sw.elapsed(), 250ms);
  EXPECT_LT(sw.elapsed(), 1500ms);
  // Then commands fail at once (see the note in reply_timeout_against_a_frozen_server).
  const auto after_ec = error_of(c.async_stats(asio::use_future), 1s);
  EXPECT_TRUE(after_ec == errc::not_connected || after_ec == errc::connect_timeout)
      << after_ec.message();
}

}  // namespace
}  // namespace beanpole::testing
