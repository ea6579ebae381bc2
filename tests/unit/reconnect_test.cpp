// The reconnect machine, driven without sockets.
#include "conn/reconnect.hpp"

#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;
using beanpole::conn::reconnect_machine;
using beanpole::conn::reconnect_policy;
using state = reconnect_machine::state;
const reconnect_machine::time_point t0{};

reconnect_policy policy(unsigned max_attempts = 0, std::chrono::milliseconds give_up = 0ms) {
  reconnect_policy p;
  p.enabled = true;
  p.wait = beanpole::backoff{100ms, 1000ms, 0.0};
  p.max_attempts = max_attempts;
  p.give_up_after = give_up;
  return p;
}

TEST(Reconnect, WithoutReconnectAFailureGivesUp) {
  reconnect_machine m(reconnect_policy{});
  EXPECT_TRUE(m.start());
  EXPECT_FALSE(m.start());  // already under way
  EXPECT_FALSE(m.on_failed(t0, 0.0).wait);
  EXPECT_EQ(m.current(), state::idle);
  EXPECT_FALSE(m.may_wait());  // commands fail at once
}

TEST(Reconnect, BacksOffAndTellsAReconnectFromTheFirstConnect) {
  reconnect_machine m(policy());
  EXPECT_TRUE(m.start());
  EXPECT_FALSE(m.on_connected());
  auto d = m.on_failed(t0, 0.0);
  EXPECT_EQ(d.wait, 100ms);
  EXPECT_EQ(d.attempt, 1u);
  EXPECT_TRUE(m.may_wait());
  EXPECT_TRUE(m.on_retry_due());
  EXPECT_EQ(m.on_failed(t0 + 100ms, 0.0).wait, 200ms);
  EXPECT_TRUE(m.on_retry_due());
  EXPECT_TRUE(m.on_connected());                     // a reconnect
  EXPECT_EQ(m.on_failed(t0 + 5s, 0.0).wait, 100ms);  // the backoff starts over
}

// Defect (issue 11.3): reconnect_options had no give-up bound.
TEST(Reconnect, GivesUpAfterMaxAttempts) {
  reconnect_machine m(policy(/*max_attempts=*/2));
  m.start();
  EXPECT_TRUE(m.on_failed(t0, 0.0).wait);
  m.on_retry_due();
  EXPECT_TRUE(m.on_failed(t0, 0.0).wait);
  m.on_retry_due();
  EXPECT_FALSE(m.on_failed(t0, 0.0).wait);
  EXPECT_EQ(m.current(), state::idle);
  EXPECT_TRUE(m.start());  // async_connect again starts over
  EXPECT_TRUE(m.on_failed(t0, 0.0).wait);
}

TEST(Reconnect, GivesUpAfterTheDeadlineCountedFromTheFirstFailure) {
  reconnect_machine m(policy(0, /*give_up=*/1000ms));
  m.start();
  m.on_connected();
  EXPECT_TRUE(m.on_failed(t0, 0.0).wait);
  m.on_retry_due();
  EXPECT_TRUE(m.on_failed(t0 + 999ms, 0.0).wait);
  m.on_retry_due();
  EXPECT_FALSE(m.on_failed(t0 + 1000ms, 0.0).wait);
}

TEST(Reconnect, ClosedOpensNothing) {
  reconnect_machine m(policy());
  m.start();
  m.on_failed(t0, 0.0);
  m.close();
  EXPECT_FALSE(m.on_retry_due());
  EXPECT_FALSE(m.start());
  EXPECT_FALSE(m.on_failed(t0, 0.0).wait);
  EXPECT_EQ(m.current(), state::closed);
}

}  // namespace
