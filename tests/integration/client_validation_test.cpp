// The blocking client against a real beanstalkd: arguments refused before anything is sent
// (tube names, 32-bit values), the limits the server does accept, and the two error styles
// (throwing and std::error_code) side by side.
#include <algorithm>
#include <limits>

#include "server_test.hpp"
#include "test_helpers.hpp"

namespace beanpole::testing {
namespace {

class ClientValidation : public server_test {};

constexpr std::chrono::seconds max_u32_seconds{std::numeric_limits<std::uint32_t>::max()};
constexpr std::chrono::seconds too_many_seconds{std::int64_t{1} << 32};

// ----------------------------------------------------------------------------------- tube names

TEST_F(ClientValidation, InvalidTubeNamesAreRefusedBeforeSending) {
  const std::vector<std::string> bad = {
      "",
      "-starts-with-hyphen",
      std::string(201, 'a'),
      "has space",
      "tab\there",
      "crlf\r\n",
      "star*",
      "quote\"",
      "nul" + std::string(1, '\0'),
      "\xc3\xa9t\xc3\xa9",
      "colon:",
      "hash#",
  };
  for (const auto& name : bad) {
    EXPECT_FALSE(tube_name::is_valid(name)) << name;
    EXPECT_TRUE(throws_errc([&] { tube_name t(name); }, errc::invalid_tube_name)) << name;
    tube_name out("unchanged");
    const auto ec = tube_name::make(name, out);
    EXPECT_EQ(ec, errc::invalid_tube_name) << name;
    EXPECT_EQ(ec, condition::local_misuse);
    EXPECT_EQ(out.str(), "unchanged");
  }
  // The implicit conversion throws before the client sends anything.
  auto c = make_client();
  const auto before = c.stats();
  EXPECT_TRUE(throws_errc([&] { c.use("bad name"); }, errc::invalid_tube_name));
  EXPECT_TRUE(throws_errc([&] { c.watch("-bad"); }, errc::invalid_tube_name));
  EXPECT_TRUE(throws_errc([&] { c.stats_tube(""); }, errc::invalid_tube_name));
  const auto after = c.stats();
  EXPECT_EQ(after.cmd_use, before.cmd_use);
  EXPECT_EQ(after.cmd_watch, before.cmd_watch);
  EXPECT_EQ(after.cmd_stats_tube, before.cmd_stats_tube);
  EXPECT_EQ(c.list_tube_used(), tube().str());
}

TEST_F(ClientValidation, LongestAndOddestValidNamesAreAcceptedByTheServer) {
  auto c = make_client();
  // 200 bytes, the maximum.
  std::string longest = tube().str() + ".";
  longest.resize(tube_name::max_size, 'z');
  // Every punctuation character the protocol allows.
  const std::string odd = tube().str() + ".+/;.$_()-";
  for (const auto& text : {longest, odd}) {
    tube_name name;
    ASSERT_FALSE(tube_name::make(text, name)) << text;
    c.use(name);
    EXPECT_EQ(c.list_tube_used(), text);
    EXPECT_EQ(c.watch(name), 2U);
    const auto watched = c.list_tubes_watched();
    EXPECT_NE(std::find(watched.begin(), watched.end(), text), watched.end());
    const job_id id = c.put("in an odd tube");
    EXPECT_EQ(c.stats_job(id).tube, text);
    EXPECT_EQ(c.stats_tube(name).name, text);
    c.pause_tube(name, 0s);
    EXPECT_EQ(c.ignore(name), 1U);
    c.remove(id);
  }
}

TEST_F(ClientValidation, DefaultTubeName) {
  EXPECT_EQ(tube_name().str(), "default");
  auto c = make_client();
  c.use(tube_name());
  EXPECT_EQ(c.list_tube_used(), "default");
}

// ----------------------------------------------------------------------- 32-bit values in range

TEST_F(ClientValidation, OutOfRangeDelayAndTtrAreRefusedAndNothingIsSent) {
  auto c = make_client();
  const auto before = c.stats();
  const std::vector<put_options> bad = {
      put_options{.pri = 1, .delay = too_many_seconds, .ttr = 60s},
      put_options{.pri = 1, .delay = -1s, .ttr = 60s},
      put_options{.pri = 1, .delay = 0s, .ttr = too_many_seconds},
      put_options{.pri = 1, .delay = 0s, .ttr = -5s},
      put_options{.pri = 1, .delay = std::chrono::seconds::max(), .ttr = 60s},
  };
  for (const auto& o : bad) {
    std::error_code ec;
    const job_id id = c.put("x", o, ec);
    EXPECT_EQ(ec, errc::value_out_of_range) << o.delay.count() << " " << o.ttr.count();
    EXPECT_EQ(ec, condition::local_misuse);
    EXPECT_EQ(id.value, 0U);
    EXPECT_TRUE(c.is_open());
    EXPECT_TRUE(throws_errc([&] { c.put("x", o); }, errc::value_out_of_range));
  }
  EXPECT_EQ(c.stats().cmd_put, before.cmd_put);  // nothing reached the server
  EXPECT_TRUE(still_usable(c));
  EXPECT_GT(c.put("fine").value, 0U);
}

TEST_F(ClientValidation, OutOfRangeSecondsElsewhereAreRefused) {
  auto c = make_client();
  const job_id id = c.put("x");
  auto j = c.reserve();
  std::error_code ec;
  c.release(id, 1, too_many_seconds, ec);
  EXPECT_EQ(ec, errc::value_out_of_range);
  c.release(id, 1, -1s, ec);
  EXPECT_EQ(ec, errc::value_out_of_range);
  j.release(1, too_many_seconds, ec);
  EXPECT_EQ(ec, errc::value_out_of_range);
  EXPECT_EQ(c.stats_job(id).state, "reserved");  // the refused releases were not sent
  c.pause_tube(tube(), too_many_seconds, ec);
  EXPECT_EQ(ec, errc::value_out_of_range);
  c.pause_tube(tube(), -1s, ec);
  EXPECT_EQ(ec, errc::value_out_of_range);
  EXPECT_EQ(c.stats_tube(tube()).cmd_pause_tube, 0U);
  const stopwatch sw;
  c.reserve_with_timeout(too_many_seconds, ec);
  EXPECT_EQ(ec, errc::value_out_of_range);
  c.reserve_with_timeout(-1s, ec);
  EXPECT_EQ(ec, errc::value_out_of_range);
  EXPECT_LT(sw.elapsed(), 500ms);
  EXPECT_TRUE(
      throws_errc([&] { c.reserve_with_timeout(too_many_seconds); }, errc::value_out_of_range));
  EXPECT_TRUE(
      throws_errc([&] { c.pause_tube(tube(), too_many_seconds); }, errc::value_out_of_range));
  EXPECT_TRUE(throws_errc([&] { j.release(1, too_many_seconds); }, errc::value_out_of_range));
  EXPECT_TRUE(still_usable(c));
  j.remove();
}

TEST_F(ClientValidation, LargestValuesAreAccepted) {
  auto c = make_client();
  const job_id id = c.put("edge", put_options{.pri = std::numeric_limits<priority>::max(),
                                              .delay = max_u32_seconds,
                                              .ttr = max_u32_seconds});
  auto st = c.stats_job(id);
  EXPECT_EQ(st.pri, std::numeric_limits<priority>::max());
  EXPECT_EQ(st.delay, 4294967295U);
  EXPECT_EQ(st.ttr, 4294967295U);
  EXPECT_EQ(st.state, "delayed");
  auto j = c.reserve_job(id);
  ASSERT_TRUE(j.has_value());
  j->release(0, max_u32_seconds);
  st = c.stats_job(id);
  EXPECT_EQ(st.pri, 0U);
  EXPECT_EQ(st.delay, 4294967295U);
  c.pause_tube(tube(), max_u32_seconds);
  EXPECT_EQ(c.stats_tube(tube()).pause, 4294967295U);
  c.pause_tube(tube(), 0s);
  c.remove(id);
}

// ------------------------------------------------------------------------------ error styles

TEST_F(ClientValidation, ThrowingFormThrowsBeanpoleErrorWithTheCode) {
  auto c = make_client();
  try {
    c.remove(job_id{999999999});
    FAIL() << "no exception";
  } catch (const beanpole::error& e) {
    EXPECT_EQ(e.code(), errc::not_found);
    EXPECT_EQ(e.code(), condition::server_answer);
    EXPECT_EQ(e.code().category(), error_category());
    EXPECT_NE(std::string(e.what()).find("NOT_FOUND"), std::string::npos) << e.what();
    EXPECT_FALSE(e.job().has_value());
  }
  // It is a std::system_error too.
  EXPECT_THROW(c.remove(job_id{999999999}), std::system_error);
  EXPECT_TRUE(still_usable(c));
}

TEST_F(ClientValidation, ErrorCodeFormNeverThrowsAndClearsTheCodeOnSuccess) {
  auto c = make_client();
  std::error_code ec;
  EXPECT_NO_THROW(c.remove(job_id{999999999}, ec));
  EXPECT_EQ(ec, errc::not_found);
  // A stale error must not survive a successful call.
  const job_id id = c.put("x", {}, ec);
  EXPECT_FALSE(ec);
  ec = make_error_code(errc::not_found);
  c.stats_job(id, ec);
  EXPECT_FALSE(ec);
  ec = make_error_code(errc::not_found);
  c.list_tube_used(ec);
  EXPECT_FALSE(ec);
  ec = make_error_code(errc::not_found);
  c.reserve_with_timeout(0s, ec);
  EXPECT_FALSE(ec);
  ec = make_error_code(errc::not_found);
  c.remove(id, ec);
  EXPECT_FALSE(ec);
  // Local misuse and connection failures do not throw either.
  EXPECT_NO_THROW(c.put("x", put_options{.pri = 0, .delay = -1s, .ttr = 1s}, ec));
  EXPECT_EQ(ec, errc::value_out_of_range);
  c.close();
  EXPECT_NO_THROW(c.stats(ec));
  EXPECT_EQ(ec, errc::not_connected);
}

TEST_F(ClientValidation, ErrorFamilies) {
  EXPECT_EQ(make_error_code(errc::not_found), condition::server_answer);
  EXPECT_EQ(make_error_code(errc::job_too_big), condition::server_answer);
  EXPECT_EQ(make_error_code(errc::deadline_soon), condition::server_answer);
  EXPECT_EQ(make_error_code(errc::invalid_tube_name), condition::local_misuse);
  EXPECT_EQ(make_error_code(errc::value_out_of_range), condition::local_misuse);
  EXPECT_EQ(make_error_code(errc::not_connected), condition::connection_failure);
  EXPECT_EQ(make_error_code(errc::reply_timeout), condition::connection_failure);
  EXPECT_EQ(make_error_code(errc::unexpected_reply), condition::protocol_violation);
  EXPECT_NE(make_error_code(errc::not_found), condition::connection_failure);
}

}  // namespace
}  // namespace beanpole::testing
