// Tests of endpoint::parse and endpoint::to_string: the address forms of `-a` and
// $BEANSTALKD_ADDR (TLS addresses included, issue 12), and the promise that to_string() writes
// the form parse reads.
#include "beanpole/endpoint.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "beanpole/error.hpp"

namespace beanpole {
/// Failures print the endpoint's fields, not its bytes (nor to_string(), which is under test).
void PrintTo(const endpoint& ep, std::ostream* os) {
  if (ep.is_unix()) {
    *os << "unix socket '" << ep.unix_path << "'";
  } else {
    *os << "host '" << ep.host << "' port " << ep.port;
  }
}
}  // namespace beanpole

namespace {

using beanpole::endpoint;
using beanpole::errc;

endpoint parsed(const std::string& text) {
  endpoint ep;
  EXPECT_FALSE(endpoint::parse(text, ep)) << text;
  return ep;
}

TEST(Endpoint, ParsesEveryForm) {
  EXPECT_EQ(parsed("example.org:11301"), endpoint::tcp("example.org", 11301));
  EXPECT_EQ(parsed("example.org"), endpoint::tcp("example.org", 11300));
  EXPECT_EQ(parsed("[::1]:11302"), endpoint::tcp("::1", 11302));
  EXPECT_EQ(parsed("[::1]"), endpoint::tcp("::1", 11300));
  EXPECT_EQ(parsed("unix:/run/beanstalkd.sock"), endpoint::unix_socket("/run/beanstalkd.sock"));
}

TEST(Endpoint, RefusesAndLeavesTheOutputAlone) {
  for (const char* text :
       {"", ":1", "h:", "h:0", "h:65536", "h:-1", "h:+1", "::1:5", "[::1", "[::1]x",
        "[::1]:", "[]:1", "unix:", "a b:1", "[[x]:1", "[a[b]", "a]:1", "x[y"}) {
    endpoint ep = endpoint::tcp("kept", 7);
    EXPECT_EQ(endpoint::parse(text, ep), errc::invalid_address) << text;
    EXPECT_EQ(ep, endpoint::tcp("kept", 7)) << text;
  }
}

TEST(Endpoint, ToStringReadsBack) {
  for (const endpoint& ep :
       {endpoint::tcp("example.org", 11301), endpoint::tcp("::1", 1),
        endpoint::tcp("127.0.0.1", 65535), endpoint::unix_socket("/tmp/b.sock"),
        endpoint::unix_socket("relative:path")}) {
    EXPECT_EQ(parsed(ep.to_string()), ep) << ep.to_string();
  }
}

// Found by commands_fuzz (corpus/commands/regress-endpoint-unix-host): a host named "unix" was
// written "unix:11300", which reads back as the Unix socket "11300".
TEST(Endpoint, HostNamedUnixReadsBackAsTcp) {
  EXPECT_EQ(parsed("unix"), endpoint::tcp("unix", 11300));
  EXPECT_EQ(parsed(endpoint::tcp("unix", 11300).to_string()), endpoint::tcp("unix", 11300));
  EXPECT_EQ(parsed(endpoint::tcp("unix", 80).to_string()), endpoint::tcp("unix", 80));
}

// Seen while checking commands_fuzz's endpoint property (corpus/commands/regress-endpoint-bracket):
// "[[x]:1" was accepted as host "[x", written "[x:1", which does not parse.
TEST(Endpoint, BracketInsideTheHostIsRefused) {
  endpoint ep;
  EXPECT_EQ(endpoint::parse("[[x]:1", ep), errc::invalid_address);
}

}  // namespace

// TLS addresses (issue 12).
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
