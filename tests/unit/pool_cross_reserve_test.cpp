// One reserve across the servers of a pool: sweeps, waits, fairness, never more than one
// reserve out per waiter.
#include "pool/cross_reserve.hpp"

#include <gtest/gtest.h>

#include <ostream>

namespace beanpole::pool_rules {
std::ostream& operator<<(std::ostream& os, const reserve_step& s) {
  static constexpr const char* names[] = {"try_now", "wait", "pause", "timed_out"};
  return os << names[static_cast<int>(s.what)] << "(server " << s.server << ", " << s.wait.count()
            << " ms)";
}
}  // namespace beanpole::pool_rules

namespace {

using beanpole::pool_rules::cross_reserve;
using beanpole::pool_rules::release_on_arrival;
using beanpole::pool_rules::reserve_step;
using kind = reserve_step::kind;
using std::chrono::milliseconds;
using std::chrono::seconds;

const std::vector<bool> all3(3, true);

TEST(PoolCrossReserve, SweepsEveryServerFromTheFirstThenWaitsOnOne) {
  cross_reserve r(3, 1, seconds{1});
  EXPECT_EQ(r.next(all3, std::nullopt), (reserve_step{kind::try_now, 1, {}}));
  EXPECT_EQ(r.next(all3, std::nullopt), (reserve_step{kind::try_now, 2, {}}));
  EXPECT_EQ(r.next(all3, std::nullopt), (reserve_step{kind::try_now, 0, {}}));
  EXPECT_EQ(r.next(all3, std::nullopt), (reserve_step{kind::wait, 1, seconds{1}}));
  // The wait came back empty: a new sweep, then a wait on the next server.
  EXPECT_EQ(r.next(all3, std::nullopt).what, kind::try_now);
  EXPECT_EQ(r.next(all3, std::nullopt).what, kind::try_now);
  EXPECT_EQ(r.next(all3, std::nullopt).what, kind::try_now);
  EXPECT_EQ(r.next(all3, std::nullopt), (reserve_step{kind::wait, 2, seconds{1}}));
}

TEST(PoolCrossReserve, SkipsServersThatCannotBeAsked) {
  cross_reserve r(3, 0, seconds{2});
  const std::vector<bool> only2{false, false, true};
  EXPECT_EQ(r.next(only2, std::nullopt), (reserve_step{kind::try_now, 2, {}}));
  EXPECT_EQ(r.next(only2, std::nullopt), (reserve_step{kind::wait, 2, seconds{2}}));
  cross_reserve none(3, 0, seconds{2});
  EXPECT_EQ(none.next(std::vector<bool>(3, false), std::nullopt),
            (reserve_step{kind::pause, 0, seconds{2}}));
}

TEST(PoolCrossReserve, ZeroTimeoutLooksEverywhereOnceAndEnds) {
  cross_reserve r(3, 0, seconds{1});
  for (int i = 0; i < 3; ++i) EXPECT_EQ(r.next(all3, milliseconds{0}).what, kind::try_now);
  EXPECT_EQ(r.next(all3, milliseconds{0}).what, kind::timed_out);
}

TEST(PoolCrossReserve, NeverWaitsPastTheDeadline) {
  cross_reserve r(2, 0, seconds{5});
  const std::vector<bool> all2(2, true);
  r.next(all2, milliseconds{2500});
  r.next(all2, milliseconds{2500});
  EXPECT_EQ(r.next(all2, milliseconds{2500}), (reserve_step{kind::wait, 0, seconds{2}}));
  r.next(all2, milliseconds{400});
  r.next(all2, milliseconds{400});
  // Less than a second left: beanstalkd cannot wait that little, so the waiter pauses for the
  // rest and then has one last look.
  EXPECT_EQ(r.next(all2, milliseconds{400}), (reserve_step{kind::pause, 0, milliseconds{400}}));
  EXPECT_EQ(r.next(all2, milliseconds{0}).what, kind::try_now);
  EXPECT_EQ(r.next(all2, milliseconds{0}).what, kind::try_now);
  EXPECT_EQ(r.next(all2, milliseconds{0}).what, kind::timed_out);
}

TEST(PoolCrossReserve, RotatingTheFirstServerSharesTheJobsOfBusyServers) {
  // Every server has jobs: the first server of a sweep answers. The pool rotates it per
  // reserve, so over N reserves each server gives N/servers jobs: none starves.
  std::vector<int> taken(3, 0);
  for (std::size_t n = 0; n < 300; ++n) {
    cross_reserve r(3, n, seconds{1});
    const auto step = r.next(all3, std::nullopt);
    ASSERT_EQ(step.what, kind::try_now);
    ++taken[step.server];
  }
  EXPECT_EQ(taken, (std::vector<int>{100, 100, 100}));
}

TEST(PoolCrossReserve, OneStepAtATimeSoOneWaiterHoldsAtMostOneReserve) {
  // The machine hands out a step only when asked again, which the driver does once the previous
  // step's reply is in: a waiter never has two reserves out, so it cannot receive two jobs.
  cross_reserve r(3, 0, seconds{1});
  int steps = 0;
  while (r.next(all3, milliseconds{0}).what != kind::timed_out) ++steps;
  EXPECT_EQ(steps, 3);
}

TEST(PoolCrossReserve, AJobForAWaiterThatWentAwayIsReleased) {
  EXPECT_TRUE(release_on_arrival(false));
  EXPECT_FALSE(release_on_arrival(true));
}

}  // namespace
