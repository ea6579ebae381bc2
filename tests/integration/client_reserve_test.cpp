// The blocking client against a real beanstalkd: reserve, reserve-with-timeout, reserve-job,
// DEADLINE_SOON, reply timeouts around reserves, and the job actions (delete, release, bury,
// touch) through the client and through job_handle.
//
// Not provokable against a real server: TIMED_OUT to a plain `reserve` (the server sends it only
// on a half-closed connection, which the client API cannot produce); `BURIED` to a release (the
// server must run out of memory); errc::reserve_job_unsupported (the server here is 1.12).
#include <atomic>
#include <future>
#include <thread>

#include "server_test.hpp"
#include "test_helpers.hpp"

namespace beanpole::testing {
namespace {

class ClientReserve : public server_test {};

TEST_F(ClientReserve, ReserveGetsAReadyJob) {
  auto c = make_client();
  const job_id id = c.put("work");
  const stopwatch sw;
  auto j = c.reserve();
  EXPECT_LT(sw.elapsed(), 1000ms);
  EXPECT_EQ(j.id(), id);
  EXPECT_EQ(j.body(), "work");
  EXPECT_EQ(j.job(), (job{id, "work"}));
  const auto st = c.stats_job(id);
  EXPECT_EQ(st.state, "reserved");
  EXPECT_EQ(st.reserves, 1U);
  j.remove();
  std::error_code ec;
  c.stats_job(id, ec);
  EXPECT_EQ(ec, errc::not_found);
}

TEST_F(ClientReserve, ReserveTakesTheMostUrgentThenTheOldest) {
  auto c = make_client();
  const job_id low = c.put("low", put_options{.pri = 10, .delay = 0s, .ttr = 60s});
  const job_id first5 = c.put("first5", put_options{.pri = 5, .delay = 0s, .ttr = 60s});
  const job_id second5 = c.put("second5", put_options{.pri = 5, .delay = 0s, .ttr = 60s});
  const job_id urgent = c.put("urgent", put_options{.pri = 0, .delay = 0s, .ttr = 60s});
  for (const job_id expected : {urgent, first5, second5, low}) {
    auto j = c.reserve_with_timeout(0s);
    ASSERT_TRUE(j.has_value());
    EXPECT_EQ(j->id(), expected);
    j->remove();
  }
}

TEST_F(ClientReserve, ReserveComesFromAnyWatchedTube) {
  auto producer = make_plain_client();
  const auto other = unique_tube("other");
  producer.use(other);
  const job_id id = producer.put("elsewhere");
  auto c = make_client();
  EXPECT_FALSE(c.reserve_with_timeout(0s).has_value());  // not watching `other` yet
  EXPECT_EQ(c.watch(other), 2U);
  auto j = c.reserve_with_timeout(0s);
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ(j->id(), id);
  j->remove();
}

TEST_F(ClientReserve, ReserveWithTimeoutZeroOnAnEmptyTubeIsEmptyAtOnce) {
  auto c = make_client();
  const stopwatch sw;
  std::error_code ec;
  const auto j = c.reserve_with_timeout(0s, ec);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_FALSE(j.has_value());
  EXPECT_LT(sw.elapsed(), 500ms);
  EXPECT_FALSE(c.reserve_with_timeout(0s).has_value());  // throwing form: no exception
  EXPECT_TRUE(still_usable(c));
}

TEST_F(ClientReserve, ReserveWithTimeoutLongerThanTheReplyTimeoutDoesNotTimeOut) {
  // The reserve's own wait is added to the reply timeout: a 2 s reserve with a 500 ms reply
  // timeout must wait the 2 s and come back empty, not fail with reply_timeout.
  auto o = client_options();
  o.reply_timeout = 500ms;
  auto c = make_client(o);
  const stopwatch sw;
  std::error_code ec;
  const auto j = c.reserve_with_timeout(2s, ec);
  const auto took = sw.elapsed();
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_FALSE(j.has_value());
  EXPECT_GE(took, 1500ms);
  EXPECT_LT(took, 3500ms);
  EXPECT_TRUE(c.is_open());
  EXPECT_TRUE(still_usable(c));
}

TEST_F(ClientReserve, ReserveWithTimeoutGetsAJobPutWhileWaiting) {
  auto c = make_client();
  auto producer = make_client();
  auto later = std::async(std::launch::async, [&] {
    std::this_thread::sleep_for(500ms);
    return producer.put("late");
  });
  const stopwatch sw;
  auto j = c.reserve_with_timeout(5s);
  const job_id id = later.get();
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ(j->id(), id);
  EXPECT_GE(sw.elapsed(), 400ms);
  EXPECT_LT(sw.elapsed(), 4000ms);
  j->remove();
}

TEST_F(ClientReserve, PlainReserveHasNoReplyTimeout) {
  // A plain reserve waits as long as it takes, whatever the reply timeout.
  auto o = client_options();
  o.reply_timeout = 300ms;
  auto c = make_client(o);
  auto producer = make_client();
  auto later = std::async(std::launch::async, [&] {
    std::this_thread::sleep_for(1500ms);
    return producer.put("patience");
  });
  const stopwatch sw;
  std::error_code ec;
  auto j = c.reserve(ec);
  const job_id id = later.get();
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(j.id(), id);
  EXPECT_EQ(j.body(), "patience");
  EXPECT_GE(sw.elapsed(), 1400ms);
  // The reply timeout still applies to the commands after it.
  j.remove();
  EXPECT_TRUE(still_usable(c));
}

TEST_F(ClientReserve, DeadlineSoonOnReserveWithTimeout) {
  // ttr 2: the server keeps the last second as a safety margin, so a reserve issued while
  // holding the job is answered DEADLINE_SOON about 1 s later.
  auto c = make_client();
  const job_id id = c.put("hot", put_options{.pri = 1, .delay = 0s, .ttr = 2s});
  auto held = c.reserve_with_timeout(0s);
  ASSERT_TRUE(held.has_value());
  ASSERT_EQ(held->id(), id);
  const stopwatch sw;
  std::error_code ec;
  const auto none = c.reserve_with_timeout(3s, ec);
  EXPECT_EQ(ec, errc::deadline_soon);
  EXPECT_EQ(ec, condition::server_answer);
  EXPECT_FALSE(none.has_value());
  EXPECT_LT(sw.elapsed(), 2500ms);
  // The connection stays usable and the job is still ours: delete it in time.
  EXPECT_TRUE(c.is_open());
  held->remove();
  EXPECT_TRUE(still_usable(c));
}

TEST_F(ClientReserve, DeadlineSoonOnPlainReserveThrows) {
  auto c = make_client();
  c.put("hot", put_options{.pri = 1, .delay = 0s, .ttr = 2s});
  auto held = c.reserve();
  const stopwatch sw;
  EXPECT_TRUE(throws_errc([&] { c.reserve(); }, errc::deadline_soon));
  EXPECT_LT(sw.elapsed(), 2500ms);
  held.touch();  // DEADLINE_SOON is the moment to touch (or finish) the job
  held.remove();
  EXPECT_TRUE(still_usable(c));
}

TEST_F(ClientReserve, ReserveWhileHoldingAJobInItsSafetyMarginIsDeadlineSoonAtOnce) {
  auto c = make_client();
  c.put("hot", put_options{.pri = 1, .delay = 0s, .ttr = 1s});  // ttr 1: all margin
  auto held = c.reserve_with_timeout(0s);
  ASSERT_TRUE(held.has_value());
  const stopwatch sw;
  std::error_code ec;
  c.reserve_with_timeout(2s, ec);
  EXPECT_EQ(ec, errc::deadline_soon);
  EXPECT_LT(sw.elapsed(), 900ms);
  held->remove(ec);  // may already have timed out: either way nothing breaks
  EXPECT_TRUE(still_usable(c));
}

TEST_F(ClientReserve, ExpiredTtrReleasesTheJob) {
  auto c = make_client();
  auto watcher = make_client();
  const job_id id = c.put("slow", put_options{.pri = 1, .delay = 0s, .ttr = 1s});
  auto held = c.reserve_with_timeout(0s);
  ASSERT_TRUE(held.has_value());
  std::this_thread::sleep_for(1300ms);
  // beanstalkd 1.12 quirk (server side, seen here): a job reserved by a connection that stays
  // idle may not be timed out at all; the server notices the expiry when that connection sends
  // its next command. So the holder says something first.
  EXPECT_TRUE(still_usable(c));
  ASSERT_TRUE(eventually(
      [&] {
        std::error_code ec;
        const auto st = watcher.stats_job(id, ec);
        return !ec && st.state == "ready";
      },
      3s));
  const auto st = watcher.stats_job(id);
  EXPECT_EQ(st.timeouts, 1U);
  EXPECT_EQ(st.reserves, 1U);
  std::error_code ec;
  held->touch(ec);
  EXPECT_EQ(ec, errc::not_found);  // no longer ours
  held->release(default_priority, 0s, ec);
  EXPECT_EQ(ec, errc::not_found);
  held->bury(default_priority, ec);
  EXPECT_EQ(ec, errc::not_found);
  EXPECT_TRUE(still_usable(c));
  held->remove();  // a ready job may be deleted by anyone
}

// Regression test. beanstalkd 1.12 prints `time-left: %PRId64`, computed as
// `(deadline_at - now) / 1e9`: negative for a reserved job whose deadline passed before the
// server processed the timeout. With the quirk above that state can last ("time-left: -1",
// "-2", ...). An unsigned-only decoder answered errc::bad_stats, a protocol violation, so
// stats_job threw AND the client closed a good connection (found by this test; fixed in
// src/proto/stats.cpp by reading a negative time-left as 0).
TEST_F(ClientReserve, StatsJobOfAnOverdueReservedJob) {
  auto c = make_client();
  auto watcher = make_client();
  const job_id id = c.put("overdue", put_options{.pri = 1, .delay = 0s, .ttr = 1s});
  auto held = c.reserve_with_timeout(0s);
  ASSERT_TRUE(held.has_value());
  // Watch the job until it is 1.5 s overdue. (Frequent commands from other connections make
  // the server quirk above likely; if the server does time the job out, the test passes.)
  const stopwatch sw;
  std::error_code ec;
  std::string state;
  while (sw.elapsed() < 2500ms) {
    const auto st = watcher.stats_job(id, ec);
    if (ec) break;
    state = st.state;
    if (state == "ready") break;
    if (sw.elapsed() > 1100ms) {
      EXPECT_EQ(st.time_left, 0U);  // overdue: no time left
    }
    std::this_thread::sleep_for(20ms);
  }
  RecordProperty("last_state", state);
  EXPECT_FALSE(ec) << ec.message() << " after " << sw.elapsed().count() << " ms, last state "
                   << state << " (see the comment above)";
  EXPECT_TRUE(watcher.is_open()) << "the client closed the connection over a stats body";
  EXPECT_TRUE(still_usable(c));
}

// ---------------------------------------------------------------------------------- reserve-job

TEST_F(ClientReserve, ReserveJobTakesReadyDelayedAndBuriedJobs) {
  auto c = make_client();
  const job_id ready = c.put("ready");
  const job_id delayed = c.put("delayed", put_options{.pri = 1, .delay = 100s, .ttr = 60s});
  const job_id buried = c.put("buried", put_options{.pri = 0, .delay = 0s, .ttr = 60s});
  {
    auto j = c.reserve_job(buried);
    ASSERT_TRUE(j.has_value());
    j->bury();
    ASSERT_EQ(c.stats_job(buried).state, "buried");
  }
  for (const job_id id : {ready, delayed, buried}) {
    auto j = c.reserve_job(id);
    ASSERT_TRUE(j.has_value()) << id;
    EXPECT_EQ(j->id(), id);
    EXPECT_EQ(c.stats_job(id).state, "reserved") << id;
  }
  EXPECT_EQ(c.peek(delayed)->body, "delayed");
  for (const job_id id : {ready, delayed, buried}) c.remove(id);
}

TEST_F(ClientReserve, ReserveJobOfAMissingOrForeignJobIsEmpty) {
  auto c = make_client();
  auto other = make_client();
  const job_id id = c.put("mine");
  auto j = c.reserve_job(id);
  ASSERT_TRUE(j.has_value());
  std::error_code ec;
  EXPECT_FALSE(other.reserve_job(id, ec).has_value());  // reserved by c
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_FALSE(c.reserve_job(id).has_value());  // already reserved, even by c itself
  EXPECT_FALSE(c.reserve_job(job_id{999999999}).has_value());
  EXPECT_TRUE(still_usable(other));
  j->remove();
  EXPECT_FALSE(other.reserve_job(id).has_value());  // deleted
}

TEST_F(ClientReserve, ReserveJobIgnoresTheWatchList) {
  auto producer = make_plain_client();
  producer.use(unique_tube("unwatched"));
  const job_id id = producer.put("x");
  auto c = make_client();
  auto j = c.reserve_job(id);
  ASSERT_TRUE(j.has_value());
  j->remove();
}

// --------------------------------------------------------------------- delete / release / bury

TEST_F(ClientReserve, DeleteReadyDelayedBuriedAndReservedJobs) {
  auto c = make_client();
  const job_id ready = c.put("r");
  const job_id delayed = c.put("d", put_options{.pri = 1, .delay = 100s, .ttr = 60s});
  const job_id reserved = c.put("x", put_options{.pri = 0, .delay = 0s, .ttr = 60s});
  auto j = c.reserve_with_timeout(0s);
  ASSERT_TRUE(j.has_value());
  ASSERT_EQ(j->id(), reserved);
  const job_id buried = c.put("b");
  c.reserve_job(buried)->bury();
  for (const job_id id : {ready, delayed, reserved, buried}) {
    std::error_code ec;
    c.remove(id, ec);
    EXPECT_FALSE(ec) << id << ": " << ec.message();
    EXPECT_FALSE(c.peek(id).has_value());
  }
}

TEST_F(ClientReserve, DeleteOfAJobReservedByAnotherConnectionIsNotFound) {
  auto c = make_client();
  auto other = make_client();
  const job_id id = c.put("mine");
  auto j = c.reserve_job(id);
  ASSERT_TRUE(j.has_value());
  std::error_code ec;
  other.remove(id, ec);
  EXPECT_EQ(ec, errc::not_found);
  EXPECT_TRUE(still_usable(other));
  j->remove();
}

TEST_F(ClientReserve, DeleteOfAMissingJobIsNotFound) {
  auto c = make_client();
  std::error_code ec;
  c.remove(job_id{987654321}, ec);
  EXPECT_EQ(ec, errc::not_found);
  EXPECT_EQ(status_word(ec), "NOT_FOUND");
  EXPECT_TRUE(throws_errc([&] { c.remove(job_id{987654321}); }, errc::not_found));
  EXPECT_TRUE(still_usable(c));
}

TEST_F(ClientReserve, ReleaseMakesTheJobReadyWithTheNewPriority) {
  auto c = make_client();
  const job_id id = c.put("again", put_options{.pri = 100, .delay = 0s, .ttr = 60s});
  auto j = c.reserve();
  c.release(id, 7);
  const auto st = c.stats_job(id);
  EXPECT_EQ(st.state, "ready");
  EXPECT_EQ(st.pri, 7U);
  EXPECT_EQ(st.releases, 1U);
  EXPECT_EQ(st.reserves, 1U);
  EXPECT_EQ(c.reserve().id(), id);
  EXPECT_EQ(c.stats_job(id).reserves, 2U);
  c.remove(id);
}

TEST_F(ClientReserve, ReleaseWithDelayMakesTheJobDelayed) {
  auto c = make_client();
  const job_id id = c.put("later");
  auto j = c.reserve();
  std::error_code ec;
  c.release(id, 9, 30s, ec);
  ASSERT_FALSE(ec) << ec.message();
  const auto st = c.stats_job(id);
  EXPECT_EQ(st.state, "delayed");
  EXPECT_EQ(st.delay, 30U);
  EXPECT_EQ(st.pri, 9U);
  EXPECT_GE(st.time_left, 28U);
  EXPECT_LE(st.time_left, 30U);
  EXPECT_EQ(c.peek_delayed()->id, id);
  EXPECT_FALSE(c.reserve_with_timeout(0s).has_value());
  c.remove(id);
}

TEST_F(ClientReserve, ReleaseWithAShortDelayComesBack) {
  auto c = make_client();
  const job_id id = c.put("soon");
  c.reserve();
  c.release(id, 1, 1s);
  EXPECT_FALSE(c.reserve_with_timeout(0s).has_value());
  const stopwatch sw;
  auto j = c.reserve_with_timeout(4s);
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ(j->id(), id);
  EXPECT_GE(sw.elapsed(), 300ms);
  j->remove();
}

TEST_F(ClientReserve, ReleaseOfAJobNotReservedHereIsNotFound) {
  auto c = make_client();
  auto other = make_client();
  const job_id ready = c.put("ready");
  std::error_code ec;
  c.release(ready, 1, 0s, ec);
  EXPECT_EQ(ec, errc::not_found);
  auto j = c.reserve_job(ready);
  other.release(ready, 1, 0s, ec);
  EXPECT_EQ(ec, errc::not_found);
  c.release(job_id{999999999}, 1, 0s, ec);
  EXPECT_EQ(ec, errc::not_found);
  EXPECT_TRUE(throws_errc([&] { c.release(job_id{999999999}); }, errc::not_found));
  EXPECT_TRUE(still_usable(c));
  EXPECT_TRUE(still_usable(other));
  j->remove();
}

TEST_F(ClientReserve, BuryThenKickJob) {
  auto c = make_client();
  const job_id id = c.put("bury me", put_options{.pri = 50, .delay = 0s, .ttr = 60s});
  c.reserve();
  c.bury(id, 20);
  auto st = c.stats_job(id);
  EXPECT_EQ(st.state, "buried");
  EXPECT_EQ(st.pri, 20U);
  EXPECT_EQ(st.buries, 1U);
  EXPECT_EQ(c.peek_buried()->id, id);
  EXPECT_FALSE(c.reserve_with_timeout(0s).has_value());
  c.kick_job(id);
  st = c.stats_job(id);
  EXPECT_EQ(st.state, "ready");
  EXPECT_EQ(st.kicks, 1U);
  EXPECT_EQ(c.reserve().id(), id);
  c.remove(id);
}

TEST_F(ClientReserve, BuryOfAJobNotReservedHereIsNotFound) {
  auto c = make_client();
  const job_id id = c.put("x");
  std::error_code ec;
  c.bury(id, 1, ec);
  EXPECT_EQ(ec, errc::not_found);
  c.bury(job_id{999999999}, 1, ec);
  EXPECT_EQ(ec, errc::not_found);
  EXPECT_TRUE(throws_errc([&] { c.bury(id); }, errc::not_found));
  EXPECT_TRUE(still_usable(c));
}

// --------------------------------------------------------------------------------------- touch

TEST_F(ClientReserve, TouchRestartsTheTimeToRun) {
  // ttr 3: reserve, touch after 1.5 s, and at 3.5 s the job is still reserved; without the
  // touch it would have timed out at 3 s.
  auto c = make_client();
  auto watcher = make_client();
  const job_id id = c.put("long", put_options{.pri = 1, .delay = 0s, .ttr = 3s});
  auto j = c.reserve();
  std::this_thread::sleep_for(1500ms);
  c.touch(id);
  EXPECT_GE(watcher.stats_job(id).time_left, 2U);
  std::this_thread::sleep_for(2000ms);
  const auto st = watcher.stats_job(id);
  EXPECT_EQ(st.state, "reserved");
  EXPECT_EQ(st.timeouts, 0U);
  j.remove();
}

TEST_F(ClientReserve, TouchOfAJobNotReservedHereIsNotFound) {
  auto c = make_client();
  auto other = make_client();
  const job_id id = c.put("x");
  std::error_code ec;
  c.touch(id, ec);  // ready, not reserved
  EXPECT_EQ(ec, errc::not_found);
  auto j = c.reserve();
  other.touch(id, ec);  // reserved by c
  EXPECT_EQ(ec, errc::not_found);
  c.touch(job_id{999999999}, ec);
  EXPECT_EQ(ec, errc::not_found);
  EXPECT_TRUE(throws_errc([&] { other.touch(id); }, errc::not_found));
  c.touch(id, ec);
  EXPECT_FALSE(ec);
  EXPECT_TRUE(still_usable(other));
  j.remove();
}

// ---------------------------------------------------------------------------------- job_handle

TEST_F(ClientReserve, JobHandleActionsThrowingForm) {
  auto c = make_client();
  const job_id id = c.put("handled", put_options{.pri = 10, .delay = 0s, .ttr = 60s});
  auto j = c.reserve();
  j.touch();
  j.release(3, 0s);
  EXPECT_EQ(c.stats_job(id).pri, 3U);
  j = c.reserve();
  j.release(4, 20s);
  EXPECT_EQ(c.stats_job(id).state, "delayed");
  j = *c.reserve_job(id);
  j.bury(2);
  EXPECT_EQ(c.stats_job(id).state, "buried");
  EXPECT_EQ(c.stats_job(id).pri, 2U);
  j = *c.reserve_job(id);
  j.bury();
  EXPECT_EQ(c.stats_job(id).pri, default_priority);
  j = *c.reserve_job(id);
  j.release();
  const auto st = c.stats_job(id);
  EXPECT_EQ(st.state, "ready");
  EXPECT_EQ(st.pri, default_priority);
  j = c.reserve();
  j.remove();
  EXPECT_TRUE(throws_errc([&] { j.remove(); }, errc::not_found));
  EXPECT_TRUE(throws_errc([&] { j.touch(); }, errc::not_found));
  EXPECT_TRUE(throws_errc([&] { j.release(); }, errc::not_found));
  EXPECT_TRUE(throws_errc([&] { j.bury(); }, errc::not_found));
}

TEST_F(ClientReserve, JobHandleActionsErrorCodeForm) {
  auto c = make_client();
  const job_id id = c.put("handled");
  auto j = c.reserve();
  std::error_code ec = make_error_code(errc::internal_error);  // must be cleared on success
  j.touch(ec);
  EXPECT_FALSE(ec);
  j.bury(5, ec);
  EXPECT_FALSE(ec);
  j.touch(ec);
  EXPECT_EQ(ec, errc::not_found);  // buried, not reserved
  j = *c.reserve_job(id);
  j.release(6, 0s, ec);
  EXPECT_FALSE(ec);
  j = c.reserve();
  j.remove(ec);
  EXPECT_FALSE(ec);
  j.remove(ec);
  EXPECT_EQ(ec, errc::not_found);
  j.release(6, 0s, ec);
  EXPECT_EQ(ec, errc::not_found);
  j.bury(6, ec);
  EXPECT_EQ(ec, errc::not_found);
  EXPECT_TRUE(still_usable(c));
}

// A handle acts through the connection that reserved its job, wherever the client holding that
// connection was moved to (it used to point at the moved-from client object).
TEST_F(ClientReserve, JobHandleFollowsItsClientAcrossAMove) {
  auto c = make_client();
  const job_id first = c.put("moved");
  const job_id second = c.put("assigned");
  auto j = c.reserve();
  ASSERT_EQ(j.id(), first);
  client moved(std::move(c));
  j.remove();
  std::error_code ec;
  moved.stats_job(first, ec);
  EXPECT_EQ(ec, errc::not_found) << "deleted through the moved connection";

  auto k = moved.reserve();
  ASSERT_EQ(k.id(), second);
  client assigned(client_options());
  assigned = std::move(moved);
  k.touch();
  k.bury(7);
  EXPECT_EQ(assigned.stats_job(second).state, "buried");
  assigned.kick_job(second);
  assigned.remove(second);
}

// A handle whose client is gone fails with `errc::not_connected`, as on a closed client (the
// server released the job when the connection closed).
TEST_F(ClientReserve, JobHandleOutlivingItsClientIsNotConnected) {
  std::optional<job_handle> j;
  job_id id;
  {
    auto c = make_client();
    id = c.put("orphan");
    j = c.reserve();
  }
  std::error_code ec;
  j->remove(ec);
  EXPECT_EQ(ec, errc::not_connected);
  EXPECT_TRUE(throws_errc([&] { j->touch(); }, errc::not_connected));
  auto other = make_client();
  auto k = other.reserve_with_timeout(1s);
  ASSERT_TRUE(k.has_value());
  EXPECT_EQ(k->id(), id) << "the server released the job";

  // The same when the handle's client is assigned another client's connection.
  other = make_client();
  k->release(default_priority, 0s, ec);
  EXPECT_EQ(ec, errc::not_connected);
  other.remove(id);
}

// ----------------------------------------------------------------------------- watch / ignore

TEST_F(ClientReserve, WatchAndIgnoreCountTheWatchList) {
  auto c = make_plain_client();
  EXPECT_EQ(c.list_tubes_watched(), std::vector<std::string>{"default"});
  EXPECT_EQ(c.watch(tube()), 2U);
  EXPECT_EQ(c.watch(tube()), 2U);  // already watched
  const auto other = unique_tube("other");
  EXPECT_EQ(c.watch(other), 3U);
  EXPECT_EQ(c.list_tubes_watched(),
            (std::vector<std::string>{"default", tube().str(), other.str()}));
  EXPECT_EQ(c.ignore("default"), 2U);
  std::error_code ec;
  EXPECT_EQ(c.ignore(unique_tube("never.watched"), ec), 2U);  // not watched: just the count
  EXPECT_FALSE(ec);
  EXPECT_EQ(c.ignore(other, ec), 1U);
  EXPECT_EQ(c.list_tubes_watched(), std::vector<std::string>{tube().str()});
}

TEST_F(ClientReserve, IgnoringTheLastWatchedTubeIsNotIgnored) {
  auto c = make_client();
  std::error_code ec;
  const auto n = c.ignore(tube(), ec);
  EXPECT_EQ(ec, errc::not_ignored);
  EXPECT_EQ(status_word(ec), "NOT_IGNORED");
  EXPECT_EQ(n, 0U);
  EXPECT_TRUE(throws_errc([&] { c.ignore(tube()); }, errc::not_ignored));
  EXPECT_TRUE(still_usable(c));
  EXPECT_EQ(c.list_tubes_watched(), std::vector<std::string>{tube().str()});
}

TEST_F(ClientReserve, WaitingReserveShowsInStats) {
  auto c = make_client();
  auto observer = make_client();
  auto waiting = std::async(std::launch::async, [&] { return c.reserve_with_timeout(5s); });
  EXPECT_TRUE(eventually([&] { return observer.stats_tube(tube()).current_waiting == 1; }));
  EXPECT_GE(observer.stats().current_waiting, 1U);
  const job_id id = observer.put("wake up");
  auto j = waiting.get();
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ(j->id(), id);
  EXPECT_EQ(observer.stats_tube(tube()).current_waiting, 0U);
  j->remove();
}

}  // namespace
}  // namespace beanpole::testing
