// A pool server's health machine.
#include "pool/health.hpp"

#include <gtest/gtest.h>

namespace {

using beanpole::server_state;
using beanpole::pool_rules::health_event;
using beanpole::pool_rules::health_machine;

TEST(PoolHealth, StartsDownAndComesUpOnConnect) {
  health_machine h;
  EXPECT_EQ(h.state(), server_state::down);
  EXPECT_FALSE(h.takes_puts());
  EXPECT_TRUE(h.on(health_event::connected));
  EXPECT_EQ(h.state(), server_state::up);
  EXPECT_TRUE(h.takes_puts());
  EXPECT_FALSE(h.on(health_event::connected));  // no change, no event
}

TEST(PoolHealth, DropReconnectAndRejoin) {
  health_machine h;
  h.on(health_event::connected);
  EXPECT_TRUE(h.on(health_event::disconnected));
  EXPECT_EQ(h.state(), server_state::reconnecting);
  EXPECT_FALSE(h.connected());
  EXPECT_FALSE(h.on(health_event::reconnecting));
  EXPECT_TRUE(h.on(health_event::connected));
  EXPECT_EQ(h.state(), server_state::up);
}

TEST(PoolHealth, GivingUpOrAFailedFirstConnectIsDown) {
  health_machine h;
  h.on(health_event::connect_failed);
  EXPECT_EQ(h.state(), server_state::down);
  h.on(health_event::reconnecting);
  EXPECT_EQ(h.state(), server_state::reconnecting);
  h.on(health_event::gave_up);
  EXPECT_EQ(h.state(), server_state::down);
}

TEST(PoolHealth, ServerDrainingEndsWithANewConnection) {
  health_machine h;
  h.on(health_event::connected);
  EXPECT_TRUE(h.on(health_event::answered_draining));
  EXPECT_EQ(h.state(), server_state::draining);
  EXPECT_FALSE(h.takes_puts());
  EXPECT_TRUE(h.connected());  // still reserved from
  h.on(health_event::disconnected);
  EXPECT_EQ(h.state(), server_state::reconnecting);
  h.on(health_event::connected);  // only a restart ends drain mode, and it drops the connection
  EXPECT_EQ(h.state(), server_state::up);
}

TEST(PoolHealth, UserDrainingLastsUntilCancelled) {
  health_machine h;
  h.on(health_event::connected);
  h.on(health_event::drain_requested);
  h.on(health_event::disconnected);
  h.on(health_event::connected);
  EXPECT_EQ(h.state(), server_state::draining);
  EXPECT_TRUE(h.on(health_event::drain_cancelled));
  EXPECT_EQ(h.state(), server_state::up);
}

}  // namespace
