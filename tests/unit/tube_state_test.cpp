// The client's tube record and the commands that bring a connection to it.
#include "conn/tube_state.hpp"

#include <gtest/gtest.h>

namespace {

using beanpole::tube_name;
using beanpole::conn::applied_tubes;
using beanpole::conn::tube_command;
using beanpole::conn::tube_state;
namespace proto = beanpole::proto;

std::string describe(const std::vector<tube_command>& cmds) {
  std::string out;
  for (const auto& c : cmds) {
    std::visit([&](const auto& cmd) { (void)cmd.encode(out); }, c);
  }
  return out;
}

TEST(TubeState, ChangesAreRecordedAndNoOpsAnsweredLocally) {
  tube_state s;
  EXPECT_FALSE(s.use(tube_name("a")));
  auto again = s.use(tube_name("a"));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->kind, proto::reply_kind::using_tube);
  EXPECT_EQ(again->body, "a");
  EXPECT_FALSE(s.watch(tube_name("b")));
  EXPECT_EQ(s.watch(tube_name("b"))->number, 2u);
  EXPECT_EQ(s.ignore(tube_name("zzz"))->number, 2u);  // not watched: nothing to send
  EXPECT_FALSE(s.ignore(tube_name()));
  EXPECT_EQ(s.ignore(tube_name("b"))->kind, proto::reply_kind::not_ignored);  // the last one
  EXPECT_EQ(s.watched(), std::vector<tube_name>{tube_name("b")});
}

TEST(TubeState, SyncWatchesBeforeIgnoringAndUsesOnlyWhenAsked) {
  tube_state s;
  s.use(tube_name("jobs"));
  s.watch(tube_name("w1"));
  s.ignore(tube_name());
  applied_tubes fresh;
  std::vector<tube_command> cmds;
  s.sync(fresh, &s.used(), cmds);
  EXPECT_EQ(describe(cmds), "use jobs\r\nwatch w1\r\nignore default\r\n");
  cmds.clear();
  s.sync(fresh, &s.used(), cmds);
  EXPECT_TRUE(cmds.empty());  // already in step

  applied_tubes lane;  // a reserve connection: the used tube does not matter there
  s.sync(lane, nullptr, cmds);
  EXPECT_EQ(describe(cmds), "watch w1\r\nignore default\r\n");
  s.watch(tube_name("w2"));
  cmds.clear();
  s.sync(lane, nullptr, cmds);
  EXPECT_EQ(describe(cmds), "watch w2\r\n");
}

}  // namespace
