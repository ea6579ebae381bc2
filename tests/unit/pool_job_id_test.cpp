// A pool job's text form, ADDR/ID.
#include <gtest/gtest.h>

#include "beanpole/error.hpp"
#include "beanpole/pool_types.hpp"

namespace {

using beanpole::job_id;
using beanpole::pool_job_id;

TEST(PoolJobId, FormatsAndParsesBack) {
  const pool_job_id j{"127.0.0.1:11300", job_id{42}};
  EXPECT_EQ(j.to_string(), "127.0.0.1:11300/42");
  pool_job_id back;
  ASSERT_FALSE(pool_job_id::parse(j.to_string(), back));
  EXPECT_EQ(back, j);
}

TEST(PoolJobId, TheAddressIsKeptExactlyAsGivenAndTheLastSlashSplits) {
  pool_job_id j;
  ASSERT_FALSE(pool_job_id::parse("localhost/7", j));
  EXPECT_EQ(j.server, "localhost");
  ASSERT_FALSE(pool_job_id::parse("unix:/tmp/b s/beanstalkd.sock/18446744073709551615", j));
  EXPECT_EQ(j.server, "unix:/tmp/b s/beanstalkd.sock");
  EXPECT_EQ(j.id, job_id{18446744073709551615ull});
  ASSERT_FALSE(pool_job_id::parse("[::1]:11300/3", j));
  EXPECT_EQ(j.server, "[::1]:11300");
}

TEST(PoolJobId, RefusesWhatIsNotAddrSlashId) {
  const pool_job_id before{"kept", job_id{1}};
  for (const char* bad : {"42", "", "/42", "host/", "host/0", "host/-1", "host/+1", "host/ 1",
                          "host/1x", "host/18446744073709551616", "host/4/"}) {
    pool_job_id j = before;
    EXPECT_EQ(pool_job_id::parse(bad, j), beanpole::errc::invalid_address) << bad;
    EXPECT_EQ(j, before) << bad;
  }
}

TEST(PoolJobId, PolicyAndStateNames) {
  EXPECT_EQ(to_string(beanpole::placement_policy::by_tube), "tube");
  EXPECT_EQ(to_string(beanpole::placement_policy::round_robin), "round-robin");
  EXPECT_EQ(to_string(beanpole::server_state::reconnecting), "reconnecting");
}

}  // namespace
