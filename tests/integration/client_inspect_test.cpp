// The blocking client against a real beanstalkd: peek*, kick, kick-job, stats, stats-tube,
// stats-job, list-tubes, list-tube-used, list-tubes-watched, pause-tube, and the NOT_FOUND
// answers of each.
#include <unistd.h>
#include <algorithm>
#include <future>

#include "server_test.hpp"
#include "test_helpers.hpp"

namespace beanpole::testing {
namespace {

class ClientInspect : public server_test {};

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// ----------------------------------------------------------------------------------------- peek

TEST_F(ClientInspect, PeekFindsAJobByIdInAnyTube) {
  auto producer = make_plain_client();
  producer.use(unique_tube("elsewhere"));
  const job_id id = producer.put("look");
  auto c = make_client();  // uses and watches another tube: peek <id> does not care
  const auto j = c.peek(id);
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ(j->id, id);
  EXPECT_EQ(j->body, "look");
  std::error_code ec;
  EXPECT_EQ(c.peek(id, ec)->body, "look");
  EXPECT_FALSE(ec);
}

TEST_F(ClientInspect, PeekOfAMissingJobIsEmptyNotAnError) {
  auto c = make_client();
  std::error_code ec = make_error_code(errc::internal_error);
  EXPECT_FALSE(c.peek(job_id{999999999}, ec).has_value());
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_FALSE(c.peek(job_id{999999999}).has_value());
  EXPECT_TRUE(still_usable(c));
}

TEST_F(ClientInspect, PeekReadyDelayedBuriedInTheUsedTube) {
  auto c = make_client();
  EXPECT_FALSE(c.peek_ready().has_value());
  EXPECT_FALSE(c.peek_delayed().has_value());
  EXPECT_FALSE(c.peek_buried().has_value());

  const job_id ready2 = c.put("ready2", put_options{.pri = 20, .delay = 0s, .ttr = 60s});
  const job_id ready1 = c.put("ready1", put_options{.pri = 10, .delay = 0s, .ttr = 60s});
  const job_id later = c.put("later", put_options{.pri = 1, .delay = 200s, .ttr = 60s});
  const job_id sooner = c.put("sooner", put_options{.pri = 1, .delay = 100s, .ttr = 60s});
  const job_id buried1 = c.put("buried1", put_options{.pri = 0, .delay = 0s, .ttr = 60s});
  c.reserve_job(buried1)->bury();
  const job_id buried2 = c.put("buried2", put_options{.pri = 0, .delay = 0s, .ttr = 60s});
  c.reserve_job(buried2)->bury(0);

  const auto r = c.peek_ready();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->id, ready1);  // the most urgent
  EXPECT_EQ(r->body, "ready1");
  const auto d = c.peek_delayed();
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->id, sooner);  // due first
  const auto b = c.peek_buried();
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->id, buried1);  // first buried (FIFO)

  // Peeking does not change anything.
  EXPECT_EQ(c.stats_job(ready1).state, "ready");
  EXPECT_EQ(c.stats_job(buried1).state, "buried");

  std::error_code ec;
  EXPECT_EQ(c.peek_ready(ec)->id, ready1);
  EXPECT_EQ(c.peek_delayed(ec)->id, sooner);
  EXPECT_EQ(c.peek_buried(ec)->id, buried1);
  EXPECT_FALSE(ec);
  (void)ready2;
  (void)later;

  // Another tube sees none of them.
  c.use(unique_tube("empty"));
  EXPECT_FALSE(c.peek_ready(ec).has_value());
  EXPECT_FALSE(c.peek_delayed(ec).has_value());
  EXPECT_FALSE(c.peek_buried(ec).has_value());
  EXPECT_FALSE(ec);
}

// ----------------------------------------------------------------------------------------- kick

TEST_F(ClientInspect, KickMovesBuriedJobsFirstThenDelayedOnes) {
  auto c = make_client();
  const job_id b1 = c.put("b1");
  const job_id b2 = c.put("b2");
  c.reserve_job(b1)->bury();
  c.reserve_job(b2)->bury();
  const job_id d1 = c.put("d1", put_options{.pri = 1, .delay = 100s, .ttr = 60s});

  EXPECT_EQ(c.kick(1), 1U);  // one buried job
  EXPECT_EQ(c.stats_job(b1).state, "ready");
  EXPECT_EQ(c.stats_job(b2).state, "buried");
  EXPECT_EQ(c.kick(10), 1U);  // the other buried one; delayed jobs wait while any are buried
  EXPECT_EQ(c.stats_job(b2).state, "ready");
  EXPECT_EQ(c.stats_job(d1).state, "delayed");
  std::error_code ec;
  EXPECT_EQ(c.kick(10, ec), 1U);  // now the delayed one
  EXPECT_FALSE(ec);
  EXPECT_EQ(c.stats_job(d1).state, "ready");
  EXPECT_EQ(c.stats_job(d1).kicks, 1U);
  EXPECT_EQ(c.kick(10), 0U);  // nothing left
  EXPECT_EQ(c.kick(0), 0U);
}

TEST_F(ClientInspect, KickActsOnTheUsedTubeOnly) {
  auto c = make_client();
  const job_id b = c.put("b");
  c.reserve_job(b)->bury();
  c.use(unique_tube("other"));
  EXPECT_EQ(c.kick(100), 0U);
  EXPECT_EQ(c.stats_job(b).state, "buried");
}

TEST_F(ClientInspect, KickBoundIsUpTo32Bits) {
  auto c = make_client();
  EXPECT_EQ(c.kick(0xffffffffULL), 0U);
  std::error_code ec;
  c.kick(0x100000000ULL, ec);
  EXPECT_EQ(ec, errc::value_out_of_range);
  EXPECT_TRUE(still_usable(c));
}

TEST_F(ClientInspect, KickJobOfBuriedAndDelayedJobs) {
  auto c = make_client();
  const job_id buried = c.put("b");
  c.reserve_job(buried)->bury();
  const job_id delayed = c.put("d", put_options{.pri = 1, .delay = 100s, .ttr = 60s});
  std::error_code ec;
  c.kick_job(buried, ec);
  EXPECT_FALSE(ec);
  c.kick_job(delayed);
  EXPECT_EQ(c.stats_job(buried).state, "ready");
  EXPECT_EQ(c.stats_job(delayed).state, "ready");
  EXPECT_EQ(c.stats_job(delayed).kicks, 1U);
}

TEST_F(ClientInspect, KickJobOfReadyReservedOrMissingJobsIsNotFound) {
  auto c = make_client();
  const job_id ready = c.put("r");
  const job_id reserved = c.put("x");
  auto j = c.reserve_job(reserved);
  std::error_code ec;
  c.kick_job(ready, ec);
  EXPECT_EQ(ec, errc::not_found);
  c.kick_job(reserved, ec);
  EXPECT_EQ(ec, errc::not_found);
  c.kick_job(job_id{999999999}, ec);
  EXPECT_EQ(ec, errc::not_found);
  EXPECT_TRUE(throws_errc([&] { c.kick_job(ready); }, errc::not_found));
  EXPECT_TRUE(still_usable(c));
  j->remove();
}

// ---------------------------------------------------------------------------------------- stats

TEST_F(ClientInspect, ServerStatsMatchTheServer) {
  auto c = make_client();
  const auto before = c.stats();
  EXPECT_EQ(before.pid, static_cast<std::uint64_t>(server().pid()));
  EXPECT_EQ(before.version, "1.12");
  EXPECT_EQ(before.max_job_size, 65535U);
  EXPECT_FALSE(before.draining);
  EXPECT_EQ(before.binlog_current_index, 0U);  // no -b
  EXPECT_EQ(before.binlog_oldest_index, 0U);
  EXPECT_EQ(before.binlog_records_written, 0U);
  EXPECT_EQ(before.binlog_max_size, 10485760U);
  EXPECT_GE(before.current_connections, 1U);
  EXPECT_GE(before.total_connections, before.current_connections);
  EXPECT_GE(before.current_tubes, 2U);  // default and ours
  EXPECT_GE(before.rusage_utime, 0.0);
  EXPECT_GE(before.rusage_stime, 0.0);
  EXPECT_FALSE(before.id.empty());
  char host[256] = {};
  ASSERT_EQ(::gethostname(host, sizeof host - 1), 0);
  EXPECT_EQ(before.hostname, host);
  EXPECT_FALSE(before.os.empty());
  EXPECT_FALSE(before.platform.empty());
  EXPECT_TRUE(before.other.empty())
      << "1.12 has a key the decoder does not know: " << before.other.begin()->first;

  // Counters move as commands are run (one test at a time uses this server).
  const job_id id = c.put("one", put_options{.pri = 5, .delay = 0s, .ttr = 60s});
  c.put("two", put_options{.pri = 2000, .delay = 0s, .ttr = 60s});
  c.put("three", put_options{.pri = 1, .delay = 100s, .ttr = 60s});
  c.peek(id);
  c.peek_ready();
  c.reserve_with_timeout(0s);  // takes "one"
  c.stats_job(id);
  c.stats_tube(tube());
  c.list_tubes();
  c.list_tube_used();
  c.list_tubes_watched();
  const auto after = c.stats();
  EXPECT_EQ(after.cmd_put, before.cmd_put + 3);
  EXPECT_EQ(after.cmd_peek, before.cmd_peek + 1);
  EXPECT_EQ(after.cmd_peek_ready, before.cmd_peek_ready + 1);
  EXPECT_EQ(after.cmd_reserve_with_timeout, before.cmd_reserve_with_timeout + 1);
  EXPECT_EQ(after.cmd_stats_job, before.cmd_stats_job + 1);
  EXPECT_EQ(after.cmd_stats_tube, before.cmd_stats_tube + 1);
  EXPECT_EQ(after.cmd_stats, before.cmd_stats + 1);
  EXPECT_EQ(after.cmd_list_tubes, before.cmd_list_tubes + 1);
  EXPECT_EQ(after.cmd_list_tube_used, before.cmd_list_tube_used + 1);
  EXPECT_EQ(after.cmd_list_tubes_watched, before.cmd_list_tubes_watched + 1);
  EXPECT_EQ(after.total_jobs, before.total_jobs + 3);
  EXPECT_EQ(after.current_jobs_ready, before.current_jobs_ready + 1);  // "two"
  EXPECT_EQ(after.current_jobs_urgent, before.current_jobs_urgent);    // "two" is not urgent
  EXPECT_EQ(after.current_jobs_reserved, before.current_jobs_reserved + 1);
  EXPECT_EQ(after.current_jobs_delayed, before.current_jobs_delayed + 1);
  EXPECT_EQ(after.current_jobs_buried, before.current_jobs_buried);
  EXPECT_GE(after.current_producers, 1U);
  EXPECT_GE(after.current_workers, 1U);
  EXPECT_GE(after.uptime, before.uptime);
}

TEST_F(ClientInspect, ServerStatsCountConnections) {
  auto c = make_client();
  const auto before = c.stats().current_connections;
  {
    auto extra1 = make_plain_client();
    auto extra2 = make_plain_client();
    extra1.list_tube_used();
    extra2.list_tube_used();
    EXPECT_EQ(c.stats().current_connections, before + 2);
  }
  EXPECT_TRUE(eventually([&] { return c.stats().current_connections == before; }));
}

TEST_F(ClientInspect, TubeStatsMatchTheTube) {
  auto c = make_client();
  auto watcher = make_plain_client();
  watcher.watch(tube());
  watcher.use(tube());

  const job_id urgent = c.put("u", put_options{.pri = 10, .delay = 0s, .ttr = 60s});
  c.put("u2", put_options{.pri = 1023, .delay = 0s, .ttr = 60s});
  c.put("n", put_options{.pri = 1024, .delay = 0s, .ttr = 60s});
  c.put("d", put_options{.pri = 1, .delay = 100s, .ttr = 60s});
  const job_id to_bury = c.put("b", put_options{.pri = 2000, .delay = 0s, .ttr = 60s});
  c.reserve_job(to_bury)->bury();
  auto reserved = c.reserve_job(urgent);  // leaves u2 (urgent) and n ready
  const job_id gone = c.put("gone");
  c.remove(gone);

  auto st = c.stats_tube(tube());
  EXPECT_EQ(st.name, tube().str());
  EXPECT_EQ(st.current_jobs_urgent, 1U);
  EXPECT_EQ(st.current_jobs_ready, 2U);
  EXPECT_EQ(st.current_jobs_reserved, 1U);
  EXPECT_EQ(st.current_jobs_delayed, 1U);
  EXPECT_EQ(st.current_jobs_buried, 1U);
  EXPECT_EQ(st.total_jobs, 6U);
  EXPECT_EQ(st.current_using, 2U);     // c and watcher
  EXPECT_EQ(st.current_watching, 2U);  // c and watcher
  EXPECT_EQ(st.current_waiting, 0U);
  EXPECT_EQ(st.cmd_delete, 1U);
  EXPECT_EQ(st.cmd_pause_tube, 0U);
  EXPECT_EQ(st.pause, 0U);
  EXPECT_EQ(st.pause_time_left, 0U);
  EXPECT_TRUE(st.other.empty()) << st.other.begin()->first;

  watcher.ignore(tube());
  watcher.use("default");
  st = c.stats_tube(tube());
  EXPECT_EQ(st.current_using, 1U);
  EXPECT_EQ(st.current_watching, 1U);
  reserved->remove();
  std::error_code ec;
  st = c.stats_tube(tube(), ec);
  EXPECT_FALSE(ec);
  EXPECT_EQ(st.current_jobs_reserved, 0U);
  EXPECT_EQ(st.cmd_delete, 2U);
}

TEST_F(ClientInspect, StatsTubeOfAMissingTubeIsNotFound) {
  auto c = make_client();
  std::error_code ec;
  c.stats_tube(unique_tube("does.not.exist"), ec);
  EXPECT_EQ(ec, errc::not_found);
  EXPECT_TRUE(throws_errc([&] { c.stats_tube(unique_tube("does.not.exist")); }, errc::not_found));
  EXPECT_TRUE(still_usable(c));
}

TEST_F(ClientInspect, JobStatsMatchTheJob) {
  auto c = make_client();
  const job_id id = c.put("stat me", put_options{.pri = 77, .delay = 0s, .ttr = 33s});
  auto st = c.stats_job(id);
  EXPECT_EQ(st.id, id.value);
  EXPECT_EQ(st.tube, tube().str());
  EXPECT_EQ(st.state, "ready");
  EXPECT_EQ(st.pri, 77U);
  EXPECT_EQ(st.delay, 0U);
  EXPECT_EQ(st.ttr, 33U);
  EXPECT_LE(st.age, 2U);
  EXPECT_EQ(st.file, 0U);
  EXPECT_EQ(st.reserves, 0U);
  EXPECT_EQ(st.timeouts, 0U);
  EXPECT_EQ(st.releases, 0U);
  EXPECT_EQ(st.buries, 0U);
  EXPECT_EQ(st.kicks, 0U);
  EXPECT_TRUE(st.other.empty()) << st.other.begin()->first;

  auto j = c.reserve();
  st = c.stats_job(id);
  EXPECT_EQ(st.state, "reserved");
  EXPECT_EQ(st.reserves, 1U);
  EXPECT_GE(st.time_left, 31U);
  EXPECT_LE(st.time_left, 33U);
  j.release(78, 0s);
  j = c.reserve();
  j.bury(79);
  c.kick_job(id);
  st = c.stats_job(id);
  EXPECT_EQ(st.state, "ready");
  EXPECT_EQ(st.pri, 79U);
  EXPECT_EQ(st.reserves, 2U);
  EXPECT_EQ(st.releases, 1U);
  EXPECT_EQ(st.buries, 1U);
  EXPECT_EQ(st.kicks, 1U);
  std::error_code ec;
  EXPECT_EQ(c.stats_job(id, ec).id, id.value);
  EXPECT_FALSE(ec);
}

TEST_F(ClientInspect, StatsJobOfAMissingJobIsNotFound) {
  auto c = make_client();
  std::error_code ec;
  c.stats_job(job_id{999999999}, ec);
  EXPECT_EQ(ec, errc::not_found);
  EXPECT_TRUE(throws_errc([&] { c.stats_job(job_id{999999999}); }, errc::not_found));
  EXPECT_TRUE(still_usable(c));
}

TEST_F(ClientInspect, StatsJobAgeGrows) {
  auto c = make_client();
  const job_id id = c.put("old");
  EXPECT_TRUE(eventually([&] { return c.stats_job(id).age >= 1; }, 3s));
}

// ---------------------------------------------------------------------------------------- lists

TEST_F(ClientInspect, ListTubesShowsExistingTubes) {
  auto c = make_client();
  auto other = make_plain_client();
  const auto extra = unique_tube("extra");
  other.use(extra);
  auto tubes = c.list_tubes();
  EXPECT_TRUE(contains(tubes, "default"));
  EXPECT_TRUE(contains(tubes, tube().str()));
  EXPECT_TRUE(contains(tubes, extra.str()));
  // A tube nobody refers to and with no jobs goes away.
  other.use("default");
  EXPECT_TRUE(eventually([&] { return !contains(c.list_tubes(), extra.str()); }));
  std::error_code ec;
  tubes = c.list_tubes(ec);
  EXPECT_FALSE(ec);
  EXPECT_TRUE(contains(tubes, tube().str()));
}

TEST_F(ClientInspect, ListTubeUsedIsTheUsedTube) {
  auto c = make_plain_client();
  EXPECT_EQ(c.list_tube_used(), "default");
  c.use(tube());
  EXPECT_EQ(c.list_tube_used(), tube().str());
  std::error_code ec;
  EXPECT_EQ(c.list_tube_used(ec), tube().str());
  EXPECT_FALSE(ec);
  // `use` does not change the watch list.
  EXPECT_EQ(c.list_tubes_watched(), std::vector<std::string>{"default"});
}

TEST_F(ClientInspect, ListTubesWatchedFollowsWatchAndIgnore) {
  auto c = make_plain_client();
  std::error_code ec;
  EXPECT_EQ(c.list_tubes_watched(ec), std::vector<std::string>{"default"});
  c.watch(tube());
  EXPECT_EQ(c.list_tubes_watched(), (std::vector<std::string>{"default", tube().str()}));
  c.ignore("default");
  EXPECT_EQ(c.list_tubes_watched(), std::vector<std::string>{tube().str()});
  EXPECT_EQ(c.list_tube_used(), "default");  // watching does not change the used tube
}

// ----------------------------------------------------------------------------------- pause-tube

TEST_F(ClientInspect, PauseTubeHoldsReservesBack) {
  auto c = make_client();
  const job_id id = c.put("paused");
  c.pause_tube(tube(), 2s);
  const auto st = c.stats_tube(tube());
  EXPECT_EQ(st.pause, 2U);
  EXPECT_LE(st.pause_time_left, 2U);
  EXPECT_EQ(st.cmd_pause_tube, 1U);
  EXPECT_FALSE(c.reserve_with_timeout(0s).has_value());  // the job is ready, but the tube paused
  EXPECT_EQ(c.peek_ready()->id, id);
  const stopwatch sw;
  auto j = c.reserve_with_timeout(5s);
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ(j->id(), id);
  EXPECT_GE(sw.elapsed(), 800ms);
  EXPECT_LT(sw.elapsed(), 4000ms);
  j->remove();
}

TEST_F(ClientInspect, PauseTubeZeroUnpauses) {
  auto c = make_client();
  c.put("x");
  std::error_code ec;
  c.pause_tube(tube(), 60s, ec);
  EXPECT_FALSE(ec);
  EXPECT_FALSE(c.reserve_with_timeout(0s).has_value());
  c.pause_tube(tube(), 0s);
  auto j = c.reserve_with_timeout(1s);
  ASSERT_TRUE(j.has_value());
  j->remove();
}

TEST_F(ClientInspect, PauseTubeOfAMissingTubeIsNotFound) {
  auto c = make_client();
  std::error_code ec;
  c.pause_tube(unique_tube("does.not.exist"), 1s, ec);
  EXPECT_EQ(ec, errc::not_found);
  EXPECT_TRUE(
      throws_errc([&] { c.pause_tube(unique_tube("does.not.exist"), 1s); }, errc::not_found));
  EXPECT_TRUE(still_usable(c));
}

TEST_F(ClientInspect, EveryNotFoundLeavesTheConnectionUsable) {
  auto c = make_client();
  const job_id missing{999999999};
  const auto no_tube = unique_tube("missing");
  std::error_code ec;
  c.remove(missing, ec);
  EXPECT_EQ(ec, errc::not_found);
  EXPECT_FALSE(c.peek(missing, ec).has_value());
  EXPECT_FALSE(ec);
  c.stats_job(missing, ec);
  EXPECT_EQ(ec, errc::not_found);
  c.kick_job(missing, ec);
  EXPECT_EQ(ec, errc::not_found);
  c.stats_tube(no_tube, ec);
  EXPECT_EQ(ec, errc::not_found);
  c.pause_tube(no_tube, 1s, ec);
  EXPECT_EQ(ec, errc::not_found);
  c.release(missing, 1, 0s, ec);
  EXPECT_EQ(ec, errc::not_found);
  c.bury(missing, 1, ec);
  EXPECT_EQ(ec, errc::not_found);
  c.touch(missing, ec);
  EXPECT_EQ(ec, errc::not_found);
  EXPECT_FALSE(c.reserve_job(missing, ec).has_value());
  EXPECT_FALSE(ec);
  EXPECT_TRUE(c.is_open());
  const job_id id = c.put("still fine");
  EXPECT_EQ(c.reserve().id(), id);
  c.remove(id);
}

}  // namespace
}  // namespace beanpole::testing
