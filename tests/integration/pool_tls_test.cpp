// The pool over TLS: two real beanstalkd servers, each behind its own Debian stunnel4 that
// requires a client certificate, addressed as tls:// endpoints. Issue 12.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "beanpole/client.hpp"
#include "beanpole/pool.hpp"
#include "beanstalkd_server.hpp"
#include "server_test.hpp"
#include "tls_terminator.hpp"

namespace beanpole::testing {
namespace {

using namespace std::chrono_literals;

class pool_tls : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 2; ++i) {
      servers_.push_back(std::make_unique<beanstalkd_server>());
      terminators_.push_back(
          std::make_unique<tls_terminator>(certs_, servers_.back()->port(), true));
    }
  }

  std::vector<pool_server> tls_servers() const {
    std::vector<pool_server> out;
    for (const auto& t : terminators_) {
      out.push_back({t->tls_endpoint(certs_.with_client_certificate()), {}, 1});
    }
    return out;
  }

  static pool_options options() {
    pool_options o;
    o.placement = placement_policy::round_robin;
    o.client.connect_timeout = 10s;  // a TLS connect on a loaded machine can take over 2 s
    o.client.reply_timeout = 5s;
    return o;
  }

  /// The jobs ready in `tube` on server `i`, asked of it directly (plain, behind the terminator).
  std::uint64_t ready_in(std::size_t i, const tube_name& tube) {
    client c(servers_[i]->endpoint(), server_test::client_options());
    try {
      return c.stats_tube(tube).current_jobs_ready;
    } catch (const error&) {
      return 0;  // NOT_FOUND: no such tube there
    }
  }

  test_certificates certs_;
  std::vector<std::unique_ptr<beanstalkd_server>> servers_;
  std::vector<std::unique_ptr<tls_terminator>> terminators_;
};

TEST_F(pool_tls, put_reserve_delete_across_two_tls_servers) {
  const auto servers = tls_servers();
  pool p(servers, options());
  const tube_name tube("pool.tls");
  std::map<std::string, int> per_server;
  for (int i = 0; i < 20; ++i) ++per_server[p.put(tube, "job " + std::to_string(i)).server];
  ASSERT_EQ(per_server.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    const std::string name = servers[i].address.to_string();
    EXPECT_EQ(per_server[name], 10) << name;
    EXPECT_EQ(ready_in(i, tube), 10u);
  }

  p.watch(tube);
  p.ignore(tube_name("default"));
  std::set<std::string> bodies;
  std::set<std::string> from;
  for (int i = 0; i < 20; ++i) {
    auto job = p.reserve_with_timeout(5s);
    ASSERT_TRUE(job.has_value()) << "after " << i << " jobs";
    bodies.insert(job->body);
    from.insert(job->id.server);
    p.remove(job->id);
  }
  EXPECT_EQ(bodies.size(), 20u);
  EXPECT_EQ(from.size(), 2u);
  EXPECT_FALSE(p.reserve_with_timeout(0s).has_value());
  for (std::size_t i = 0; i < 2; ++i) EXPECT_EQ(ready_in(i, tube), 0u);
}

TEST_F(pool_tls, a_server_without_the_client_certificate_is_reported_down_not_hung) {
  // One server's terminator refuses the pool (no client certificate): the pool comes up on the
  // other and says why the first is down.
  std::vector<pool_server> servers = tls_servers();
  servers[0].address = terminators_[0]->tls_endpoint(certs_.trusting());
  const auto start = std::chrono::steady_clock::now();
  pool p(servers, options());
  EXPECT_LT(std::chrono::steady_clock::now() - start, options().client.connect_timeout + 2s);
  const tube_name tube("pool.tls.half");
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(p.put(tube, "job").server, servers[1].address.to_string());
  }
  EXPECT_EQ(ready_in(1, tube), 4u);
}

}  // namespace
}  // namespace beanpole::testing
