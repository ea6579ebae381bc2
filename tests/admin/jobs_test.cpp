// move_jobs and flush_tube against a real beanstalkd; lost replies through a fault proxy.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <thread>
#include <vector>

#include "beanpole/admin/jobs.hpp"
#include "beanpole/error.hpp"
#include "fault_proxy.hpp"
#include "server_test.hpp"

namespace beanpole::testing {
namespace {

using namespace std::chrono_literals;

class AdminJobs : public server_test {
 protected:
  /// Puts `n` jobs into `t` with distinct bodies "job-0".."job-<n-1>".
  std::vector<job_id> put_jobs(client& c, const tube_name& t, int n, put_options opts = {}) {
    c.use(t);
    std::vector<job_id> ids;
    for (int i = 0; i < n; ++i) ids.push_back(c.put("job-" + std::to_string(i), opts));
    return ids;
  }
  /// Waits up to 3 s for job `id` to be ready (the server releases a lost connection's jobs).
  static bool eventually_ready(client& c, job_id id) {
    for (int i = 0; i < 300; ++i) {
      std::error_code ec;
      if (c.stats_job(id, ec).state == "ready") return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }
  static void bury(client& c, job_id id, priority pri) { c.reserve_job(id)->bury(pri); }
  static std::uint64_t count(client& c, const tube_name& t, job_state s) {
    std::error_code ec;
    const auto st = c.stats_tube(t, ec);
    if (ec == errc::not_found) return 0;
    switch (s) {
      case job_state::ready:
        return st.current_jobs_ready;
      case job_state::delayed:
        return st.current_jobs_delayed;
      case job_state::buried:
        return st.current_jobs_buried;
    }
    return 0;
  }
};

TEST_F(AdminJobs, MovesReadyJobsKeepingBodyPriorityAndTtr) {
  auto c = make_client();
  const auto to = unique_tube("to");
  c.use(tube());
  const job_id a = c.put(std::string("bin\0ary\r\n", 9), {.pri = 7, .delay = 0s, .ttr = 42s});
  c.put("second", {.pri = 900, .delay = 0s, .ttr = 5s});

  std::vector<move_progress> seen;
  move_options opts;
  opts.on_progress = [&](const move_progress& p) { seen.push_back(p); };
  const auto r = move_jobs(c, tube(), to, opts);
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.moved, 2u);
  EXPECT_FALSE(r.stopped);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].source, a);  // most urgent first
  EXPECT_EQ(seen[1].moved, 2u);

  EXPECT_FALSE(c.peek(a).has_value()) << "the source is deleted";
  EXPECT_EQ(count(c, tube(), job_state::ready), 0u);
  const auto copy = c.peek(seen[0].copy);
  ASSERT_TRUE(copy.has_value());
  EXPECT_EQ(copy->body, std::string("bin\0ary\r\n", 9));
  const auto st = c.stats_job(seen[0].copy);
  EXPECT_EQ(st.tube, to.str());
  EXPECT_EQ(st.state, "ready");
  EXPECT_EQ(st.pri, 7u);
  EXPECT_EQ(st.ttr, 42u);
  EXPECT_EQ(c.stats_job(seen[1].copy).pri, 900u);
  EXPECT_EQ(c.stats_job(seen[1].copy).ttr, 5u);
}

TEST_F(AdminJobs, MovesDelayedJobsKeepingTheirRemainingDelay) {
  auto c = make_client();
  const auto to = unique_tube("to");
  put_jobs(c, tube(), 2, {.pri = 3, .delay = 100s, .ttr = 9s});
  put_jobs(c, tube(), 1);  // a ready one, left alone
  move_options opts;
  opts.state = job_state::delayed;
  const auto r = move_jobs(c, tube(), to, opts);
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.moved, 2u);
  EXPECT_EQ(count(c, tube(), job_state::ready), 1u);
  EXPECT_EQ(count(c, tube(), job_state::delayed), 0u);
  EXPECT_EQ(count(c, to, job_state::delayed), 2u);
  c.use(to);
  const auto j = c.peek_delayed();
  ASSERT_TRUE(j.has_value());
  const auto st = c.stats_job(j->id);
  EXPECT_EQ(st.state, "delayed");
  EXPECT_EQ(st.pri, 3u);
  EXPECT_EQ(st.ttr, 9u);
  EXPECT_GE(st.time_left, 97u);
  EXPECT_LE(st.time_left, 100u);
}

TEST_F(AdminJobs, MovesBuriedJobsThatStayBuried) {
  auto c = make_client();
  const auto to = unique_tube("to");
  const auto ids = put_jobs(c, tube(), 3);
  bury(c, ids[0], 11);
  bury(c, ids[1], 12);
  move_options opts;
  opts.state = job_state::buried;
  const auto r = move_jobs(c, tube(), to, opts);
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.moved, 2u);
  EXPECT_EQ(count(c, to, job_state::buried), 2u);
  EXPECT_EQ(count(c, to, job_state::ready), 0u);
  EXPECT_EQ(count(c, tube(), job_state::buried), 0u);
  EXPECT_EQ(count(c, tube(), job_state::ready), 1u);
  c.use(to);
  const auto first = c.peek_buried();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->body, "job-0");
  EXPECT_EQ(c.stats_job(first->id).pri, 11u);
}

TEST_F(AdminJobs, LimitAndStopBoundTheMove) {
  auto c = make_client();
  const auto to = unique_tube("to");
  put_jobs(c, tube(), 5);
  move_options opts;
  opts.limit = 2;
  auto r = move_jobs(c, tube(), to, opts);
  EXPECT_FALSE(r.ec);
  EXPECT_EQ(r.moved, 2u);
  EXPECT_EQ(count(c, to, job_state::ready), 2u);

  int asked = 0;
  move_options stop;
  stop.stop_requested = [&] { return ++asked > 1; };
  r = move_jobs(c, tube(), to, stop);
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.moved, 1u);
  EXPECT_EQ(count(c, tube(), job_state::ready), 2u);
  EXPECT_EQ(count(c, to, job_state::ready), 3u);
}

TEST_F(AdminJobs, JobsReservedByAWorkerStayWithIt) {
  auto c = make_client();
  auto worker = make_client();
  const auto to = unique_tube("to");
  put_jobs(c, tube(), 2);
  auto held = worker.reserve_with_timeout(0s);
  ASSERT_TRUE(held.has_value());
  const auto r = move_jobs(c, tube(), to);
  EXPECT_FALSE(r.ec);
  EXPECT_EQ(r.moved, 1u);
  EXPECT_EQ(c.stats_job(held->id()).state, "reserved");
}

TEST_F(AdminJobs, MovingIntoTheSameTubeIsRefused) {
  auto c = make_client();
  put_jobs(c, tube(), 1);
  const auto r = move_jobs(c, tube(), tube());
  EXPECT_EQ(r.ec, errc::value_out_of_range);
  EXPECT_EQ(r.moved, 0u);
}

TEST_F(AdminJobs, AnUnknownPutOutcomeStopsTheMoveAndLeavesTheSourceInPlace) {
  auto direct = make_client();
  const auto to = unique_tube("to");
  const auto ids = put_jobs(direct, tube(), 3, {.pri = 5, .delay = 0s, .ttr = 60s});

  fault_proxy proxy(server().port());
  client c(proxy.endpoint(), client_options());
  move_options opts;
  opts.limit = 1;
  ASSERT_EQ(move_jobs(c, tube(), to, opts).moved, 1u);  // through the proxy, untouched

  proxy.cut_on("put ");  // the next put reaches the server, its reply never comes back
  const auto r = move_jobs(c, tube(), to);
  EXPECT_EQ(proxy.cuts(), 1) << r.ec.message() << " moved " << r.moved;
  EXPECT_EQ(r.ec, errc::outcome_unknown) << r.ec.message();
  EXPECT_EQ(r.moved, 0u);
  ASSERT_TRUE(r.source.has_value());
  EXPECT_EQ(*r.source, ids[1]);
  EXPECT_FALSE(r.copy.has_value()) << "the copy's id is unknown";
  // The source is still in its tube, ready again (the server released it with the connection),
  // and the untouched job too; the copy did reach the server: a duplicate, never a loss.
  EXPECT_TRUE(eventually_ready(direct, ids[1]));
  EXPECT_EQ(direct.stats_job(ids[1]).tube, tube().str());
  EXPECT_EQ(direct.stats_job(ids[2]).state, "ready");
  EXPECT_EQ(count(direct, to, job_state::ready), 2u);
}

TEST_F(AdminJobs, ALostDeleteReplyNamesBothIds) {
  auto direct = make_client();
  const auto to = unique_tube("to");
  const auto ids = put_jobs(direct, tube(), 1);
  fault_proxy proxy(server().port());
  client c(proxy.endpoint(), client_options());
  proxy.cut_on("delete ");
  const auto r = move_jobs(c, tube(), to);
  EXPECT_TRUE(r.ec) << "the delete's reply was lost";
  EXPECT_TRUE(r.duplicate);
  ASSERT_TRUE(r.source.has_value());
  EXPECT_EQ(*r.source, ids[0]);
  ASSERT_TRUE(r.copy.has_value());
  EXPECT_EQ(direct.stats_job(*r.copy).tube, to.str()) << "the copy exists";
}

TEST_F(AdminJobs, AFailedPutPutsTheSourceBackAsItWas) {
  auto c = make_client();
  const auto to = unique_tube("to");
  const auto ids = put_jobs(c, tube(), 1, {.pri = 8, .delay = 0s, .ttr = 60s});
  bury(c, ids[0], 8);
  server().signal(SIGUSR1);  // drain mode: the server refuses every put
  move_options opts;
  opts.state = job_state::buried;
  const auto r = move_jobs(c, tube(), to, opts);
  server().restart();  // out of drain mode for the other tests
  EXPECT_EQ(r.ec, errc::draining);
  ASSERT_TRUE(r.source.has_value());
  EXPECT_FALSE(r.copy.has_value());
}

TEST_F(AdminJobs, FlushesEachStateAndLeavesReservedJobs) {
  auto c = make_client();
  auto worker = make_client();
  const auto ready = put_jobs(c, tube(), 4);
  put_jobs(c, tube(), 2, {.pri = 1, .delay = 100s, .ttr = 60s});
  bury(c, ready[0], 1);
  auto held = worker.reserve_job(ready[1]);
  ASSERT_TRUE(held.has_value());

  flush_options buried;
  buried.states = {job_state::buried};
  auto r = flush_tube(c, tube(), buried);
  EXPECT_FALSE(r.ec);
  EXPECT_EQ(r.deleted, 1u);

  flush_options delayed;
  delayed.states = {job_state::delayed};
  std::vector<flush_progress> seen;
  delayed.on_progress = [&](const flush_progress& p) { seen.push_back(p); };
  r = flush_tube(c, tube(), delayed);
  EXPECT_EQ(r.deleted, 2u);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].state, job_state::delayed);
  EXPECT_EQ(count(c, tube(), job_state::ready), 2u);

  flush_options limited;
  limited.limit = 1;
  EXPECT_EQ(flush_tube(c, tube(), limited).deleted, 1u);
  r = flush_tube(c, tube());  // all states
  EXPECT_EQ(r.deleted, 1u);
  EXPECT_EQ(count(c, tube(), job_state::ready), 0u);
  EXPECT_EQ(c.stats_job(held->id()).state, "reserved") << "a worker's job is left alone";
}

TEST_F(AdminJobs, StateNames) {
  EXPECT_EQ(to_string(job_state::delayed), "delayed");
  EXPECT_EQ(parse_job_state("buried"), job_state::buried);
  EXPECT_FALSE(parse_job_state("reserved").has_value());
}

}  // namespace
}  // namespace beanpole::testing
