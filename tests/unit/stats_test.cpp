// Tests of the stats / list body decoder.
//
// Fixtures (tests/fixtures):
// - *-1.12.body are real bodies captured from beanstalkd 1.12 (reply line and trailing CRLF
//   removed).
// - *-1.13.body were built by hand from the format strings of beanstalkd 1.13's prot.c
//   (STATS_FMT, STATS_TUBE_FMT, STATS_JOB_FMT) with made-up values, since no 1.13 server is
//   available here. In 1.13 `version`, `hostname`, `os`, `platform` (stats), `name`
//   (stats-tube) and `tube` (stats-job) are wrapped in double quotes; `id`, `draining` and
//   `state` are not. Every numeric value in them is distinct, so a key mapped to the wrong
//   member shows up.
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "beanpole/error.hpp"
#include "beanpole/proto/stats.hpp"

namespace {

using namespace beanpole::proto;
using beanpole::errc;
using namespace std::string_view_literals;

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(BEANPOLE_FIXTURES_DIR) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in) << "missing fixture " << name;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

const std::error_code bad = make_error_code(errc::bad_stats);

// --------------------------------------------------------------------------------- stats

TEST(StatsServer, Decodes112) {
  server_stats s;
  ASSERT_EQ(parse_server_stats(fixture("stats-1.12.body"), s), std::error_code{});
  EXPECT_EQ(s.current_jobs_urgent, 0u);
  EXPECT_EQ(s.current_jobs_ready, 0u);
  EXPECT_EQ(s.current_jobs_reserved, 0u);
  EXPECT_EQ(s.current_jobs_delayed, 0u);
  EXPECT_EQ(s.current_jobs_buried, 0u);
  EXPECT_EQ(s.cmd_put, 0u);
  EXPECT_EQ(s.cmd_peek, 0u);
  EXPECT_EQ(s.cmd_peek_ready, 0u);
  EXPECT_EQ(s.cmd_peek_delayed, 0u);
  EXPECT_EQ(s.cmd_peek_buried, 0u);
  EXPECT_EQ(s.cmd_reserve, 0u);
  EXPECT_EQ(s.cmd_reserve_with_timeout, 0u);
  EXPECT_EQ(s.cmd_delete, 0u);
  EXPECT_EQ(s.cmd_release, 0u);
  EXPECT_EQ(s.cmd_use, 0u);
  EXPECT_EQ(s.cmd_watch, 0u);
  EXPECT_EQ(s.cmd_ignore, 0u);
  EXPECT_EQ(s.cmd_bury, 0u);
  EXPECT_EQ(s.cmd_kick, 0u);
  EXPECT_EQ(s.cmd_touch, 0u);
  EXPECT_EQ(s.cmd_stats, 1u);
  EXPECT_EQ(s.cmd_stats_job, 0u);
  EXPECT_EQ(s.cmd_stats_tube, 0u);
  EXPECT_EQ(s.cmd_list_tubes, 0u);
  EXPECT_EQ(s.cmd_list_tube_used, 0u);
  EXPECT_EQ(s.cmd_list_tubes_watched, 0u);
  EXPECT_EQ(s.cmd_pause_tube, 0u);
  EXPECT_EQ(s.job_timeouts, 0u);
  EXPECT_EQ(s.total_jobs, 0u);
  EXPECT_EQ(s.max_job_size, 65535u);
  EXPECT_EQ(s.current_tubes, 1u);
  EXPECT_EQ(s.current_connections, 1u);
  EXPECT_EQ(s.current_producers, 0u);
  EXPECT_EQ(s.current_workers, 0u);
  EXPECT_EQ(s.current_waiting, 0u);
  EXPECT_EQ(s.total_connections, 1u);
  EXPECT_EQ(s.pid, 3146u);
  EXPECT_EQ(s.version, "1.12");
  EXPECT_DOUBLE_EQ(s.rusage_utime, 0.001780);
  EXPECT_DOUBLE_EQ(s.rusage_stime, 0.0);
  EXPECT_EQ(s.uptime, 0u);
  EXPECT_EQ(s.binlog_oldest_index, 0u);
  EXPECT_EQ(s.binlog_current_index, 0u);
  EXPECT_EQ(s.binlog_records_migrated, 0u);
  EXPECT_EQ(s.binlog_records_written, 0u);
  EXPECT_EQ(s.binlog_max_size, 10485760u);
  EXPECT_FALSE(s.draining);
  EXPECT_EQ(s.id, "8f4ad0d7c7530c02");
  EXPECT_EQ(s.hostname, "vm");
  EXPECT_EQ(s.os, "#1 SMP PREEMPT_DYNAMIC @0");  // unquoted, '#' is not a comment
  EXPECT_EQ(s.platform, "x86_64");
  EXPECT_TRUE(s.other.empty());
}

TEST(StatsServer, Decodes113) {
  server_stats s;
  ASSERT_EQ(parse_server_stats(fixture("stats-1.13.body"), s), std::error_code{});
  EXPECT_EQ(s.current_jobs_urgent, 3u);
  EXPECT_EQ(s.current_jobs_ready, 14u);
  EXPECT_EQ(s.current_jobs_reserved, 2u);
  EXPECT_EQ(s.current_jobs_delayed, 5u);
  EXPECT_EQ(s.current_jobs_buried, 1u);
  EXPECT_EQ(s.cmd_put, 48213u);
  EXPECT_EQ(s.cmd_peek, 7u);
  EXPECT_EQ(s.cmd_peek_ready, 11u);
  EXPECT_EQ(s.cmd_peek_delayed, 12u);
  EXPECT_EQ(s.cmd_peek_buried, 13u);
  EXPECT_EQ(s.cmd_reserve, 40110u);
  EXPECT_EQ(s.cmd_reserve_with_timeout, 8012u);
  EXPECT_EQ(s.cmd_delete, 48100u);
  EXPECT_EQ(s.cmd_release, 95u);
  EXPECT_EQ(s.cmd_use, 311u);
  EXPECT_EQ(s.cmd_watch, 622u);
  EXPECT_EQ(s.cmd_ignore, 300u);
  EXPECT_EQ(s.cmd_bury, 21u);
  EXPECT_EQ(s.cmd_kick, 4u);
  EXPECT_EQ(s.cmd_touch, 9u);
  EXPECT_EQ(s.cmd_stats, 120u);
  EXPECT_EQ(s.cmd_stats_job, 33u);
  EXPECT_EQ(s.cmd_stats_tube, 44u);
  EXPECT_EQ(s.cmd_list_tubes, 6u);
  EXPECT_EQ(s.cmd_list_tube_used, 8u);
  EXPECT_EQ(s.cmd_list_tubes_watched, 10u);
  EXPECT_EQ(s.cmd_pause_tube, 15u);
  EXPECT_EQ(s.job_timeouts, 17u);
  EXPECT_EQ(s.total_jobs, 48214u);
  EXPECT_EQ(s.max_job_size, 65535u);
  EXPECT_EQ(s.current_tubes, 16u);
  EXPECT_EQ(s.current_connections, 18u);
  EXPECT_EQ(s.current_producers, 19u);
  EXPECT_EQ(s.current_workers, 20u);
  EXPECT_EQ(s.current_waiting, 22u);
  EXPECT_EQ(s.total_connections, 1024u);
  EXPECT_EQ(s.pid, 4711u);
  EXPECT_EQ(s.version, "1.13");
  EXPECT_DOUBLE_EQ(s.rusage_utime, 12.345678);
  EXPECT_DOUBLE_EQ(s.rusage_stime, 6.543210);
  EXPECT_EQ(s.uptime, 86400u);
  EXPECT_EQ(s.binlog_oldest_index, 23u);
  EXPECT_EQ(s.binlog_current_index, 27u);
  EXPECT_EQ(s.binlog_records_migrated, 1234u);
  EXPECT_EQ(s.binlog_records_written, 96000u);
  EXPECT_EQ(s.binlog_max_size, 10485760u);
  EXPECT_TRUE(s.draining);
  EXPECT_EQ(s.id, "3f2a9c1b7e4d5a60");
  EXPECT_EQ(s.hostname, "queue-01.example.net");
  EXPECT_EQ(s.os, "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)");
  EXPECT_EQ(s.platform, "x86_64");
  EXPECT_TRUE(s.other.empty());
}

TEST(StatsServer, UnknownKeysGoToOtherUnquoted) {
  server_stats s;
  ASSERT_EQ(parse_server_stats("---\npid: 7\ncmd-truncate: 12\nfeature: \"a: b\"\n", s),
            std::error_code{});
  EXPECT_EQ(s.pid, 7u);
  ASSERT_EQ(s.other.size(), 2u);
  EXPECT_EQ(s.other.at("cmd-truncate"), "12");
  EXPECT_EQ(s.other.at("feature"), "a: b");
}

TEST(StatsServer, MissingKeysKeepDefaults) {
  server_stats s;
  s.pid = 99;  // stale values from an earlier decode do not survive
  s.other["stale"] = "x";
  ASSERT_EQ(parse_server_stats("---\nversion: \"1.3\"\ncmd-put: 5\n", s), std::error_code{});
  EXPECT_EQ(s.version, "1.3");
  EXPECT_EQ(s.cmd_put, 5u);
  EXPECT_EQ(s.pid, 0u);
  EXPECT_FALSE(s.draining);
  EXPECT_TRUE(s.hostname.empty());
  EXPECT_TRUE(s.other.empty());
}

TEST(StatsServer, HeaderOnlyIsAnEmptyDocument) {
  server_stats s;
  EXPECT_EQ(parse_server_stats("---\n", s), std::error_code{});
  EXPECT_EQ(parse_server_stats("---", s), std::error_code{});
  EXPECT_EQ(s.pid, 0u);
}

TEST(StatsServer, ValueSplitAtFirstColonSpace) {
  server_stats s;
  ASSERT_EQ(
      parse_server_stats("---\nos: Darwin Kernel Version 19.6.0: Thu Jun 18; root:xnu # x\n", s),
      std::error_code{});
  EXPECT_EQ(s.os, "Darwin Kernel Version 19.6.0: Thu Jun 18; root:xnu # x");
}

TEST(StatsServer, StringValues) {
  server_stats s;
  ASSERT_EQ(parse_server_stats("---\nhostname: \"\"\nos: \"\nplatform: \"x\"y\"\nid: \n", s),
            std::error_code{});
  EXPECT_EQ(s.hostname, "");      // empty quoted
  EXPECT_EQ(s.os, "\"");          // a lone quote is not a quoted string
  EXPECT_EQ(s.platform, "x\"y");  // the server escapes nothing inside quotes
  EXPECT_EQ(s.id, "");
}

TEST(StatsServer, Floats) {
  server_stats s;
  ASSERT_EQ(parse_server_stats("---\nrusage-utime: 1.5\nrusage-stime: 42\n", s), std::error_code{});
  EXPECT_DOUBLE_EQ(s.rusage_utime, 1.5);
  EXPECT_DOUBLE_EQ(s.rusage_stime, 42.0);
  for (const char* v : {"", "abc", "1e3", "nan", "inf", "-1.0", "+1.0", ".5", "1.5x", " 1.5"}) {
    SCOPED_TRACE(v);
    EXPECT_EQ(parse_server_stats(std::string("---\nrusage-utime: ") + v + "\n", s), bad);
  }
}

TEST(StatsServer, Draining) {
  server_stats s;
  ASSERT_EQ(parse_server_stats("---\ndraining: true\n", s), std::error_code{});
  EXPECT_TRUE(s.draining);
  ASSERT_EQ(parse_server_stats("---\ndraining: false\n", s), std::error_code{});
  EXPECT_FALSE(s.draining);
  for (const char* v : {"", "yes", "1", "True", "FALSE", "true ", "\"true\"x"}) {
    SCOPED_TRACE(v);
    EXPECT_EQ(parse_server_stats(std::string("---\ndraining: ") + v + "\n", s), bad);
  }
}

TEST(StatsServer, IntegerLimits) {
  server_stats s;
  ASSERT_EQ(parse_server_stats("---\ncmd-put: 18446744073709551615\n", s), std::error_code{});
  EXPECT_EQ(s.cmd_put, UINT64_MAX);
  EXPECT_EQ(parse_server_stats("---\ncmd-put: 18446744073709551616\n", s), bad);
  EXPECT_EQ(parse_server_stats("---\ncmd-put: 99999999999999999999999999\n", s), bad);
}

TEST(StatsServer, ToleratesMissingOrExtraTrailingLineBreaks) {
  const std::string body = fixture("stats-1.12.body");
  ASSERT_EQ(body.back(), '\n');
  for (const std::string& variant : {body.substr(0, body.size() - 1), body + "\n", body + "\r\n"}) {
    server_stats s;
    ASSERT_EQ(parse_server_stats(variant, s), std::error_code{});
    EXPECT_EQ(s.platform, "x86_64");
    EXPECT_EQ(s.pid, 3146u);
  }
}

TEST(StatsTube, Decodes112) {
  tube_stats t;
  ASSERT_EQ(parse_tube_stats(fixture("stats-tube-1.12.body"), t), std::error_code{});
  EXPECT_EQ(t.name, "default");
  EXPECT_EQ(t.current_jobs_urgent, 0u);
  EXPECT_EQ(t.current_jobs_ready, 0u);
  EXPECT_EQ(t.current_jobs_reserved, 1u);
  EXPECT_EQ(t.current_jobs_delayed, 0u);
  EXPECT_EQ(t.current_jobs_buried, 0u);
  EXPECT_EQ(t.total_jobs, 1u);
  EXPECT_EQ(t.current_using, 0u);
  EXPECT_EQ(t.current_waiting, 0u);
  EXPECT_EQ(t.current_watching, 1u);
  EXPECT_EQ(t.pause, 0u);
  EXPECT_EQ(t.cmd_delete, 0u);
  EXPECT_EQ(t.cmd_pause_tube, 0u);
  EXPECT_EQ(t.pause_time_left, 0u);
  EXPECT_TRUE(t.other.empty());
}

TEST(StatsTube, Decodes113) {
  tube_stats t;
  ASSERT_EQ(parse_tube_stats(fixture("stats-tube-1.13.body"), t), std::error_code{});
  EXPECT_EQ(t.name, "emails");
  EXPECT_EQ(t.current_jobs_urgent, 1u);
  EXPECT_EQ(t.current_jobs_ready, 2u);
  EXPECT_EQ(t.current_jobs_reserved, 3u);
  EXPECT_EQ(t.current_jobs_delayed, 4u);
  EXPECT_EQ(t.current_jobs_buried, 5u);
  EXPECT_EQ(t.total_jobs, 6021u);
  EXPECT_EQ(t.current_using, 7u);
  EXPECT_EQ(t.current_watching, 8u);
  EXPECT_EQ(t.current_waiting, 9u);
  EXPECT_EQ(t.cmd_delete, 6000u);
  EXPECT_EQ(t.cmd_pause_tube, 11u);
  EXPECT_EQ(t.pause, 300u);
  EXPECT_EQ(t.pause_time_left, 254u);
  EXPECT_TRUE(t.other.empty());
}

TEST(StatsTube, QuotedNumericLookingName) {
  tube_stats t;
  ASSERT_EQ(parse_tube_stats("---\nname: \"1.5\"\nfuture-key: 3\n", t), std::error_code{});
  EXPECT_EQ(t.name, "1.5");
  EXPECT_EQ(t.other.at("future-key"), "3");
}

TEST(StatsJob, Decodes112) {
  job_stats j;
  ASSERT_EQ(parse_job_stats(fixture("stats-job-1.12.body"), j), std::error_code{});
  EXPECT_EQ(j.id, 1u);
  EXPECT_EQ(j.tube, "default");
  EXPECT_EQ(j.state, "reserved");
  EXPECT_EQ(j.pri, 2048u);
  EXPECT_EQ(j.age, 0u);
  EXPECT_EQ(j.delay, 0u);
  EXPECT_EQ(j.ttr, 120u);
  EXPECT_EQ(j.time_left, 119u);
  EXPECT_EQ(j.file, 0u);
  EXPECT_EQ(j.reserves, 1u);
  EXPECT_EQ(j.timeouts, 0u);
  EXPECT_EQ(j.releases, 0u);
  EXPECT_EQ(j.buries, 0u);
  EXPECT_EQ(j.kicks, 0u);
  EXPECT_TRUE(j.other.empty());
}

TEST(StatsJob, Decodes113) {
  job_stats j;
  ASSERT_EQ(parse_job_stats(fixture("stats-job-1.13.body"), j), std::error_code{});
  EXPECT_EQ(j.id, 4821u);
  EXPECT_EQ(j.tube, "emails");
  EXPECT_EQ(j.state, "delayed");
  EXPECT_EQ(j.pri, 100u);
  EXPECT_EQ(j.age, 42u);
  EXPECT_EQ(j.delay, 3600u);
  EXPECT_EQ(j.ttr, 60u);
  EXPECT_EQ(j.time_left, 3558u);
  EXPECT_EQ(j.file, 3u);
  EXPECT_EQ(j.reserves, 2u);
  EXPECT_EQ(j.timeouts, 1u);
  EXPECT_EQ(j.releases, 4u);
  EXPECT_EQ(j.buries, 5u);
  EXPECT_EQ(j.kicks, 6u);
  EXPECT_TRUE(j.other.empty());
}

TEST(StatsJob, PriorityIs32Bits) {
  job_stats j;
  ASSERT_EQ(parse_job_stats("---\npri: 4294967295\n", j), std::error_code{});
  EXPECT_EQ(j.pri, 4294967295u);
  EXPECT_EQ(parse_job_stats("---\npri: 4294967296\n", j), bad);
}

// ------------------------------------------------------------------------------ malformed

TEST(StatsMalformed, EachCaseIsBadStats) {
  const std::string_view cases[] = {
      ""sv,                                      // empty body
      "\n"sv,                                    // only a line break
      "current-jobs-ready: 1\n"sv,               // no "---"
      "--\ncmd-put: 1\n"sv,                      // wrong header
      "--- \ncmd-put: 1\n"sv,                    // header with trailing space
      "---\r\ncmd-put: 1\n"sv,                   // CR inside the header line
      "---\ncmd-put 1\n"sv,                      // no ": "
      "---\ncmd-put:1\n"sv,                      // no space after ':'
      "---\n: 1\n"sv,                            // empty key
      "---\n- default\n"sv,                      // a list item in a stats body
      "---\ncmd-put: 1\n\ncmd-peek: 2\n"sv,      // empty line in the middle
      "---\ncmd-put: x\n"sv,                     // bad number
      "---\ncmd-put: \n"sv,                      // empty number
      "---\ncmd-put: -1\n"sv,                    // sign
      "---\ncmd-put: +1\n"sv,                    // sign
      "---\ncmd-put:  1\n"sv,                    // leading space
      "---\ncmd-put: 1 \n"sv,                    // trailing space
      "---\ncmd-put: 0x10\n"sv,                  // not decimal
      "---\ncmd-put: 1.0\n"sv,                   // not an integer
      "---\ncmd-put: 1\r\ncmd-peek: 2\n"sv,      // CR inside a numeric value
      "---\ncmd-put: 18446744073709551616\n"sv,  // overflow
      "---\ndraining: maybe\n"sv,                // bad boolean
      "---\nrusage-utime: fast\n"sv,             // bad float
      "---\n\xff\xfe\x00\x01garbage\n"sv,        // garbage bytes
  };
  for (const std::string_view body : cases) {
    SCOPED_TRACE(::testing::PrintToString(std::string(body)));
    server_stats s;
    EXPECT_EQ(parse_server_stats(body, s), bad);
  }
  // The same rules through the other decoders.
  tube_stats t;
  job_stats j;
  std::vector<stats_entry> e;
  EXPECT_EQ(parse_tube_stats("---\ncurrent-using: many\n", t), bad);
  EXPECT_EQ(parse_tube_stats("name: default\n", t), bad);
  EXPECT_EQ(parse_job_stats("---\nid: 99999999999999999999\n", j), bad);
  EXPECT_EQ(parse_job_stats("---\nstate reserved\n", j), bad);
  EXPECT_EQ(parse_stats_entries("---\nkey value\n", e), bad);
  EXPECT_EQ(parse_stats_entries("key: value\n", e), bad);
}

TEST(StatsMalformed, EmbeddedNulIsData) {
  // A NUL inside a string value is kept; inside a number it is an error.
  server_stats s;
  const std::string body("---\nhostname: a\0b\ncmd-put: 1\0\n", 30);
  EXPECT_EQ(parse_server_stats(body, s), bad);
  const std::string ok("---\nhostname: a\0b\n", 18);
  ASSERT_EQ(parse_server_stats(ok, s), std::error_code{});
  EXPECT_EQ(s.hostname, std::string("a\0b", 3));
}

TEST(StatsMalformed, OutputUntouchedOnError) {
  server_stats s;
  s.pid = 42;
  s.hostname = "keep";
  EXPECT_EQ(parse_server_stats("---\npid: 7\nhostname: new\ncmd-put: x\n", s), bad);
  EXPECT_EQ(s.pid, 42u);
  EXPECT_EQ(s.hostname, "keep");

  std::vector<std::string> names{"keep"};
  EXPECT_EQ(parse_name_list("---\n- a\nb\n", names), bad);
  EXPECT_EQ(names, std::vector<std::string>{"keep"});

  std::vector<stats_entry> entries{{"k", "v"}};
  EXPECT_EQ(parse_stats_entries("---\na: 1\nb\n", entries), bad);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].key, "k");
}

// Hostile input: whatever the bytes, every decoder returns success or bad_stats, never crashes.
void expect_no_crash(std::string_view body) {
  server_stats s;
  tube_stats t;
  job_stats j;
  std::vector<stats_entry> e;
  std::vector<std::string> n;
  for (const std::error_code ec :
       {parse_server_stats(body, s), parse_tube_stats(body, t), parse_job_stats(body, j),
        parse_stats_entries(body, e), parse_name_list(body, n)}) {
    EXPECT_TRUE(!ec || ec == bad) << ec.message();
  }
}

TEST(StatsHostile, RandomBytes) {
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> len(0, 200);
  std::uniform_int_distribution<int> byte(0, 255);
  // Biased towards the bytes the decoder looks at, so the random bodies reach deep.
  const std::string_view interesting = "---\n:- \"\r0123456789";
  std::uniform_int_distribution<std::size_t> pick(0, interesting.size() - 1);
  for (int round = 0; round < 2000; ++round) {
    std::string body = round % 2 == 0 ? "---\n" : "";
    for (int i = len(rng); i > 0; --i) {
      body += round % 3 == 0 ? static_cast<char>(byte(rng)) : interesting[pick(rng)];
    }
    expect_no_crash(body);
  }
}

TEST(StatsHostile, EveryPrefixOfEveryFixture) {
  for (const char* name : {"stats-1.12.body", "stats-1.13.body", "stats-tube-1.12.body",
                           "stats-tube-1.13.body", "stats-job-1.12.body", "stats-job-1.13.body",
                           "list-tubes-1.12.body", "list-tubes-watched-1.12.body"}) {
    const std::string body = fixture(name);
    for (std::size_t n = 0; n <= body.size(); ++n) {
      expect_no_crash(std::string_view(body).substr(0, n));
    }
  }
}

TEST(StatsHostile, TruncatedFixtureWithoutTrailingNewline) {
  // The body cut right after a complete value still decodes.
  const std::string body = fixture("stats-job-1.12.body");
  const auto cut = body.find("ttr: 120") + 8;
  job_stats j;
  ASSERT_EQ(parse_job_stats(std::string_view(body).substr(0, cut), j), std::error_code{});
  EXPECT_EQ(j.ttr, 120u);
  EXPECT_EQ(j.time_left, 0u);
}

// -------------------------------------------------------------------------------- entries

TEST(StatsEntries, KeepOrderAndUnquote) {
  std::vector<stats_entry> e;
  ASSERT_EQ(parse_stats_entries(fixture("stats-1.12.body"), e), std::error_code{});
  ASSERT_EQ(e.size(), 51u);
  EXPECT_EQ(e.front().key, "current-jobs-urgent");
  EXPECT_EQ(e.front().value, "0");
  EXPECT_EQ(e[1].key, "current-jobs-ready");
  EXPECT_EQ(e[37].key, "version");
  EXPECT_EQ(e[37].value, "1.12");
  EXPECT_EQ(e[49].key, "os");
  EXPECT_EQ(e[49].value, "#1 SMP PREEMPT_DYNAMIC @0");
  EXPECT_EQ(e.back().key, "platform");
  EXPECT_EQ(e.back().value, "x86_64");

  ASSERT_EQ(parse_stats_entries(fixture("stats-tube-1.13.body"), e), std::error_code{});
  ASSERT_EQ(e.size(), 14u);
  EXPECT_EQ(e.front().key, "name");
  EXPECT_EQ(e.front().value, "emails");
  EXPECT_EQ(e.back().key, "pause-time-left");
  EXPECT_EQ(e.back().value, "254");
}

TEST(StatsEntries, NoTypeChecks) {
  // Generic printing must not fail on values the typed decoders would refuse.
  std::vector<stats_entry> e;
  ASSERT_EQ(parse_stats_entries("---\ncmd-put: lots\nb: \"q: r\"\na: \n", e), std::error_code{});
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].key, "cmd-put");
  EXPECT_EQ(e[0].value, "lots");
  EXPECT_EQ(e[1].key, "b");
  EXPECT_EQ(e[1].value, "q: r");
  EXPECT_EQ(e[2].key, "a");
  EXPECT_EQ(e[2].value, "");

  ASSERT_EQ(parse_stats_entries("---\n", e), std::error_code{});
  EXPECT_TRUE(e.empty());
}

// ---------------------------------------------------------------------------------- lists

TEST(StatsList, Decodes112) {
  std::vector<std::string> names;
  ASSERT_EQ(parse_name_list(fixture("list-tubes-1.12.body"), names), std::error_code{});
  EXPECT_EQ(names, (std::vector<std::string>{"default", "emails"}));
  ASSERT_EQ(parse_name_list(fixture("list-tubes-watched-1.12.body"), names), std::error_code{});
  EXPECT_EQ(names, (std::vector<std::string>{"default", "emails"}));
}

TEST(StatsList, EmptyList) {
  std::vector<std::string> names{"stale"};
  ASSERT_EQ(parse_name_list("---\n", names), std::error_code{});
  EXPECT_TRUE(names.empty());
}

TEST(StatsList, NamesKeepTheirCharacters) {
  std::vector<std::string> names;
  ASSERT_EQ(parse_name_list("---\n- a+b/c;d.$_(e)\n- 1.5\n- \"q\"", names), std::error_code{});
  EXPECT_EQ(names, (std::vector<std::string>{"a+b/c;d.$_(e)", "1.5", "q"}));
}

TEST(StatsList, Malformed) {
  for (const char* body : {"", "- default\n", "---\ndefault\n", "---\n-default\n", "---\n- \n",
                           "---\n-\n", "---\n- \"\"\n", "---\n- a\n\n- b\n", "---\nname: a\n"}) {
    SCOPED_TRACE(::testing::PrintToString(std::string(body)));
    std::vector<std::string> names;
    EXPECT_EQ(parse_name_list(body, names), bad);
  }
}

}  // namespace

// ---------------------------------------------------------------------------- time left

TEST(StatsTimeLeft, NegativeMeansNoTimeLeft) {
  // The server prints time-left as deadline minus now, signed: a deadline it acts on late shows
  // as a small negative number. That is "no time left", not a protocol violation.
  job_stats j;
  ASSERT_EQ(parse_job_stats("---\nid: 1\ntime-left: -1\n", j), std::error_code{});
  EXPECT_EQ(j.time_left, 0u);
  tube_stats t;
  ASSERT_EQ(parse_tube_stats("---\nname: a\npause-time-left: -2\n", t), std::error_code{});
  EXPECT_EQ(t.pause_time_left, 0u);
  // Other numbers stay unsigned, and a lone '-' or "--1" is still malformed.
  EXPECT_EQ(parse_job_stats("---\nttr: -1\n", j), make_error_code(errc::bad_stats));
  EXPECT_EQ(parse_job_stats("---\ntime-left: -\n", j), make_error_code(errc::bad_stats));
  EXPECT_EQ(parse_job_stats("---\ntime-left: --1\n", j), make_error_code(errc::bad_stats));
}

// ------------------------------------------------------------------------------- fields_of

TEST(StatsFields, ServerOrderTypedValuesThenUnknownKeys) {
  server_stats s;
  ASSERT_EQ(parse_server_stats(fixture("stats-1.12.body"), s), std::error_code{});
  s.other["cmd-from-the-future"] = "7";
  const auto fields = fields_of(s);
  std::vector<stats_entry> raw;
  ASSERT_EQ(parse_stats_entries(fixture("stats-1.12.body"), raw), std::error_code{});
  // Every key of the real reply, in the server's order, then the unknown one.
  ASSERT_EQ(fields.size(), raw.size() + 1);
  for (std::size_t i = 0; i < raw.size(); ++i) {
    EXPECT_EQ(fields[i].key, raw[i].key);
    EXPECT_TRUE(fields[i].known);
  }
  EXPECT_EQ(fields.back().key, "cmd-from-the-future");
  EXPECT_FALSE(fields.back().known);
  auto value = [&](std::string_view key) {
    for (const auto& f : fields) {
      if (f.key == key) return f.value;
    }
    ADD_FAILURE() << "no field " << key;
    return stats_field{}.value;
  };
  EXPECT_EQ(std::get<std::uint64_t>(value("max-job-size")), 65535u);
  EXPECT_EQ(std::get<std::string_view>(value("version")), "1.12");
  EXPECT_EQ(std::get<std::string_view>(value("os")), "#1 SMP PREEMPT_DYNAMIC @0");
  EXPECT_EQ(std::get<bool>(value("draining")), false);
  EXPECT_DOUBLE_EQ(std::get<double>(value("rusage-utime")), 0.00178);
}

TEST(StatsFields, TubeAndJobStats) {
  tube_stats t;
  ASSERT_EQ(parse_tube_stats(fixture("stats-tube-1.13.body"), t), std::error_code{});
  const auto tf = fields_of(t);
  ASSERT_FALSE(tf.empty());
  EXPECT_EQ(tf.front().key, "name");
  EXPECT_EQ(std::get<std::string_view>(tf.front().value), t.name);
  job_stats j;
  ASSERT_EQ(parse_job_stats(fixture("stats-job-1.12.body"), j), std::error_code{});
  const auto jf = fields_of(j);
  ASSERT_GE(jf.size(), 14u);
  EXPECT_EQ(jf[0].key, "id");
  EXPECT_EQ(std::get<std::uint64_t>(jf[0].value), j.id);
  EXPECT_EQ(jf[3].key, "pri");
  EXPECT_EQ(std::get<std::uint64_t>(jf[3].value), j.pri);
}
