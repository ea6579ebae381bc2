#include "beanpole/backoff.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace {

using beanpole::backoff;
using std::chrono::milliseconds;

TEST(Backoff, DoublesFromInitialUpToTheCap) {
  const backoff b{milliseconds{100}, milliseconds{1000}, 0.0};
  EXPECT_EQ(b.delay(0, 0.0), milliseconds{100});  // 0 counts as the first attempt
  EXPECT_EQ(b.delay(1, 0.0), milliseconds{100});
  EXPECT_EQ(b.delay(2, 0.0), milliseconds{200});
  EXPECT_EQ(b.delay(4, 0.0), milliseconds{800});
  EXPECT_EQ(b.delay(5, 0.0), milliseconds{1000});
  EXPECT_EQ(b.delay(std::numeric_limits<std::uint64_t>::max(), 0.0), milliseconds{1000});
}

TEST(Backoff, JitterOnlyShortensAndIsClamped) {
  const backoff b{milliseconds{1000}, milliseconds{1000}, 0.5};
  EXPECT_EQ(b.delay(1, 0.0), milliseconds{1000});
  EXPECT_EQ(b.delay(1, 1.0), milliseconds{500});
  EXPECT_EQ(b.delay(1, 7.0), milliseconds{500});  // u clamped to 1
  EXPECT_EQ(b.delay(1, -1.0), milliseconds{1000});
  EXPECT_EQ(b.delay(1, std::nan("")), milliseconds{1000});
  const backoff wild{milliseconds{1000}, milliseconds{1000}, 3.0};  // jitter clamped to 1
  EXPECT_EQ(wild.delay(1, 1.0), milliseconds{0});
}

TEST(Backoff, ZeroInitialMeansNoWaitAndNegativeCapsAtZero) {
  EXPECT_EQ((backoff{milliseconds{0}, milliseconds{1000}, 0.5}.delay(9, 0.3)), milliseconds{0});
  EXPECT_EQ((backoff{milliseconds{100}, milliseconds{-5}, 0.0}.delay(3, 0.0)), milliseconds{0});
}

}  // namespace
