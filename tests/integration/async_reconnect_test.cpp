// The async client's automatic reconnect: the server (with a binlog) is killed mid-stream and
// restarted on the same port. Events are reported; the used tube and the watch list come back
// before anything else is sent; nothing acknowledged is lost; puts caught in flight are
// "outcome unknown", never plain failures; jobs held on the lost connections are reported.
#include <algorithm>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/use_future.hpp>
#include <atomic>
#include <future>
#include <map>
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

/// Collects the client's events (they arrive on the client's strand).
class event_log {
 public:
  void add(const client_event& e) {
    std::lock_guard lock(mu_);
    events_.push_back(e);
  }
  std::size_t count(client_event::kind k) const {
    std::lock_guard lock(mu_);
    return static_cast<std::size_t>(std::count_if(
        events_.begin(), events_.end(), [k](const client_event& e) { return e.what == k; }));
  }
  std::vector<client_event> all() const {
    std::lock_guard lock(mu_);
    return events_;
  }
  std::set<job_id> lost() const {
    std::set<job_id> out;
    for (const auto& e : all()) {
      if (e.what == client_event::kind::lost_reservation) out.insert(e.job);
    }
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::vector<client_event> events_;
};

std::string describe(const std::vector<client_event>& events) {
  std::string out;
  for (const auto& e : events) {
    out += to_string(e.what);
    if (e.error) out += "(" + e.error.message() + ")";
    if (e.what == client_event::kind::reconnecting) {
      out += "#" + std::to_string(e.attempt) + "/" + std::to_string(e.backoff.count()) + "ms";
    }
    if (e.what == client_event::kind::lost_reservation) {
      out += "#" + std::to_string(e.job.value);
    }
    out += ' ';
  }
  return out;
}

class async_reconnect : public server_test {
 public:
  static void SetUpTestSuite() { start_suite_server(server_options{}.with_binlog()); }

 protected:
  async_client_options options(const std::shared_ptr<event_log>& log) const {
    async_client_options o;
    o.connect_timeout = 1s;
    o.reply_timeout = 5s;
    o.max_in_flight = 256;
    o.reconnect.enabled = true;
    o.reconnect.wait = beanpole::backoff{20ms, 200ms, 0.5};
    o.on_event = [log](const client_event& e) { log->add(e); };
    return o;
  }
};

// Puts into two tubes queued while the server is down: a put into the used tube (no `use`
// needed) queued before a put into another tube (whose `use` moves the client's record). The new
// connection must start in the tube the first was queued in, not in the record's latest tube,
// or the first job lands in the second tube.
TEST_F(async_reconnect, puts_queued_while_down_reach_their_own_tubes) {
  const tube_name a = unique_tube("qa");
  const tube_name b = unique_tube("qb");
  auto log = std::make_shared<event_log>();
  io_threads runner;
  async_client c(runner.executor(), server().endpoint(), options(log));
  value_of(c.async_connect(asio::use_future));
  value_of(c.async_put(a, "first", {}, asio::use_future));  // the used tube is now `a`
  server().kill();
  ASSERT_TRUE(eventually([&] { return log->count(client_event::kind::disconnected) >= 1; }, 3s));
  auto in_a = c.async_put(a, "a", {}, asio::use_future);
  auto in_b = c.async_put(b, "b", {}, asio::use_future);
  server().restart();
  const job_id id_a = value_of(std::move(in_a), 10s);
  const job_id id_b = value_of(std::move(in_b), 10s);
  EXPECT_EQ(value_of(c.async_stats_job(id_a, asio::use_future)).tube, a.str());
  EXPECT_EQ(value_of(c.async_stats_job(id_b, asio::use_future)).tube, b.str());
}

TEST_F(async_reconnect, kill_and_restart_mid_stream) {
  constexpr std::size_t n = 3'000;
  const tube_name u = unique_tube("u");
  auto log = std::make_shared<event_log>();

  // Shared with handlers: declared before the io thread and the client.
  std::mutex mu;
  std::vector<std::error_code> put_errors(n);
  std::vector<job_id> put_ids(n);
  std::atomic<std::size_t> puts_done{0};
  std::atomic<bool> producer_finished{false};
  std::thread producer;
  io_threads runner;
  async_client c(runner.executor(), server().endpoint(), options(log));
  struct joiner {  // wakes (close) and joins the producer on every way out
    std::thread& t;
    async_client& client;
    std::atomic<bool>& finished;
    ~joiner() {
      if (!t.joinable()) return;
      if (!eventually([&] { return finished.load(); }, 10s)) {
        ADD_FAILURE() << "the producer is still blocked";
        client.close();
      }
      t.join();
    }
  } join_producer{producer, c, producer_finished};

  value_of(c.async_connect(asio::use_future));
  value_of(c.async_use(tube(), asio::use_future));
  value_of(c.async_watch(tube(), asio::use_future));
  value_of(c.async_watch(u, asio::use_future));
  value_of(c.async_ignore("default", asio::use_future));
  EXPECT_EQ(log->count(client_event::kind::connected), 1u);

  // Acknowledged before the stream starts.
  std::vector<job_id> acknowledged;
  for (int i = 0; i < 100; ++i) {
    acknowledged.push_back(
        value_of(c.async_put("early " + std::to_string(i), {}, asio::use_future)));
  }
  // Two jobs held when the server dies: one on the main connection, one on a reserve connection.
  const auto held_main = value_of(c.async_reserve_with_timeout(0s, asio::use_future));
  ASSERT_TRUE(held_main.has_value());
  const job held_lane = value_of(c.async_reserve(asio::use_future));

  // The stream: puts fired without awaiting, from a producer thread.
  producer = std::thread([&] {
    for (std::size_t i = 0; i < n; ++i) {
      c.async_put("stream " + std::to_string(i), {}, [&, i](std::error_code e, job_id id) {
        {
          std::lock_guard lock(mu);
          put_errors[i] = e;
          put_ids[i] = id;
        }
        ++puts_done;
      });
    }
    producer_finished = true;
  });
  ASSERT_TRUE(eventually([&] { return puts_done.load() >= 300; }, 5s));
  server().kill();
  const std::size_t done_at_kill = puts_done.load();

  ASSERT_TRUE(eventually([&] { return log->count(client_event::kind::disconnected) >= 1; }, 3s))
      << describe(log->all());
  // Attempts fail while the server is down (20 ms, 40 ms, ... capped at 200 ms).
  EXPECT_TRUE(eventually([&] { return log->count(client_event::kind::reconnecting) >= 3; }, 3s))
      << describe(log->all());
  // Issued while disconnected: not written anywhere, so it waits for the new connection.
  // (Issued on the io thread: the producer has filled max_in_flight, and this thread would
  // block until the reconnect it is about to cause.)
  std::promise<std::future<job_id>> issued;
  asio::post(runner.io(),
             [&] { issued.set_value(c.async_put("while down", {}, asio::use_future)); });
  auto while_down = value_of(issued.get_future());

  server().restart();
  ASSERT_TRUE(eventually([&] { return log->count(client_event::kind::reconnected) >= 1; }, 5s))
      << describe(log->all());
  ASSERT_TRUE(eventually([&] { return puts_done.load() == n; }, 15s))
      << puts_done.load() << " of " << n << " puts completed";

  // Every put either succeeded or is "outcome unknown"; nothing else.
  std::size_t succeeded = 0;
  std::size_t unknown = 0;
  std::set<job_id> success_ids;
  {
    std::lock_guard lock(mu);
    for (std::size_t i = 0; i < n; ++i) {
      if (!put_errors[i]) {
        ++succeeded;
        EXPECT_TRUE(success_ids.insert(put_ids[i]).second) << "id " << put_ids[i] << " twice";
      } else if (put_errors[i] == make_error_code(errc::outcome_unknown)) {
        ++unknown;
      } else {
        ADD_FAILURE() << "put " << i << " failed: " << put_errors[i].message();
      }
    }
  }
  std::printf("[ info ] %zu puts done at the kill; %zu succeeded, %zu outcome unknown\n",
              done_at_kill, succeeded, unknown);
  EXPECT_GE(succeeded, done_at_kill > 0 ? 1u : 0u);

  // The put issued while disconnected went out after the state was restored: it succeeded
  // and landed in the used tube.
  const job_id down_id = value_of(std::move(while_down), 5s);
  EXPECT_EQ(value_of(c.async_stats_job(down_id, asio::use_future)).tube, tube().str());

  // The state is restored.
  EXPECT_EQ(value_of(c.async_list_tube_used(asio::use_future)), tube().str());
  EXPECT_EQ(sorted(value_of(c.async_list_tubes_watched(asio::use_future))),
            sorted({tube().str(), u.str()}));
  const job_id after = value_of(c.async_put("after", {}, asio::use_future));
  EXPECT_EQ(value_of(c.async_stats_job(after, asio::use_future)).tube, tube().str());

  // Nothing acknowledged is lost (the server ran with a binlog).
  std::vector<job_id> must_exist = acknowledged;
  must_exist.insert(must_exist.end(), success_ids.begin(), success_ids.end());
  std::vector<std::future<std::optional<job>>> peeks;
  for (const job_id id : must_exist) peeks.push_back(c.async_peek(id, asio::use_future));
  std::size_t missing = 0;
  for (std::size_t k = 0; k < peeks.size(); ++k) {
    if (!value_of(std::move(peeks[k]), 10s)) {
      if (missing++ < 5) ADD_FAILURE() << "acknowledged job " << must_exist[k] << " is gone";
    }
  }
  EXPECT_EQ(missing, 0u);
  // And nothing was retried behind our back: no more jobs than puts that may have happened.
  const auto stats = value_of(c.async_stats_tube(tube(), asio::use_future));
  const auto jobs = stats.current_jobs_ready + stats.current_jobs_reserved;
  EXPECT_GE(jobs, acknowledged.size() + succeeded + 2);
  EXPECT_LE(jobs, acknowledged.size() + succeeded + unknown + 2);

  // The two held jobs were reported as lost reservations (the server released them).
  const auto lost = log->lost();
  EXPECT_TRUE(lost.count(held_main->id)) << describe(log->all());
  EXPECT_TRUE(lost.count(held_lane.id)) << describe(log->all());

  // The order of events: connected, ..., disconnected, reconnecting (attempts counted from 1,
  // backoffs within the cap), reconnected.
  const auto events = log->all();
  std::vector<client_event::kind> kinds;
  for (const auto& e : events) {
    if (e.what != client_event::kind::lost_reservation) kinds.push_back(e.what);
  }
  ASSERT_GE(kinds.size(), 4u) << describe(events);
  EXPECT_EQ(kinds.front(), client_event::kind::connected);
  EXPECT_EQ(kinds[1], client_event::kind::disconnected) << describe(events);
  EXPECT_EQ(kinds.back(), client_event::kind::reconnected) << describe(events);
  unsigned expected_attempt = 1;
  for (const auto& e : events) {
    if (e.what != client_event::kind::reconnecting) continue;
    EXPECT_EQ(e.attempt, expected_attempt++) << describe(events);
    EXPECT_LE(e.backoff, 200ms);
  }

  // A waiting reserve after the reconnect watches the restored list: it takes a job from u.
  client p = make_plain_client();
  p.use(u);
  put_options urgent;
  urgent.pri = 0;
  const job_id in_u = p.put("in u", urgent);
  const job j = value_of(c.async_reserve(asio::use_future), 3s);
  EXPECT_EQ(j.id, in_u);
  value_of(c.async_remove(j.id, asio::use_future));
}

// A waiting reserve whose connection dies fails (it was written: the server may have handed a
// job over) instead of hanging; after the restart a new reserve works.
TEST_F(async_reconnect, waiting_reserve_when_the_server_dies) {
  auto log = std::make_shared<event_log>();
  io_threads runner;
  async_client c(runner.executor(), server().endpoint(), options(log));
  value_of(c.async_connect(asio::use_future));
  value_of(c.async_use(tube(), asio::use_future));
  value_of(c.async_watch(tube(), asio::use_future));
  value_of(c.async_ignore("default", asio::use_future));
  auto r = c.async_reserve(asio::use_future);
  ASSERT_TRUE(eventually(
      [&] {
        client b = make_plain_client();
        return b.stats_tube(tube()).current_waiting == 1;
      },
      3s));
  server().kill();
  const auto ec = error_of(std::move(r), 3s);
  EXPECT_EQ(ec, make_error_code(errc::connection_lost)) << ec.message();
  server().restart();
  ASSERT_TRUE(eventually([&] { return log->count(client_event::kind::reconnected) >= 1; }, 5s))
      << describe(log->all());
  auto again = c.async_reserve(asio::use_future);
  const job_id id = value_of(c.async_put("after the restart", {}, asio::use_future));
  EXPECT_EQ(value_of(std::move(again), 3s).id, id);
  value_of(c.async_remove(id, asio::use_future));
}

}  // namespace
}  // namespace beanpole::testing
