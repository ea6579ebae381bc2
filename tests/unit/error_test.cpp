// The error model: the "beanpole" category, its four families, status words, the exception.
#include "beanpole/error.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <future>

#include <algorithm>
#include <set>
#include <string>
#include <string_view>
#include <system_error>

namespace beanpole {
namespace {

struct errc_case {
  errc value;
  condition family;
  std::string_view word;  ///< status_word(): the server's word, empty when not a server answer
};

/// Every errc value, its family and its status word.
constexpr errc_case every_errc[] = {
    {errc::out_of_memory, condition::server_answer, "OUT_OF_MEMORY"},
    {errc::internal_error, condition::server_answer, "INTERNAL_ERROR"},
    {errc::bad_format, condition::server_answer, "BAD_FORMAT"},
    {errc::unknown_command, condition::server_answer, "UNKNOWN_COMMAND"},
    {errc::expected_crlf, condition::server_answer, "EXPECTED_CRLF"},
    {errc::job_too_big, condition::server_answer, "JOB_TOO_BIG"},
    {errc::draining, condition::server_answer, "DRAINING"},
    {errc::deadline_soon, condition::server_answer, "DEADLINE_SOON"},
    {errc::timed_out, condition::server_answer, "TIMED_OUT"},
    {errc::not_found, condition::server_answer, "NOT_FOUND"},
    {errc::not_ignored, condition::server_answer, "NOT_IGNORED"},
    {errc::buried, condition::server_answer, "BURIED"},
    {errc::reserve_job_unsupported, condition::server_answer, "BAD_FORMAT"},
    {errc::corrupt_job, condition::server_answer, ""},
    {errc::reply_line_too_long, condition::protocol_violation, ""},
    {errc::body_too_large, condition::protocol_violation, ""},
    {errc::bad_number, condition::protocol_violation, ""},
    {errc::missing_body_crlf, condition::protocol_violation, ""},
    {errc::unknown_reply, condition::protocol_violation, ""},
    {errc::malformed_reply, condition::protocol_violation, ""},
    {errc::unexpected_reply, condition::protocol_violation, ""},
    {errc::bad_stats, condition::protocol_violation, ""},
    {errc::tls_reply_to_plain, condition::protocol_violation, ""},
    {errc::invalid_tube_name, condition::local_misuse, ""},
    {errc::value_out_of_range, condition::local_misuse, ""},
    {errc::invalid_address, condition::local_misuse, ""},
    {errc::tls_files_invalid, condition::local_misuse, ""},
    {errc::not_connected, condition::connection_failure, ""},
    {errc::connect_timeout, condition::connection_failure, ""},
    {errc::reply_timeout, condition::connection_failure, ""},
    {errc::connection_lost, condition::connection_failure, ""},
    {errc::outcome_unknown, condition::connection_failure, ""},
    {errc::lost_reservation, condition::connection_failure, ""},
    {errc::tls_handshake_failed, condition::connection_failure, ""},
    {errc::tls_certificate_not_verified, condition::connection_failure, ""},
    {errc::tls_name_mismatch, condition::connection_failure, ""},
    {errc::tls_not_spoken, condition::connection_failure, ""},
};

constexpr condition every_condition[] = {condition::server_answer, condition::protocol_violation,
                                         condition::local_misuse, condition::connection_failure};

TEST(Error, CategoryNames) {
  EXPECT_STREQ(error_category().name(), "beanpole");
  EXPECT_STREQ(condition_category().name(), "beanpole.condition");
  EXPECT_EQ(make_error_code(errc::not_found).category(), error_category());
  EXPECT_EQ(make_error_condition(condition::local_misuse).category(), condition_category());
}

TEST(Error, EveryErrcHasItsOwnMessage) {
  const std::string unknown = error_category().message(9999);
  EXPECT_FALSE(unknown.empty());
  std::set<std::string> seen;
  for (const auto& c : every_errc) {
    const std::error_code ec = c.value;
    SCOPED_TRACE(ec.value());
    const std::string message = ec.message();
    EXPECT_FALSE(message.empty());
    EXPECT_NE(message, unknown);
    EXPECT_TRUE(seen.insert(message).second) << "duplicate message: " << message;
  }
}

TEST(Error, TableListsEveryErrc) {
  // Any value the category knows (its message is not the fallback) must be in the table above,
  // so a new errc cannot go untested.
  const std::string unknown = error_category().message(9999);
  for (int v = 0; v < 400; ++v) {
    if (error_category().message(v) == unknown) continue;
    const bool listed =
        std::any_of(std::begin(every_errc), std::end(every_errc),
                    [&](const errc_case& c) { return static_cast<int>(c.value) == v; });
    EXPECT_TRUE(listed) << "errc " << v << " (" << error_category().message(v) << ") not listed";
  }
}

TEST(Error, ConditionsClassifyEachFamily) {
  for (const auto& c : every_errc) {
    const std::error_code ec = c.value;
    SCOPED_TRACE(ec.message());
    for (const condition cond : every_condition) {
      EXPECT_EQ(ec == cond, cond == c.family) << make_error_condition(cond).message();
    }
    EXPECT_EQ(ec, c.value);  // still compares equal to itself
    EXPECT_EQ(ec, make_error_code(c.value));
  }
}

TEST(Error, ConditionsHaveMessages) {
  for (const condition cond : every_condition) {
    EXPECT_FALSE(make_error_condition(cond).message().empty());
  }
}

TEST(Error, SocketErrorsAreConnectionFailures) {
  // Socket errors keep their system codes, yet a caller asking "did the connection fail?" must
  // get yes for them as for beanpole's own connection errors.
  const std::error_code socket_errors[] = {
      std::make_error_code(std::errc::connection_reset),
      std::make_error_code(std::errc::connection_refused),
      std::make_error_code(std::errc::broken_pipe),
      std::make_error_code(std::errc::timed_out),
      std::error_code(ECONNRESET, std::system_category()),
  };
  for (const auto& ec : socket_errors) {
    for (const condition cond : every_condition) {
      EXPECT_EQ(ec == cond, cond == condition::connection_failure) << ec.message();
    }
    EXPECT_EQ(status_word(ec), "");
  }
}

TEST(Error, ForeignCodesBelongToNoFamily) {
  const std::error_code foreign[] = {
      std::make_error_code(std::errc::invalid_argument),
      std::make_error_code(std::errc::not_enough_memory),
      std::make_error_code(std::future_errc::broken_promise),
      std::error_code{},
  };
  for (const auto& ec : foreign) {
    for (const condition cond : every_condition) EXPECT_FALSE(ec == cond) << ec.message();
    EXPECT_EQ(status_word(ec), "");
  }
  // Same number, other category: not a beanpole error.
  EXPECT_NE(std::error_code(static_cast<int>(errc::not_found), std::generic_category()),
            errc::not_found);
}

TEST(Error, StatusWords) {
  for (const auto& c : every_errc) {
    EXPECT_EQ(status_word(c.value), c.word) << make_error_code(c.value).message();
  }
}

TEST(Error, ExceptionCarriesCodeAndJob) {
  const error plain(errc::not_found);
  EXPECT_EQ(plain.code(), errc::not_found);
  EXPECT_FALSE(plain.job());
  EXPECT_NE(std::string(plain.what()).find("NOT_FOUND"), std::string::npos) << plain.what();

  const error with_context(errc::not_found, "delete 5");
  EXPECT_NE(std::string(with_context.what()).find("delete 5"), std::string::npos);
  EXPECT_FALSE(with_context.job());

  const error buried(errc::buried, 18446744073709551615U, "put");
  EXPECT_EQ(buried.code(), errc::buried);
  ASSERT_TRUE(buried.job());
  EXPECT_EQ(*buried.job(), 18446744073709551615U);

  try {
    throw error(errc::outcome_unknown, 42, "put");
  } catch (const std::system_error& e) {  // catchable as the standard type
    EXPECT_EQ(e.code(), condition::connection_failure);
    EXPECT_EQ(dynamic_cast<const error&>(e).job(), 42U);
  }
}

}  // namespace
}  // namespace beanpole
