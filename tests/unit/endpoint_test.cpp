// Endpoint parsing and printing, TLS addresses included (issue 12).
#include <gtest/gtest.h>

#include "beanpole/endpoint.hpp"
#include "beanpole/error.hpp"

namespace beanpole {
namespace {

TEST(Endpoint, TlsAddressesParseToTlsEndpointsWithDefaultOptions) {
  endpoint ep;
  ASSERT_FALSE(endpoint::parse("tls://queue.example.com:6443", ep));
  EXPECT_EQ(ep, endpoint::tcp_tls("queue.example.com", 6443));
  EXPECT_TRUE(ep.is_tls());
  EXPECT_EQ(*ep.tls, tls_options{});
  EXPECT_EQ(ep.to_string(), "tls://queue.example.com:6443");

  ASSERT_FALSE(endpoint::parse("tls://[::1]:6443", ep));
  EXPECT_EQ(ep.host, "::1");
  EXPECT_EQ(ep.to_string(), "tls://[::1]:6443");
  ASSERT_FALSE(endpoint::parse("tls://h", ep));
  EXPECT_EQ(ep.port, endpoint::default_port);
}

TEST(Endpoint, PlainAddressesHaveNoTls) {
  endpoint ep;
  ASSERT_FALSE(endpoint::parse("127.0.0.1:11300", ep));
  EXPECT_FALSE(ep.is_tls());
  EXPECT_EQ(ep.to_string(), "127.0.0.1:11300");
}

TEST(Endpoint, BadTlsAddressesAreRefused) {
  endpoint ep = endpoint::tcp("unchanged", 1);
  for (const char* text : {"tls://", "tls://:6443", "tls://unix:/tmp/s", "tls://h:0", "tls://h:x",
                           "tls://tls://h:1", "TLS://h:1"}) {
    SCOPED_TRACE(text);
    EXPECT_EQ(endpoint::parse(text, ep), errc::invalid_address);
    EXPECT_EQ(ep, endpoint::tcp("unchanged", 1));
  }
}

TEST(Endpoint, TlsOptionsTakePartInEquality) {
  tls_options a;
  a.server_name = "queue.example.com";
  EXPECT_NE(endpoint::tcp_tls("h", 1, a), endpoint::tcp_tls("h", 1));
  EXPECT_NE(endpoint::tcp_tls("h", 1), endpoint::tcp("h", 1));
}

}  // namespace
}  // namespace beanpole
