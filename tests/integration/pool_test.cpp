// The pool against three or four real beanstalkd servers on loopback ports: placement, job
// routing, reserving across servers (fairness, never more than asked), commands on every
// server, a server down and back.
#include <gtest/gtest.h>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/io_context.hpp>
#include <atomic>
#include <chrono>
#include <csignal>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "beanpole/client.hpp"
#include "beanpole/pool.hpp"
#include "beanstalkd_server.hpp"
#include "fault_proxy.hpp"
#include "server_test.hpp"

namespace {

using namespace std::chrono_literals;
using beanpole::client;
using beanpole::job_id;
using beanpole::placement_policy;
using beanpole::pool;
using beanpole::pool_job_id;
using beanpole::pool_options;
using beanpole::pool_server;
using beanpole::server_state;
using beanpole::tube_name;
using beanpole::testing::beanstalkd_server;
using beanpole::testing::server_options;

class pool_test : public ::testing::Test {
 protected:
  void start(std::size_t n, bool binlog = false) {
    for (std::size_t i = 0; i < n; ++i) {
      servers_.push_back(std::make_unique<beanstalkd_server>(server_options{}.with_binlog(binlog)));
    }
  }
  std::vector<pool_server> list(std::size_t n = 0) const {
    std::vector<pool_server> out;
    for (std::size_t i = 0; i < (n == 0 ? servers_.size() : n); ++i) {
      out.push_back({servers_[i]->endpoint(), {}, 1});
    }
    return out;
  }
  std::string name(std::size_t i) const { return servers_[i]->endpoint().to_string(); }
  static pool_options options(placement_policy p = placement_policy::round_robin) {
    pool_options o;
    o.placement = p;
    o.client.connect_timeout = 2s;
    o.client.reply_timeout = 5s;
    o.client.reconnect.wait = {50ms, 200ms, 0.0};
    return o;
  }
  client direct(std::size_t i) {
    auto opts = beanpole::testing::server_test::client_options();
    return client(servers_[i]->endpoint(), opts);
  }
  std::uint64_t ready_in(std::size_t i, const tube_name& tube) {
    auto c = direct(i);
    try {
      return c.stats_tube(tube).current_jobs_ready;
    } catch (const beanpole::error&) {
      return 0;  // NOT_FOUND: no such tube there
    }
  }
  std::vector<std::unique_ptr<beanstalkd_server>> servers_;
};

TEST_F(pool_test, round_robin_spreads_puts_evenly_and_ids_name_their_server) {
  start(3);
  pool p(list(), options());
  const tube_name tube("rr");
  std::map<std::string, int> per_server;
  for (int i = 0; i < 300; ++i) {
    const pool_job_id id = p.put(tube, "job " + std::to_string(i));
    ++per_server[id.server];
    pool_job_id back;
    ASSERT_FALSE(pool_job_id::parse(id.to_string(), back));
    EXPECT_EQ(back, id);
  }
  ASSERT_EQ(per_server.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_NEAR(per_server[name(i)], 100, 10) << name(i);  // within 10% of even
    EXPECT_EQ(ready_in(i, tube), static_cast<std::uint64_t>(per_server[name(i)]));
  }
}

TEST_F(pool_test, by_tube_keeps_each_tube_on_one_server_and_a_fourth_server_moves_few) {
  start(4);
  std::map<std::string, std::string> home;  // tube -> server with three servers
  {
    pool p(list(3), options(placement_policy::by_tube));
    for (int t = 0; t < 40; ++t) {
      const tube_name tube("bt-" + std::to_string(t));
      for (int j = 0; j < 5; ++j) {
        const auto id = p.put(tube, "x");
        if (j == 0) home[tube.str()] = id.server;
        EXPECT_EQ(id.server, home[tube.str()]) << "tube " << tube << " split across servers";
      }
    }
  }
  int moved = 0;
  pool p4(list(4), options(placement_policy::by_tube));
  for (const auto& [tube, server] : home) {
    const auto id = p4.put(tube, "y");
    if (id.server != server) {
      ++moved;
      EXPECT_EQ(id.server, name(3)) << "a tube moved between servers that were already there";
    }
  }
  EXPECT_LE(moved, 20);  // at most half of 40 (about a quarter expected)
  EXPECT_GT(moved, 0);
}

TEST_F(pool_test, job_commands_go_to_the_jobs_server) {
  start(3);
  pool p(list(), options());
  const tube_name tube("route");
  p.watch(tube);
  std::vector<pool_job_id> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(p.put(tube, "body" + std::to_string(i)));
  for (const auto& id : ids) {
    auto st = p.stats_job(id);
    EXPECT_EQ(st.id, id.id.value);
    EXPECT_EQ(st.tube, "route");
    auto peeked = p.peek(id);
    ASSERT_TRUE(peeked.has_value());
    EXPECT_EQ(peeked->id, id);
  }
  // Reserve all three (one per server), bury one, release one, delete one.
  std::set<std::string> seen;
  std::vector<beanpole::pool_job> got;
  for (int i = 0; i < 3; ++i) {
    auto j = p.reserve_with_timeout(2s);
    ASSERT_TRUE(j.has_value());
    seen.insert(j->id.server);
    got.push_back(*j);
  }
  EXPECT_EQ(seen.size(), 3u);
  p.touch(got[0].id);
  p.bury(got[0].id, 10);
  p.release(got[1].id, 10, 0s);
  p.remove(got[2].id);
  EXPECT_FALSE(p.peek(got[2].id).has_value());
  EXPECT_EQ(p.stats_job(got[0].id).state, "buried");
  p.kick_job(got[0].id);
  EXPECT_EQ(p.stats_job(got[0].id).state, "ready");
  // An unknown server is refused before anything is sent.
  try {
    p.remove(pool_job_id{"nowhere:1", job_id{1}});
    FAIL() << "no error";
  } catch (const beanpole::error& e) {
    EXPECT_EQ(e.code(), beanpole::errc::invalid_address);
  }
}

TEST_F(pool_test, reserve_is_fair_across_busy_servers) {
  start(3);
  const tube_name tube("fair");
  for (std::size_t i = 0; i < 3; ++i) {
    auto c = direct(i);
    c.use(tube);
    for (int j = 0; j < 60; ++j) c.put("s" + std::to_string(i));
  }
  pool p(list(), options());
  p.watch(tube);
  p.ignore("default");
  std::map<std::string, int> per_server;
  for (int n = 0; n < 90; ++n) {
    auto j = p.reserve_with_timeout(2s);
    ASSERT_TRUE(j.has_value());
    ++per_server[j->id.server];
    p.remove(j->id);
  }
  for (std::size_t i = 0; i < 3; ++i) EXPECT_NEAR(per_server[name(i)], 30, 3) << name(i);
}

TEST_F(pool_test, reserve_finds_a_job_on_any_server_and_never_holds_more_than_asked) {
  start(3);
  const tube_name tube("one");
  pool p(list(), options());
  p.watch(tube);
  p.ignore("default");
  // Empty everywhere: a reserve with a timeout returns empty, on time.
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(p.reserve_with_timeout(1s).has_value());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  // A job put on the last server while the reserve waits elsewhere is found.
  std::thread later([&] {
    std::this_thread::sleep_for(300ms);
    auto c = direct(2);
    c.use(tube);
    c.put("late");
  });
  auto j = p.reserve_with_timeout(10s);
  later.join();
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ(j->body, "late");
  EXPECT_EQ(j->id.server, name(2));
  // One reserve holds one job: the other servers hold none reserved.
  for (std::size_t i = 0; i < 3; ++i) {
    auto c = direct(i);
    c.use(tube);
    c.put("more");
  }
  auto k = p.reserve_with_timeout(2s);
  ASSERT_TRUE(k.has_value());
  std::uint64_t reserved = 0;
  for (std::size_t i = 0; i < 3; ++i) reserved += direct(i).stats().current_jobs_reserved;
  EXPECT_EQ(reserved, 2u);  // `j` and `k`
}

TEST_F(pool_test, a_cancelled_reserve_leaves_no_job_reserved) {
  start(2);
  const tube_name tube("cancel");
  asio::io_context io;
  beanpole::async_pool p(io.get_executor(), list(), options());
  p.async_connect([](std::error_code) {});
  p.async_watch(tube, [](std::error_code) {});
  asio::cancellation_signal cancel;
  std::error_code got;
  bool done = false;
  p.async_reserve(
      asio::bind_cancellation_slot(cancel.slot(), [&](std::error_code ec, beanpole::pool_job) {
        got = ec;
        done = true;
      }));
  io.run_for(500ms);
  cancel.emit(asio::cancellation_type::terminal);
  io.run_for(200ms);
  EXPECT_TRUE(done);
  EXPECT_EQ(got, asio::error::operation_aborted);
  for (std::size_t i = 0; i < 2; ++i) {
    auto c = direct(i);
    c.use(tube);
    c.put("nobody waits");
  }
  io.run_for(1500ms);
  std::uint64_t reserved = 0;
  for (std::size_t i = 0; i < 2; ++i) reserved += direct(i).stats().current_jobs_reserved;
  EXPECT_EQ(reserved, 0u);
  p.close();
  io.run_for(300ms);
}

TEST_F(pool_test, commands_on_every_server) {
  start(3);
  const tube_name tube("every");
  pool p(list(), options());
  for (int i = 0; i < 6; ++i) p.put(tube, "x", {.pri = 5, .delay = 0s, .ttr = 60s});
  // peek-ready finds a job on every server.
  auto peeks = p.peek_state(tube, beanpole::proto::job_state::ready);
  ASSERT_EQ(peeks.size(), 3u);
  for (const auto& r : peeks) {
    EXPECT_FALSE(r.error);
    EXPECT_TRUE(r.value.has_value()) << r.server;
  }
  // Bury everything, then kick: the total is every job.
  p.watch(tube);
  for (int i = 0; i < 6; ++i) {
    auto j = p.reserve_with_timeout(2s);
    ASSERT_TRUE(j.has_value());
    p.bury(j->id, 5);
  }
  std::uint64_t kicked = 0;
  for (const auto& r : p.kick(tube, 100)) kicked += r.value;
  EXPECT_EQ(kicked, 6u);
  // pause-tube reaches every server.
  for (const auto& r : p.pause_tube(tube, 30s)) EXPECT_FALSE(r.error) << r.server;
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(direct(i).stats_tube(tube).pause, 30u);
  // stats-tube sums; list-tubes is the union.
  auto st = p.stats_tube(tube);
  EXPECT_EQ(beanpole::sum_counts(st).current_jobs_ready, 6u);
  {
    auto c = direct(1);
    c.use("only-on-one");
    c.put("z");
  }
  const auto tubes = beanpole::union_of(p.list_tubes());
  EXPECT_EQ(tubes, (std::vector<std::string>{"default", "every", "only-on-one"}));
  EXPECT_EQ(beanpole::sum_counts(p.stats()).current_jobs_ready, 7u);
}

TEST_F(pool_test, a_server_down_is_skipped_reported_and_rejoins) {
  start(3);
  std::vector<beanpole::pool_event> events;
  std::mutex m;
  auto o = options();
  o.on_event = [&](const beanpole::pool_event& e) {
    std::lock_guard lock(m);
    events.push_back(e);
  };
  pool p(list(), o);
  const tube_name tube("down");
  servers_[1]->kill();
  // The pool notices the drop (the client sees the connection close) and skips the server.
  for (int i = 0; i < 50 && p.servers()[1].state == server_state::up; ++i) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_NE(p.servers()[1].state, server_state::up);
  for (int i = 0; i < 20; ++i) EXPECT_NE(p.put(tube, "x").server, name(1));
  auto stats = p.stats();
  EXPECT_FALSE(stats[0].error);
  EXPECT_TRUE(stats[1].error);
  EXPECT_FALSE(stats[2].error);
  EXPECT_EQ(beanpole::sum_counts(stats).current_jobs_ready, 20u);
  servers_[1]->restart();
  for (int i = 0; i < 100 && p.servers()[1].state != server_state::up; ++i) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(p.servers()[1].state, server_state::up);
  std::set<std::string> used;
  for (int i = 0; i < 6; ++i) used.insert(p.put(tube, "y").server);
  EXPECT_EQ(used.size(), 3u);
  std::lock_guard lock(m);
  bool saw_reconnecting = false;
  for (const auto& e : events) {
    if (e.index == 1 && e.state == server_state::reconnecting) saw_reconnecting = true;
  }
  EXPECT_TRUE(saw_reconnecting);
}

TEST_F(pool_test, a_draining_server_takes_no_puts_but_is_still_reserved_from) {
  start(2);
  const tube_name tube("drain");
  pool p(list(), options());
  p.watch(tube);
  {
    auto c = direct(0);  // a job on the server that will drain
    c.use(tube);
    c.put("before");
  }
  servers_[0]->signal(SIGUSR1);  // beanstalkd's drain mode
  std::this_thread::sleep_for(100ms);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(p.put(tube, "x").server, name(1));
  EXPECT_EQ(p.servers()[0].state, server_state::draining);
  std::set<std::string> from;
  for (int i = 0; i < 11; ++i) {
    auto j = p.reserve_with_timeout(2s);
    ASSERT_TRUE(j.has_value());
    from.insert(j->id.server);
    p.remove(j->id);
  }
  EXPECT_EQ(from.size(), 2u);
}

// Puts from several threads into several tubes at once: each job reaches its caller's tube, on a
// pool of one server (puts go straight to the client) and of two (through the placement). The
// pool sends `use` and `put` as one client command, so another thread's `use` cannot come between.
TEST_F(pool_test, puts_from_many_threads_into_many_tubes_each_reach_their_tube) {
  start(2);
  for (const std::size_t servers : {std::size_t{1}, std::size_t{2}}) {
    SCOPED_TRACE(std::to_string(servers) + " server(s)");
    pool p(list(servers), options());
    constexpr int threads = 4;
    constexpr int each = 300;
    const auto tube_of = [servers](int t) {
      return tube_name("mt" + std::to_string(servers) + "-" + std::to_string(t));
    };
    std::vector<std::thread> producers;
    std::atomic<int> failed{0};
    for (int t = 0; t < threads; ++t) {
      producers.emplace_back([&, t] {
        for (int i = 0; i < each; ++i) {
          std::error_code ec;
          p.put(tube_of(t), tube_of(t).str(), {}, ec);
          if (ec) ++failed;
        }
      });
    }
    for (auto& th : producers) th.join();
    EXPECT_EQ(failed.load(), 0);
    for (int t = 0; t < threads; ++t) {
      int seen = 0;
      for (std::size_t i = 0; i < servers; ++i) {
        auto c = direct(i);
        c.use(tube_of(t));
        while (auto j = c.peek_ready()) {
          ASSERT_EQ(j->body, tube_of(t).str()) << "job " << j->id << " in the wrong tube";
          c.remove(j->id);
          ++seen;
        }
      }
      EXPECT_EQ(seen, each) << tube_of(t).str();
    }
  }
}

// A pool of one server takes the short path for puts, zero-second reserves and job commands:
// the same answers as the pool's own path, DRAINING included.
TEST_F(pool_test, a_pool_of_one_server_answers_as_the_pool_does) {
  start(1);
  pool p(list(), options());
  const tube_name tube("one");
  p.watch(tube);
  const auto id = p.put(tube, "a");
  EXPECT_EQ(id.server, name(0));
  EXPECT_EQ(p.stats_job(id).tube, "one");
  auto j = p.reserve_with_timeout(0s);
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ(j->id, id);
  EXPECT_EQ(j->body, "a");
  p.release(j->id, 5, 0s);
  EXPECT_EQ(p.stats_job(id).pri, 5u);
  p.remove(id);
  EXPECT_FALSE(p.reserve_with_timeout(0s).has_value());
  try {
    p.remove(pool_job_id{"nowhere:1", job_id{1}});
    FAIL() << "no error";
  } catch (const beanpole::error& e) {
    EXPECT_EQ(e.code(), beanpole::errc::invalid_address);
  }
  // Drain mode: the first put hears DRAINING, which marks the server draining; the next one is
  // refused without being sent (no server takes puts).
  servers_[0]->signal(SIGUSR1);
  std::this_thread::sleep_for(100ms);
  std::error_code ec;
  const auto refused = p.put(tube, "x", {}, ec);
  EXPECT_EQ(ec, beanpole::errc::draining);
  EXPECT_EQ(refused.server, name(0));
  EXPECT_EQ(p.servers()[0].state, server_state::draining);
  p.put(tube, "y", {}, ec);
  EXPECT_EQ(ec, beanpole::errc::not_connected);
  // The server gone: a zero-second reserve has had its look and finds nothing, without an error.
  servers_[0]->kill();
  for (int i = 0; i < 50 && p.servers()[0].state == server_state::draining; ++i) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_FALSE(p.reserve_with_timeout(0s).has_value());
}

TEST_F(pool_test, a_put_whose_reply_was_lost_is_outcome_unknown_and_never_sent_elsewhere) {
  start(2);
  // Server 0 behind a proxy that cuts the connection once the put has reached the server: the
  // job exists there, but its reply is lost.
  beanpole::testing::fault_proxy proxy(servers_[0]->port());
  std::vector<pool_server> list{{proxy.endpoint(), "proxied", 1}, {servers_[1]->endpoint(), {}, 1}};
  auto o = options(placement_policy::by_tube);
  pool p(list, o);
  // A tube whose home is the proxied server.
  std::string tube_text;
  for (int i = 0; tube_text.empty(); ++i) {
    const std::string t = "lost-" + std::to_string(i);
    if (p.put(t, "probe").server == "proxied") tube_text = t;
  }
  const tube_name tube(tube_text);
  proxy.cut_on("put ");
  std::error_code ec;
  const pool_job_id id = p.put(tube, "maybe", {}, ec);
  EXPECT_EQ(ec, beanpole::errc::outcome_unknown);
  EXPECT_EQ(id.server, "proxied");
  EXPECT_EQ(proxy.cuts(), 1);
  // The job is on server 0 (it arrived before the cut) and nowhere else: not re-sent.
  auto c0 = direct(0);
  EXPECT_EQ(c0.stats_tube(tube).current_jobs_ready, 2u);  // the probe and "maybe"
  EXPECT_EQ(ready_in(1, tube), 0u);
}

}  // namespace
