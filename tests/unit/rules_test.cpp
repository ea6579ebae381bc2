// The rules both clients share.
#include "conn/rules.hpp"

#include <gtest/gtest.h>

#include "beanpole/error.hpp"

namespace {

using beanpole::endpoint;
using beanpole::errc;
namespace conn = beanpole::conn;

TEST(Rules, ALostPutIsAlwaysOutcomeUnknown) {
  for (auto cause : {make_error_code(errc::reply_timeout), make_error_code(errc::unknown_reply),
                     make_error_code(std::errc::connection_reset)}) {
    EXPECT_EQ(conn::lost_reply_error(true, cause, true), errc::outcome_unknown);
  }
  EXPECT_EQ(conn::lost_reply_error(false, make_error_code(errc::reply_timeout), true),
            errc::reply_timeout);
  EXPECT_EQ(conn::lost_reply_error(false, make_error_code(errc::reply_timeout), false),
            errc::connection_lost);
  EXPECT_EQ(conn::lost_reply_error(false, make_error_code(errc::unknown_reply), true),
            errc::unknown_reply);
  EXPECT_EQ(conn::lost_reply_error(false, make_error_code(std::errc::connection_reset), true),
            errc::connection_lost);
  EXPECT_EQ(conn::lost_reply_error(false, make_error_code(std::errc::operation_canceled), false,
                                   /*cancelled=*/true),
            std::errc::operation_canceled);
  EXPECT_EQ(conn::lost_reply_error(true, make_error_code(std::errc::operation_canceled), false,
                                   /*cancelled=*/true),
            errc::outcome_unknown);  // even then: the put may have happened
}

TEST(Rules, OnlyServerAnswersAndLocalRefusalsKeepTheConnection) {
  EXPECT_FALSE(conn::closes_connection({}));
  EXPECT_FALSE(conn::closes_connection(errc::not_found));
  EXPECT_FALSE(conn::closes_connection(errc::invalid_tube_name));
  EXPECT_TRUE(conn::closes_connection(errc::unknown_reply));
  EXPECT_TRUE(conn::closes_connection(errc::reply_timeout));
  EXPECT_TRUE(conn::closes_connection(make_error_code(std::errc::connection_reset)));
}

// Defect (issue 11.5): a Unix socket path too long for sockaddr_un must be refused as an
// invalid address by both clients, before any connect.
TEST(Rules, EndpointsAreValidatedBeforeConnecting) {
  EXPECT_FALSE(conn::validate(endpoint::tcp("127.0.0.1", 11300)));
  EXPECT_EQ(conn::validate(endpoint::tcp("", 11300)), errc::invalid_address);
  EXPECT_EQ(conn::validate(endpoint::tcp("h", 0)), errc::invalid_address);
  EXPECT_FALSE(conn::validate(endpoint::unix_socket("/tmp/beanstalkd.sock")));
  EXPECT_EQ(conn::validate(endpoint::unix_socket("/" + std::string(200, 'x'))),
            errc::invalid_address);
  EXPECT_FALSE(conn::validate(endpoint::tcp_tls("queue.example.com", 6443)));
  endpoint tls_over_unix = endpoint::unix_socket("/tmp/beanstalkd.sock");
  tls_over_unix.tls = beanpole::tls_options{};
  EXPECT_EQ(conn::validate(tls_over_unix), errc::invalid_address);
}

// Issue 12: a TLS terminator that answers a plain client with an alert is named as such.
TEST(Rules, TlsRecordsFromAPlainConnectionAreNamed) {
  const std::error_code parser_error = errc::unknown_reply;
  EXPECT_EQ(
      conn::unexpected_bytes_error(parser_error, std::string("\x15\x03\x03\x00\x02\x02\x46", 7)),
      errc::tls_reply_to_plain);
  EXPECT_EQ(conn::unexpected_bytes_error(parser_error, std::string("\x16\x03\x01\x00", 4)),
            errc::tls_reply_to_plain);
  EXPECT_EQ(conn::unexpected_bytes_error(parser_error, "HTTP/1.1 400 Bad Request\r\n"),
            parser_error);
  EXPECT_EQ(conn::unexpected_bytes_error(parser_error, std::string("\x15\x03", 2)), parser_error);
}

TEST(Rules, ABreakBeforeTheFirstReplyMayBeATlsServerRefusingPlainText) {
  EXPECT_TRUE(conn::may_be_tls_refusal(make_error_code(std::errc::connection_reset), false));
  EXPECT_TRUE(conn::may_be_tls_refusal(make_error_code(errc::connection_lost), false));
  EXPECT_TRUE(conn::may_be_tls_refusal(make_error_code(std::errc::broken_pipe), false));
  // A byte came: the server spoke plain text. A timeout is no refusal.
  EXPECT_FALSE(conn::may_be_tls_refusal(make_error_code(std::errc::connection_reset), true));
  EXPECT_FALSE(conn::may_be_tls_refusal(make_error_code(errc::reply_timeout), false));
  // Nothing reached beanstalkd: every command gets the cause, a put included.
  for (const bool is_put : {true, false}) {
    for (const bool oldest : {true, false}) {
      EXPECT_EQ(conn::lost_reply_error(is_put, make_error_code(errc::tls_reply_to_plain), oldest),
                errc::tls_reply_to_plain);
    }
  }
}

TEST(Rules, UnexpectedBytesAreShownEscapedAndCut) {
  EXPECT_EQ(conn::printable_prefix("HTTP/1.1 400 Bad Request\r\n"),
            "HTTP/1.1 400 Bad Request\\r\\n");
  EXPECT_EQ(conn::printable_prefix(std::string("a\0\"\xff", 4)), "a\\x00\\\"\\xff");
  EXPECT_EQ(conn::printable_prefix("abcdef", 3), "abc...");
}

}  // namespace
