// A job that beanstalkd 1.12 replays torn from its binlog after a SIGKILL (its body zeros, no
// closing CRLF): every client reports it as `errc::corrupt_job` with its id, keeps the connection
// and holds the job like any reserved one; the worker buries it and goes on with other jobs.
// The torn job is made for real (tests/support/torn_job.hpp): the server is killed, the job torn
// in its binlog, and the server restarted on it.
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "async_test_support.hpp"
#include "beanpole/pool.hpp"
#include "beanpole/worker.hpp"
#include "server_test.hpp"
#include "test_helpers.hpp"
#include "torn_job.hpp"
#include "worker_test_support.hpp"

namespace beanpole::testing {
namespace {

using namespace std::chrono_literals;

constexpr priority torn_priority = 5;
constexpr priority good_priority = 100;  // after the torn job: it is reserved first

class torn_job : public server_test {
 public:
  static void SetUpTestSuite() { start_suite_server(server_options{}.with_binlog()); }

 protected:
  /// Puts a job to be torn, then a good one ("good"), in tube(); tears the first.
  void SetUp() override {
    server_test::SetUp();
    auto producer = make_client();
    put_options torn_opts;
    torn_opts.pri = torn_priority;
    torn_ = producer.put("to be torn by the crash", torn_opts);
    put_options good_opts;
    good_opts.pri = good_priority;
    good_ = producer.put("good", good_opts);
    tear_job_body(server(), "to be torn by the crash");
  }

  /// The server's view of a job.
  proto::job_stats stats(job_id id) { return make_client().stats_job(id); }

  /// Runs `w` on tube() until it has deleted a job (the good one, once the torn job is out of the
  /// way), then stops it. Returns the bodies its handler saw; fails the test if none was deleted.
  std::vector<std::string> run_until_a_job_is_deleted(worker& w) {
    std::mutex mu;
    std::vector<std::string> bodies;
    w.handle(tube(), [&](job_context& ctx) {
      std::lock_guard lock(mu);
      bodies.emplace_back(ctx.body());
    });
    auto run = start_run(w);
    const bool ran = eventually([&] { return w.metrics().total().deleted == 1; }, 10s);
    w.stop();
    EXPECT_TRUE(run_ends(run, 5s));
    EXPECT_TRUE(ran) << "the good job never ran";
    std::lock_guard lock(mu);
    return bodies;
  }

  job_id torn_{};
  job_id good_{};
};

/// A completion handler that fulfils a promise with both the error and the value.
template <class T>
struct both {
  std::shared_ptr<std::promise<std::pair<std::error_code, T>>> p =
      std::make_shared<std::promise<std::pair<std::error_code, T>>>();
  std::future<std::pair<std::error_code, T>> future() { return p->get_future(); }
  auto handler() {
    return [p = p](std::error_code ec, T value) { p->set_value({ec, std::move(value)}); };
  }
};

template <class T>
std::pair<std::error_code, T> wait(std::future<std::pair<std::error_code, T>> f) {
  if (f.wait_for(5s) != std::future_status::ready) {
    throw std::runtime_error("an async operation did not complete in time");
  }
  return f.get();
}

std::error_code wait_ec(std::future<std::error_code> f) {
  if (f.wait_for(5s) != std::future_status::ready) {
    throw std::runtime_error("an async operation did not complete in time");
  }
  return f.get();
}

TEST_F(torn_job, blocking_client_reports_it_with_its_id_and_stays_usable) {
  auto c = make_client();
  try {
    (void)c.reserve_with_timeout(2s);
    FAIL() << "reserve did not throw";
  } catch (const error& e) {
    EXPECT_EQ(e.code(), errc::corrupt_job) << e.what();
    ASSERT_TRUE(e.job().has_value());
    EXPECT_EQ(*e.job(), torn_.value);
    EXPECT_NE(std::string(e.what()).find("job " + std::to_string(torn_.value)), std::string::npos)
        << e.what();
  }
  EXPECT_TRUE(still_usable(c));
  EXPECT_EQ(stats(torn_).state, "reserved");
  c.bury(torn_, torn_priority);  // this connection holds it
  EXPECT_EQ(stats(torn_).state, "buried");

  std::error_code ec;
  const auto peeked = c.peek(torn_, ec);
  EXPECT_EQ(ec, errc::corrupt_job);
  ASSERT_TRUE(peeked.has_value());
  EXPECT_EQ(peeked->id, torn_);
  EXPECT_TRUE(peeked->body.empty());
  try {
    (void)c.peek_buried();
    FAIL() << "peek-buried did not throw";
  } catch (const error& e) {
    EXPECT_EQ(e.code(), errc::corrupt_job);
    EXPECT_EQ(e.job(), torn_.value);
  }

  // The error_code overload returns the job, and its handle acts on it.
  c.kick_job(torn_);
  job_handle h = c.reserve(ec);
  EXPECT_EQ(ec, errc::corrupt_job);
  EXPECT_EQ(h.id(), torn_);
  EXPECT_TRUE(h.body().empty());
  h.remove();
  EXPECT_EQ(make_client().stats_job(torn_, ec).state, "");
  EXPECT_EQ(ec, errc::not_found);

  auto good = c.reserve_with_timeout(0s);
  ASSERT_TRUE(good.has_value());
  EXPECT_EQ(good->body(), "good");
}

TEST_F(torn_job, async_client_completes_with_the_error_and_the_job) {
  io_threads runner;
  async_client c(runner.executor(), server().endpoint(), test_client_options());
  connect_to_tube(c, tube());

  // A waiting reserve, on a reserve connection: the job stays with that connection, so the
  // bury must go there (the main connection would get NOT_FOUND).
  both<job> reserved;
  c.async_reserve(reserved.handler());
  auto [ec, j] = wait(reserved.future());
  EXPECT_EQ(ec, errc::corrupt_job);
  EXPECT_EQ(j.id, torn_);
  EXPECT_TRUE(j.body.empty());
  std::promise<std::error_code> buried;
  c.async_bury(torn_, torn_priority, [&](std::error_code e) { buried.set_value(e); });
  EXPECT_EQ(wait_ec(buried.get_future()), std::error_code{});
  EXPECT_EQ(stats(torn_).state, "buried");

  both<std::optional<job>> peeked;
  c.async_peek(torn_, peeked.handler());
  auto [peek_ec, peek_job] = wait(peeked.future());
  EXPECT_EQ(peek_ec, errc::corrupt_job);
  ASSERT_TRUE(peek_job.has_value());
  EXPECT_EQ(peek_job->id, torn_);

  // A reserve that does not wait, on the main connection: the same, and the main connection
  // holds the job.
  std::promise<std::error_code> kicked;
  c.async_kick_job(torn_, [&](std::error_code e) { kicked.set_value(e); });
  EXPECT_EQ(wait_ec(kicked.get_future()), std::error_code{});
  both<std::optional<job>> at_once;
  c.async_reserve_with_timeout(0s, at_once.handler());
  auto [now_ec, now_job] = wait(at_once.future());
  EXPECT_EQ(now_ec, errc::corrupt_job);
  ASSERT_TRUE(now_job.has_value());
  EXPECT_EQ(now_job->id, torn_);
  std::promise<std::error_code> buried_again;
  c.async_bury(torn_, torn_priority, [&](std::error_code e) { buried_again.set_value(e); });
  EXPECT_EQ(wait_ec(buried_again.get_future()), std::error_code{});

  both<std::optional<job>> next;
  c.async_reserve_with_timeout(2s, next.handler());
  auto [next_ec, next_job] = wait(next.future());
  EXPECT_FALSE(next_ec) << next_ec.message();
  ASSERT_TRUE(next_job.has_value());
  EXPECT_EQ(next_job->body, "good");
  c.close();
}

TEST_F(torn_job, worker_buries_it_and_goes_on_with_other_jobs) {
  // Without the fix the worker's connection broke on the torn job, which went back to the front
  // of the queue and came back on every reserve: the good job never ran.
  io_threads io;
  auto options = test_options();
  worker_event_log log;
  log.record_from(options);
  worker w(io.executor(), server().endpoint(), options);
  EXPECT_EQ(run_until_a_job_is_deleted(w), std::vector<std::string>{"good"});
  bool reported = false;
  for (const auto& e : log.events()) {
    if (e.what == worker_event::kind::buried && e.job == torn_) {
      reported = true;
      EXPECT_EQ(e.error, errc::corrupt_job);
      EXPECT_FALSE(e.message.empty());
      EXPECT_EQ(e.tube, tube().str());
    }
  }
  EXPECT_TRUE(reported) << "no buried event for the torn job";
  EXPECT_EQ(w.metrics().total().buried, 1U);
  const auto st = stats(torn_);
  EXPECT_EQ(st.state, "buried");
  EXPECT_EQ(st.pri, torn_priority);
  EXPECT_EQ(st.reserves, 1U) << "the torn job was reserved again and again";
}

TEST_F(torn_job, pool_and_a_worker_over_a_pool_report_and_bury_it) {
  const std::string name = server().endpoint().to_string();
  {
    pool p({{server().endpoint(), {}, 1}});
    p.watch(tube());
    p.ignore(tube_name("default"));
    try {
      (void)p.reserve_with_timeout(2s);
      FAIL() << "reserve did not throw";
    } catch (const error& e) {
      EXPECT_EQ(e.code(), errc::corrupt_job) << e.what();
      EXPECT_EQ(e.job(), torn_.value);
      EXPECT_NE(std::string(e.what()).find("job " + name + "/" + std::to_string(torn_.value)),
                std::string::npos)
          << e.what();
    }
    p.bury({name, torn_}, torn_priority);  // the pool's reserving connection holds it
    EXPECT_EQ(stats(torn_).state, "buried");
    try {
      (void)p.peek({name, torn_});
      FAIL() << "peek did not throw";
    } catch (const error& e) {
      EXPECT_EQ(e.code(), errc::corrupt_job);
      EXPECT_EQ(e.job(), torn_.value);
    }
    p.kick_job({name, torn_});
    // A zero-second reserve on a pool of one goes straight to its client: the same report.
    try {
      (void)p.reserve_with_timeout(0s);
      FAIL() << "a zero-second reserve did not throw";
    } catch (const error& e) {
      EXPECT_EQ(e.code(), errc::corrupt_job) << e.what();
      EXPECT_EQ(e.job(), torn_.value);
    }
    p.bury({name, torn_}, torn_priority);
    p.kick_job({name, torn_});
  }

  io_threads io;
  worker w(io.executor(), std::vector<pool_server>{{server().endpoint(), {}, 1}}, test_options());
  EXPECT_EQ(run_until_a_job_is_deleted(w), std::vector<std::string>{"good"});
  EXPECT_EQ(w.metrics().total().buried, 1U);
  const auto st = stats(torn_);
  EXPECT_EQ(st.state, "buried");
  EXPECT_EQ(st.pri, torn_priority);
  EXPECT_EQ(st.reserves, 3U);  // the pool's two reserves above, then the worker's one
}

}  // namespace
}  // namespace beanpole::testing
