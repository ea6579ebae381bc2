// Placement of puts in a pool: round-robin, weighted, by tube (rendezvous hashing).
#include "pool/placement.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

namespace {

using beanpole::placement_policy;
using beanpole::pool_rules::placement;
using beanpole::pool_rules::placement_server;

std::vector<placement_server> servers(std::size_t n) {
  std::vector<placement_server> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back({"127.0.0.1:" + std::to_string(11300 + i), 1});
  return out;
}

std::string tube_of(int i) {
  return "tube-" + std::to_string(i);
}

TEST(PoolPlacement, RoundRobinTakesEachServerInTurn) {
  placement p(placement_policy::round_robin, servers(3));
  const std::vector<bool> all(3, true);
  std::vector<std::size_t> got;
  for (int i = 0; i < 6; ++i) got.push_back(*p.choose("t", all));
  EXPECT_EQ(got, (std::vector<std::size_t>{0, 1, 2, 0, 1, 2}));
}

TEST(PoolPlacement, TheStartStaggersTheRotation) {
  placement p(placement_policy::round_robin, servers(3), 4);
  const std::vector<bool> all(3, true);
  EXPECT_EQ(*p.choose("t", all), 1u);
  EXPECT_EQ(*p.choose("t", all), 2u);
  auto list = servers(2);
  list[0].weight = 2;
  placement w(placement_policy::weighted, list, 1);  // one pick skipped: 0, [1, 0], 0, 1, 0...
  EXPECT_EQ(*w.choose("t", {true, true}), 1u);
  EXPECT_EQ(*w.choose("t", {true, true}), 0u);
}

TEST(PoolPlacement, RoundRobinSkipsServersThatCannotTakePuts) {
  placement p(placement_policy::round_robin, servers(3));
  const std::vector<bool> middle_down{true, false, true};
  std::vector<std::size_t> got;
  for (int i = 0; i < 4; ++i) got.push_back(*p.choose("t", middle_down));
  EXPECT_EQ(got, (std::vector<std::size_t>{0, 2, 0, 2}));
  EXPECT_FALSE(p.choose("t", std::vector<bool>(3, false)).has_value());
}

TEST(PoolPlacement, WeightedGivesEachServerItsShareInterleaved) {
  auto list = servers(3);
  list[0].weight = 3;
  list[1].weight = 1;
  list[2].weight = 0;  // counts as 1
  placement p(placement_policy::weighted, list);
  const std::vector<bool> all(3, true);
  std::map<std::size_t, int> count;
  std::vector<std::size_t> first5;
  for (int i = 0; i < 500; ++i) {
    const auto s = *p.choose("t", all);
    ++count[s];
    if (i < 5) first5.push_back(s);
  }
  EXPECT_EQ(count[0], 300);
  EXPECT_EQ(count[1], 100);
  EXPECT_EQ(count[2], 100);
  EXPECT_EQ(first5, (std::vector<std::size_t>{0, 1, 0, 2, 0}));  // smooth: never 0,0,0 in a row
}

TEST(PoolPlacement, ByTubeKeepsATubeOnOneServerWhateverTheOrderOfTheList) {
  auto list = servers(3);
  placement p(placement_policy::by_tube, list);
  std::reverse(list.begin(), list.end());
  placement reversed(placement_policy::by_tube, list);
  const std::vector<bool> all(3, true);
  for (int i = 0; i < 200; ++i) {
    const auto a = *p.choose(tube_of(i), all);
    EXPECT_EQ(*p.choose(tube_of(i), all), a);
    EXPECT_EQ(2 - *reversed.choose(tube_of(i), all), a) << tube_of(i);
  }
}

TEST(PoolPlacement, ByTubeSpreadsTubesAndMovesAboutAQuarterWhenAFourthServerJoins) {
  placement three(placement_policy::by_tube, servers(3));
  placement four(placement_policy::by_tube, servers(4));
  const int tubes = 4000;
  int moved = 0;
  std::map<std::size_t, int> per_server;
  for (int i = 0; i < tubes; ++i) {
    const auto before = *three.choose(tube_of(i), std::vector<bool>(3, true));
    const auto after = *four.choose(tube_of(i), std::vector<bool>(4, true));
    ++per_server[after];
    if (after != before) {
      ++moved;
      EXPECT_EQ(after, 3u) << "a tube moved between old servers: " << tube_of(i);
    }
  }
  EXPECT_NEAR(moved, tubes / 4, tubes / 20);  // 25% +- 5 points
  for (const auto& [server, n] : per_server) EXPECT_NEAR(n, tubes / 4, tubes / 20) << server;
}

TEST(PoolPlacement, ByTubeMovesOnlyTheTubesOfAServerThatGoesDown) {
  placement p(placement_policy::by_tube, servers(3));
  for (int i = 0; i < 300; ++i) {
    const auto home = *p.choose(tube_of(i), std::vector<bool>(3, true));
    std::vector<bool> one_down(3, true);
    one_down[(home + 1) % 3] = false;  // another server goes down: this tube stays
    EXPECT_EQ(*p.choose(tube_of(i), one_down), home);
    one_down = std::vector<bool>(3, true);
    one_down[home] = false;  // its own server goes down: it goes elsewhere, not nowhere
    const auto fallback = p.choose(tube_of(i), one_down);
    ASSERT_TRUE(fallback.has_value());
    EXPECT_NE(*fallback, home);
  }
}

TEST(PoolPlacement, ByTubeFollowsTheWeights) {
  auto list = servers(2);
  list[0].weight = 3;
  placement p(placement_policy::by_tube, list);
  int on_heavy = 0;
  for (int i = 0; i < 4000; ++i) on_heavy += *p.choose(tube_of(i), {true, true}) == 0 ? 1 : 0;
  EXPECT_NEAR(on_heavy, 3000, 200);
}

TEST(PoolPlacement, StableHashIsFixedAcrossRuns) {
  // Another process (another CLI run) must place a tube on the same server.
  EXPECT_EQ(beanpole::pool_rules::stable_hash("a", "bc"),
            beanpole::pool_rules::stable_hash("a", "bc"));
  EXPECT_NE(beanpole::pool_rules::stable_hash("ab", "c"),
            beanpole::pool_rules::stable_hash("a", "bc"));
}

}  // namespace
