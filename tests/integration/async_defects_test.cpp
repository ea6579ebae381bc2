// The async client's defects found by a new user (issue 11), each against the real server:
// reserve-with-timeout while every reserve connection is taken, io_context::run() returning
// after close() with queued reserves, waits bounded while reconnecting, an owned put body with a
// deferred token, an over-long Unix socket path, and the cause behind "outcome unknown".
#include <asio/bind_executor.hpp>
#include <asio/experimental/deferred.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/use_future.hpp>
#include <asio/write.hpp>
#include <atomic>
#include <future>
#include <string>
#include <thread>

#include "async_test_support.hpp"
#include "beanpole/async_client.hpp"
#include "server_test.hpp"
#include "test_helpers.hpp"

namespace beanpole::testing {
namespace {

using namespace std::chrono_literals;

class async_defects : public server_test {};

// Issue 11.1: with max_reserve_connections = 1 and the one lane holding a job, a
// reserve_with_timeout(1s) used to stay pending until the job was deleted.
TEST_F(async_defects, reserve_with_timeout_ends_on_time_when_every_lane_holds_a_job) {
  io_threads runner;
  auto o = test_client_options();
  o.max_reserve_connections = 1;
  std::atomic<int> queued{0};
  o.on_event = [&](const client_event& e) {
    if (e.what == client_event::kind::reserve_queued) ++queued;
  };
  async_client c(runner.executor(), server().endpoint(), o);
  connect_to_tube(c, tube());
  value_of(c.async_put("held", {}, asio::use_future));
  const job held = value_of(c.async_reserve(asio::use_future));

  stopwatch sw;
  auto none = value_of(c.async_reserve_with_timeout(1s, asio::use_future), 4s);
  EXPECT_FALSE(none.has_value());
  EXPECT_LT(sw.elapsed(), 2500ms) << "the timeout waited for the held job";
  EXPECT_GE(queued.load(), 1) << "queueing for a reserve connection is not observable";
  value_of(c.async_remove(held.id, asio::use_future));
}

// Issue 11.1, second form: limit 2, two waiting reserves and a reserve_with_timeout(1s).
TEST_F(async_defects, reserve_with_timeout_ends_on_time_behind_waiting_reserves) {
  io_threads runner;
  auto o = test_client_options();
  o.max_reserve_connections = 2;
  async_client c(runner.executor(), server().endpoint(), o);
  connect_to_tube(c, tube());
  auto r1 = c.async_reserve(asio::use_future);
  auto r2 = c.async_reserve(asio::use_future);
  stopwatch sw;
  EXPECT_FALSE(value_of(c.async_reserve_with_timeout(1s, asio::use_future), 4s).has_value());
  EXPECT_LT(sw.elapsed(), 2500ms);
  c.close();
  EXPECT_EQ(error_of(std::move(r1)), asio::error::operation_aborted);
  EXPECT_EQ(error_of(std::move(r2)), asio::error::operation_aborted);
}

// Issue 11.2: limit 2, four async_reserve, close(): run() must return (no fresh connections
// opened for the queued reserves), and every handler hears operation_aborted.
TEST_F(async_defects, run_returns_after_close_with_queued_reserves) {
  asio::io_context io;
  auto o = test_client_options();
  o.max_reserve_connections = 2;
  async_client c(io.get_executor(), server().endpoint(), o);
  std::atomic<int> aborted{0};
  c.async_connect([&](std::error_code ec) {
    ASSERT_FALSE(ec);
    for (int i = 0; i < 4; ++i) {
      c.async_reserve([&](std::error_code rec, const job&) {
        if (rec == asio::error::operation_aborted) ++aborted;
      });
    }
    c.async_stats_tube(tube_name("default"), [&](std::error_code, const proto::tube_stats&) {
      // Both lanes are waiting on the server by now (the stats went after them on another
      // connection); close everything.
      asio::post(io, [&] { c.close(); });
    });
  });
  std::thread runner([&] { io.run(); });
  const bool returned = eventually([&] { return io.stopped(); }, 5s);
  if (!returned) io.stop();
  runner.join();
  EXPECT_TRUE(returned) << "io_context::run() kept going after close()";
  EXPECT_EQ(aborted.load(), 4);
}

// Issue 11.3: with reconnect enabled and the server gone, a put waits at most reply_timeout
// for a connection, then fails with not_connected (nothing was sent).
TEST_F(async_defects, put_during_an_outage_fails_within_the_reply_timeout) {
  beanstalkd_server own;
  io_threads runner;
  auto o = test_client_options(1s);
  o.reconnect.enabled = true;
  o.reconnect.wait = backoff{std::chrono::milliseconds{50}, std::chrono::milliseconds{200}, 0.0};
  std::atomic<bool> dropped{false};
  o.on_event = [&](const client_event& e) {
    if (e.what == client_event::kind::disconnected) dropped = true;
  };
  async_client c(runner.executor(), own.endpoint(), o);
  value_of(c.async_connect(asio::use_future));
  own.stop();
  // Once the client knows the connection is gone (a put written into the dying connection
  // would rightly be "outcome unknown" instead).
  ASSERT_TRUE(eventually([&] { return dropped.load(); }, 3s));
  stopwatch sw;
  EXPECT_EQ(error_of(c.async_put("during the outage", {}, asio::use_future), 5s),
            errc::not_connected);
  EXPECT_LT(sw.elapsed(), 2500ms);
  EXPECT_TRUE(c.last_failure().cause) << "the cause of the outage is not kept";
}

// Issue 11.3: a refused first connect with reconnect enabled, and a give-up bound.
TEST_F(async_defects, reconnect_gives_up_after_max_attempts) {
  std::uint16_t port = 0;
  {
    beanstalkd_server gone;  // a loopback port that nothing listens on any more
    port = gone.port();
  }
  io_threads runner;
  auto o = test_client_options(1s);
  o.reconnect.enabled = true;
  o.reconnect.wait = backoff{std::chrono::milliseconds{20}, std::chrono::milliseconds{50}, 0.0};
  o.reconnect.max_attempts = 3;
  std::promise<void> gave_up;
  std::atomic<bool> once{false};
  o.on_event = [&](const client_event& e) {
    if (e.what == client_event::kind::gave_up && !once.exchange(true)) gave_up.set_value();
  };
  async_client c(runner.executor(), endpoint::tcp("127.0.0.1", port), o);
  EXPECT_TRUE(error_of(c.async_connect(asio::use_future)));
  auto put = c.async_put("waits, then fails", {}, asio::use_future);
  EXPECT_EQ(gave_up.get_future().wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(error_of(std::move(put), 3s));
  EXPECT_EQ(error_of(c.async_put("after giving up", {}, asio::use_future), 2s),
            errc::not_connected);
}

// Issue 11.4: a deferred put used to keep a string_view of the caller's body (use-after-free
// under ASan). The operation owns its body now.
TEST_F(async_defects, deferred_put_owns_its_body) {
  io_threads runner;
  async_client c(runner.executor(), server().endpoint(), test_client_options());
  connect_to_tube(c, tube());
  auto op = [&] {
    std::string body(4096, 'x');
    body += " deferred";
    return c.async_put(body, {}, asio::experimental::deferred);
  }();                                  // the caller's string is gone before the operation starts
  std::string scribble(4096 + 9, 'y');  // reuse the freed memory
  std::promise<job_id> done;
  std::move(op)([&](std::error_code ec, job_id id) {
    EXPECT_FALSE(ec) << ec.message();
    done.set_value(id);
  });
  const job_id id = value_of(done.get_future());
  auto peeked = value_of(c.async_peek(id, asio::use_future));
  ASSERT_TRUE(peeked);
  EXPECT_EQ(peeked->body, std::string(4096, 'x') + " deferred");
}

// Issue 11.5: an over-long Unix socket path used to throw out of io_context::run().
TEST_F(async_defects, overlong_unix_path_is_an_invalid_address) {
  asio::io_context io;
  async_client c(io.get_executor(), endpoint::unix_socket("/tmp/" + std::string(200, 'p')));
  std::error_code got;
  bool called = false;
  c.async_connect([&](std::error_code ec) {
    called = true;
    got = ec;
  });
  EXPECT_NO_THROW(io.run_for(2s));
  EXPECT_TRUE(called);
  EXPECT_EQ(got, errc::invalid_address);
}

/// A listener that answers anything with an HTTP error page, as a web server on the wrong port
/// would.
class http_listener {
 public:
  http_listener()
      : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}),
        port_(acceptor_.local_endpoint().port()) {
    thread_ = std::thread([this] {
      for (;;) {
        asio::ip::tcp::socket s(io_);
        std::error_code ec;
        acceptor_.accept(s, ec);
        if (ec || stopping_) break;
        char buf[512];
        std::error_code rec;
        (void)s.read_some(asio::buffer(buf), rec);
        const std::string page =
            "HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\n\r\n<html>no</html>";
        asio::write(s, asio::buffer(page), rec);
        std::this_thread::sleep_for(200ms);
      }
    });
  }
  ~http_listener() {
    // The acceptor belongs to the listening thread: wake it with one last connection rather
    // than closing the acceptor under it.
    stopping_ = true;
    asio::io_context io;
    asio::ip::tcp::socket wake(io);
    std::error_code ec;
    wake.connect({asio::ip::make_address("127.0.0.1"), port_}, ec);
    thread_.join();
  }
  endpoint ep() const { return endpoint::tcp("127.0.0.1", port_); }

 private:
  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  const std::uint16_t port_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

// Issue 11.8: a put answered by an HTTP server is "outcome unknown", and the cause (a protocol
// violation, with the first bytes received) is kept, the same in both clients.
TEST_F(async_defects, the_cause_of_an_unknown_outcome_is_kept_by_both_clients) {
  http_listener http;
  {
    io_threads runner;
    async_client c(runner.executor(), http.ep(), test_client_options(2s));
    value_of(c.async_connect(asio::use_future));
    EXPECT_EQ(error_of(c.async_put("x", {}, asio::use_future)), errc::outcome_unknown);
    const failure_info f = c.last_failure();
    EXPECT_EQ(f.cause, condition::protocol_violation) << f.message();
    EXPECT_NE(f.received.find("HTTP/1.1 400 Bad Request\\r\\n"), std::string::npos) << f.received;
    const failure_info async_failure = f;
    client b(http.ep(), client_options());
    std::error_code ec;
    b.put("x", {}, ec);
    EXPECT_EQ(ec, errc::outcome_unknown);
    EXPECT_EQ(b.last_failure().cause, async_failure.cause) << "the clients classify it differently";
    EXPECT_EQ(b.last_failure().received.substr(0, 20), async_failure.received.substr(0, 20));
    try {
      client t(http.ep(), client_options());
      t.put("y");
      ADD_FAILURE() << "no exception";
    } catch (const error& e) {
      EXPECT_EQ(e.code(), errc::outcome_unknown);
      EXPECT_NE(std::string(e.what()).find("HTTP/1.1 400"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace beanpole::testing
