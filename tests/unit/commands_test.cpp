// Commands: the exact bytes each one writes, the arguments each refuses before writing, and what
// each makes of every reply the server may send (its own, the general errors, and the replies
// that belong to other commands).
#include "beanpole/proto/commands.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "beanpole/error.hpp"

namespace beanpole::proto {
namespace {

using namespace std::chrono_literals;
using namespace std::string_literals;
using k = reply_kind;

constexpr std::uint64_t max_u32 = 4294967295U;
constexpr std::uint64_t max_u64 = 18446744073709551615U;

std::string all_bytes() {
  std::string s;
  for (int i = 0; i < 256; ++i) s.push_back(static_cast<char>(i));
  return s;
}

/// A reply as the parser would produce it.
reply make(reply_kind kind, std::optional<std::uint64_t> number = std::nullopt,
           std::string body = {}) {
  reply r;
  r.kind = kind;
  r.has_number = number.has_value();
  r.number = number.value_or(0);
  r.body = std::move(body);
  return r;
}

std::string fixture(const char* name) {
  std::ifstream file(std::string(BEANPOLE_FIXTURES_DIR "/") + name, std::ios::binary);
  EXPECT_TRUE(file) << "cannot open fixture " << name;
  return {std::istreambuf_iterator<char>(file), {}};
}

// -------------------------------------------------------------------------------- encoding

/// What `encode` appended to a string that already held something (encode must append).
template <class Command>
std::string encoded(const Command& cmd) {
  const std::string earlier = "<earlier>";
  std::string out = earlier;
  const auto ec = cmd.encode(out);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(out.substr(0, earlier.size()), earlier) << "encode must append, not overwrite";
  return out.substr(std::min(earlier.size(), out.size()));
}

struct encode_case {
  const char* name;
  std::string got;
  std::string want;
};

TEST(Commands, PutLineAloneForABodyWrittenFromWhereItIs) {
  const std::string body(70000, 'b');
  const put_command cmd{.pri = 3, .delay = 4s, .ttr = 5s, .body = body};
  std::string out = "<earlier>";
  EXPECT_FALSE(cmd.encode_line(out));
  EXPECT_EQ(out, "<earlier>put 3 4 5 70000\r\n");  // the body and its CRLF follow elsewhere
  std::string whole;
  ASSERT_FALSE(cmd.encode(whole));
  EXPECT_EQ(whole, "put 3 4 5 70000\r\n" + body + "\r\n");
  std::string refused;
  const put_command bad{.pri = 1, .delay = 0s, .ttr = std::chrono::seconds{-1}, .body = ""};
  EXPECT_EQ(bad.encode_line(refused), beanpole::errc::value_out_of_range);
  EXPECT_TRUE(refused.empty());
}

TEST(Commands, EncodeEveryCommand) {
  const std::string binary = all_bytes();
  const encode_case cases[] = {
      {"put", encoded(put_command{.pri = 0, .delay = 0s, .ttr = 60s, .body = "hello"}),
       "put 0 0 60 5\r\nhello\r\n"},
      {"put, defaults, empty body", encoded(put_command{}), "put 1024 0 60 0\r\n\r\n"},
      {"put, largest numbers",
       encoded(
           put_command{.pri = 4294967295U, .delay = 4294967295s, .ttr = 4294967295s, .body = ""}),
       "put 4294967295 4294967295 4294967295 0\r\n\r\n"},
      {"put, delay and ttr", encoded(put_command{.pri = 7, .delay = 30s, .ttr = 1s, .body = "x"}),
       "put 7 30 1 1\r\nx\r\n"},
      {"put, binary body", encoded(put_command{.body = binary}),
       "put 1024 0 60 256\r\n" + binary + "\r\n"},
      {"put, body with CRLF", encoded(put_command{.body = "a\r\nb\r\n"}),
       "put 1024 0 60 6\r\na\r\nb\r\n\r\n"},
      {"use", encoded(use_command{.tube = "emails"}), "use emails\r\n"},
      {"use, every allowed char", encoded(use_command{.tube = "azAZ09-+/;.$_()"}),
       "use azAZ09-+/;.$_()\r\n"},
      {"reserve", encoded(reserve_command{}), "reserve\r\n"},
      {"reserve-with-timeout 0", encoded(reserve_with_timeout_command{.timeout = 0s}),
       "reserve-with-timeout 0\r\n"},
      {"reserve-with-timeout 5", encoded(reserve_with_timeout_command{.timeout = 5s}),
       "reserve-with-timeout 5\r\n"},
      {"reserve-with-timeout max", encoded(reserve_with_timeout_command{.timeout = 4294967295s}),
       "reserve-with-timeout 4294967295\r\n"},
      {"reserve-job", encoded(reserve_job_command{.id = {42}}), "reserve-job 42\r\n"},
      {"reserve-job, 64-bit id", encoded(reserve_job_command{.id = {max_u64}}),
       "reserve-job 18446744073709551615\r\n"},
      {"delete", encoded(delete_command{.id = {5}}), "delete 5\r\n"},
      {"delete, 64-bit id", encoded(delete_command{.id = {max_u64}}),
       "delete 18446744073709551615\r\n"},
      {"release", encoded(release_command{.id = {5}, .pri = 10, .delay = 30s}),
       "release 5 10 30\r\n"},
      {"release, defaults", encoded(release_command{.id = {5}}), "release 5 1024 0\r\n"},
      {"bury", encoded(bury_command{.id = {5}, .pri = 7}), "bury 5 7\r\n"},
      {"touch", encoded(touch_command{.id = {5}}), "touch 5\r\n"},
      {"watch", encoded(watch_command{.tube = "jobs"}), "watch jobs\r\n"},
      {"ignore", encoded(ignore_command{.tube = "default"}), "ignore default\r\n"},
      {"peek", encoded(peek_command{.id = {5}}), "peek 5\r\n"},
      {"peek-ready", encoded(peek_state_command{.state = job_state::ready}), "peek-ready\r\n"},
      {"peek-delayed", encoded(peek_state_command{.state = job_state::delayed}),
       "peek-delayed\r\n"},
      {"peek-buried", encoded(peek_state_command{.state = job_state::buried}), "peek-buried\r\n"},
      {"kick", encoded(kick_command{.bound = 10}), "kick 10\r\n"},
      {"kick 0", encoded(kick_command{.bound = 0}), "kick 0\r\n"},
      {"kick max", encoded(kick_command{.bound = max_u32}), "kick 4294967295\r\n"},
      {"kick-job", encoded(kick_job_command{.id = {5}}), "kick-job 5\r\n"},
      {"stats-job", encoded(stats_job_command{.id = {5}}), "stats-job 5\r\n"},
      {"stats-tube", encoded(stats_tube_command{.tube = "default"}), "stats-tube default\r\n"},
      {"stats", encoded(stats_command{}), "stats\r\n"},
      {"list-tubes", encoded(list_tubes_command{}), "list-tubes\r\n"},
      {"list-tube-used", encoded(list_tube_used_command{}), "list-tube-used\r\n"},
      {"list-tubes-watched", encoded(list_tubes_watched_command{}), "list-tubes-watched\r\n"},
      {"pause-tube", encoded(pause_tube_command{.tube = "jobs", .delay = 60s}),
       "pause-tube jobs 60\r\n"},
      {"pause-tube max", encoded(pause_tube_command{.tube = "jobs", .delay = 4294967295s}),
       "pause-tube jobs 4294967295\r\n"},
      {"quit", encoded(quit_command{}), "quit\r\n"},
  };
  for (const auto& c : cases) EXPECT_EQ(c.got, c.want) << c.name;
}

/// An encode attempt on a string that already held "untouched".
struct attempt {
  const char* name;
  std::error_code ec;
  std::string out;
};

template <class Command>
attempt try_encode(const char* name, const Command& cmd) {
  attempt a{name, {}, "untouched"};
  a.ec = cmd.encode(a.out);
  return a;
}

TEST(Commands, OutOfRangeValuesAreRefusedBeforeWriting) {
  constexpr auto too_big = std::chrono::seconds(std::int64_t{1} << 32);
  const attempt attempts[] = {
      try_encode("put, negative delay", put_command{.delay = -1s, .body = "x"}),
      try_encode("put, delay 2^32", put_command{.delay = too_big, .body = "x"}),
      try_encode("put, negative ttr", put_command{.ttr = -1s, .body = "x"}),
      try_encode("put, ttr 2^32", put_command{.ttr = too_big, .body = "x"}),
      try_encode("put, huge ttr", put_command{.ttr = std::chrono::seconds::max(), .body = ""}),
      try_encode("release, negative delay", release_command{.id = {1}, .delay = -1s}),
      try_encode("release, delay 2^32", release_command{.id = {1}, .delay = too_big}),
      try_encode("reserve-with-timeout, negative", reserve_with_timeout_command{.timeout = -1s}),
      try_encode("reserve-with-timeout, 2^32", reserve_with_timeout_command{.timeout = too_big}),
      try_encode("reserve-with-timeout, min",
                 reserve_with_timeout_command{.timeout = std::chrono::seconds::min()}),
      try_encode("pause-tube, negative", pause_tube_command{.tube = "t", .delay = -1s}),
      try_encode("pause-tube, 2^32", pause_tube_command{.tube = "t", .delay = too_big}),
      try_encode("kick, 2^32", kick_command{.bound = max_u32 + 1}),
      try_encode("kick, 2^64-1", kick_command{.bound = max_u64}),
  };
  for (const auto& a : attempts) {
    EXPECT_EQ(a.ec, errc::value_out_of_range) << a.name;
    EXPECT_EQ(a.ec, condition::local_misuse) << a.name;
    EXPECT_EQ(a.out, "untouched") << a.name << ": nothing may be written";
  }
}

TEST(Commands, ToWireSeconds) {
  std::uint32_t out = 7;
  EXPECT_FALSE(to_wire_seconds(0s, out));
  EXPECT_EQ(out, 0U);
  EXPECT_FALSE(to_wire_seconds(4294967295s, out));
  EXPECT_EQ(out, 4294967295U);
  out = 7;
  EXPECT_EQ(to_wire_seconds(-1s, out), errc::value_out_of_range);
  EXPECT_EQ(to_wire_seconds(4294967296s, out), errc::value_out_of_range);
  EXPECT_EQ(out, 7U) << "left alone on error";
}

// --------------------------------------------------------------------- interpreting replies

/// Runs `interpret`, returning {result, error} (or just the error for void commands).
template <class Command>
auto interpret(const Command& cmd, reply r) {
  std::error_code ec;
  if constexpr (std::is_void_v<typename Command::result_type>) {
    cmd.interpret(std::move(r), ec);
    return ec;
  } else {
    auto value = cmd.interpret(std::move(r), ec);
    return std::pair{std::move(value), ec};
  }
}

TEST(Commands, EncodePutOfEveryBodySizeAroundTheStackBuffer) {
  // put encodes a small body together with its line on the stack and a larger one in pieces.
  for (const std::size_t size :
       {0, 1, 100, 480, 489, 490, 491, 492, 493, 494, 511, 512, 513, 4096, 70000}) {
    SCOPED_TRACE(size);
    std::string body(size, 'b');
    for (std::size_t i = 0; i < size; ++i) body[i] = static_cast<char>('a' + i % 26);
    EXPECT_EQ(encoded(put_command{.body = body}),
              "put 1024 0 60 " + std::to_string(size) + "\r\n" + body + "\r\n");
  }
}

const std::error_code ok{};

TEST(Commands, Put) {
  const put_command put{.body = "x"};
  EXPECT_EQ(interpret(put, make(k::inserted, 5)), std::pair(job_id{5}, ok));
  EXPECT_EQ(interpret(put, make(k::inserted, max_u64)), std::pair(job_id{max_u64}, ok));
  // BURIED <id>: the job exists; the id is kept alongside the error.
  const auto [buried_id, buried_ec] = interpret(put, make(k::buried, 9));
  EXPECT_EQ(buried_id, job_id{9});
  EXPECT_EQ(buried_ec, errc::buried);
  EXPECT_EQ(buried_ec, condition::server_answer);
  EXPECT_EQ(interpret(put, make(k::job_too_big)).second, errc::job_too_big);
  EXPECT_EQ(interpret(put, make(k::draining)).second, errc::draining);
  EXPECT_EQ(interpret(put, make(k::expected_crlf)).second, errc::expected_crlf);
  // A bare BURIED answers bury/release, never put.
  EXPECT_EQ(interpret(put, make(k::buried)).second, condition::protocol_violation);
}

TEST(Commands, Use) {
  EXPECT_EQ(interpret(use_command{.tube = "emails"}, make(k::using_tube, {}, "emails")), ok);
  EXPECT_EQ(interpret(use_command{.tube = "emails"}, make(k::using_tube, {}, "default")),
            errc::unexpected_reply);
}

TEST(Commands, Reserve) {
  const auto [j, ec] = interpret(reserve_command{}, make(k::reserved, max_u64, all_bytes()));
  EXPECT_EQ(ec, ok);
  EXPECT_EQ(j, (job{{max_u64}, all_bytes()}));
  EXPECT_EQ(interpret(reserve_command{}, make(k::reserved, 3, "")).first, (job{{3}, ""}));
  EXPECT_EQ(interpret(reserve_command{}, make(k::deadline_soon)).second, errc::deadline_soon);
  // A reserve without timeout only times out on a half-closed connection: an error.
  EXPECT_EQ(interpret(reserve_command{}, make(k::timed_out)).second, errc::timed_out);
}

TEST(Commands, ReserveWithTimeout) {
  const reserve_with_timeout_command cmd{.timeout = 5s};
  EXPECT_EQ(interpret(cmd, make(k::reserved, 4, "body")),
            std::pair(std::optional(job{{4}, "body"}), ok));
  // No job in time is a normal outcome.
  EXPECT_EQ(interpret(cmd, make(k::timed_out)), std::pair(std::optional<job>{}, ok));
  const auto [j, ec] = interpret(cmd, make(k::deadline_soon));
  EXPECT_FALSE(j);
  EXPECT_EQ(ec, errc::deadline_soon);
}

TEST(Commands, ReserveJob) {
  const reserve_job_command cmd{.id = {4}};
  EXPECT_EQ(interpret(cmd, make(k::reserved, 4, "body")),
            std::pair(std::optional(job{{4}, "body"}), ok));
  EXPECT_EQ(interpret(cmd, make(k::not_found)), std::pair(std::optional<job>{}, ok));
  // A server older than 1.12 reads "reserve-job" as a malformed "reserve".
  EXPECT_EQ(interpret(cmd, make(k::bad_format)).second, errc::reserve_job_unsupported);
  EXPECT_EQ(interpret(cmd, make(k::unknown_command)).second, errc::reserve_job_unsupported);
}

TEST(Commands, TornJobIsCorruptWithItsId) {
  // Every command that gets a job reports a torn one as corrupt, keeping its id (a reserve holds
  // it) and dropping its body (not the one that was put).
  reply r = make(k::reserved, 7, std::string(8, '\0'));
  r.body_torn = true;
  reply f = r;
  f.kind = k::found;
  const job want{{7}, ""};
  EXPECT_EQ(interpret(reserve_command{}, r), std::pair(want, make_error_code(errc::corrupt_job)));
  EXPECT_EQ(interpret(reserve_with_timeout_command{}, r),
            std::pair(std::optional<job>(want), make_error_code(errc::corrupt_job)));
  EXPECT_EQ(interpret(reserve_job_command{{7}}, r),
            std::pair(std::optional<job>(want), make_error_code(errc::corrupt_job)));
  EXPECT_EQ(interpret(peek_command{{7}}, f),
            std::pair(std::optional<job>(want), make_error_code(errc::corrupt_job)));
  EXPECT_EQ(interpret(peek_state_command{job_state::buried}, f),
            std::pair(std::optional<job>(want), make_error_code(errc::corrupt_job)));
  // The connection stays usable: not a protocol violation.
  EXPECT_EQ(make_error_code(errc::corrupt_job), condition::server_answer);
}

TEST(Commands, DeleteReleaseBuryTouch) {
  const job_id id{5};
  EXPECT_EQ(interpret(delete_command{id}, make(k::deleted)), ok);
  EXPECT_EQ(interpret(delete_command{id}, make(k::not_found)), errc::not_found);

  EXPECT_EQ(interpret(release_command{.id = id}, make(k::released)), ok);
  EXPECT_EQ(interpret(release_command{.id = id}, make(k::buried)), errc::buried);
  EXPECT_EQ(interpret(release_command{.id = id}, make(k::not_found)), errc::not_found);
  EXPECT_EQ(interpret(release_command{.id = id}, make(k::buried, 5)),
            condition::protocol_violation);

  EXPECT_EQ(interpret(bury_command{.id = id}, make(k::buried)), ok);
  EXPECT_EQ(interpret(bury_command{.id = id}, make(k::not_found)), errc::not_found);
  EXPECT_EQ(interpret(bury_command{.id = id}, make(k::buried, 5)), condition::protocol_violation);

  EXPECT_EQ(interpret(touch_command{id}, make(k::touched)), ok);
  EXPECT_EQ(interpret(touch_command{id}, make(k::not_found)), errc::not_found);
}

TEST(Commands, WatchIgnore) {
  EXPECT_EQ(interpret(watch_command{.tube = "a"}, make(k::watching, 2)),
            std::pair(std::size_t{2}, ok));
  EXPECT_EQ(interpret(ignore_command{.tube = "a"}, make(k::watching, 1)),
            std::pair(std::size_t{1}, ok));
  EXPECT_EQ(interpret(ignore_command{.tube = "a"}, make(k::not_ignored)).second, errc::not_ignored);
}

TEST(Commands, Peek) {
  const auto found = std::pair(std::optional(job{{8}, "a\r\nb"}), ok);
  const auto none = std::pair(std::optional<job>{}, ok);
  EXPECT_EQ(interpret(peek_command{{8}}, make(k::found, 8, "a\r\nb")), found);
  EXPECT_EQ(interpret(peek_command{{8}}, make(k::not_found)), none);
  for (const auto state : {job_state::ready, job_state::delayed, job_state::buried}) {
    const peek_state_command cmd{.state = state};
    EXPECT_EQ(interpret(cmd, make(k::found, 8, "a\r\nb")), found);
    EXPECT_EQ(interpret(cmd, make(k::not_found)), none);
  }
}

TEST(Commands, KickAndKickJob) {
  EXPECT_EQ(interpret(kick_command{.bound = 10}, make(k::kicked, 3)),
            std::pair(std::uint64_t{3}, ok));
  EXPECT_EQ(interpret(kick_command{.bound = 10}, make(k::kicked, 0)),
            std::pair(std::uint64_t{0}, ok));
  EXPECT_EQ(interpret(kick_command{.bound = 10}, make(k::kicked)).second,
            condition::protocol_violation);  // kick always says how many

  EXPECT_EQ(interpret(kick_job_command{{5}}, make(k::kicked)), ok);
  EXPECT_EQ(interpret(kick_job_command{{5}}, make(k::not_found)), errc::not_found);
  EXPECT_EQ(interpret(kick_job_command{{5}}, make(k::kicked, 1)), condition::protocol_violation);
}

TEST(Commands, StatsAndLists) {
  const auto job_body = fixture("stats-job-1.12.body");
  const auto [js, js_ec] = interpret(stats_job_command{{1}}, make(k::ok, {}, job_body));
  EXPECT_EQ(js_ec, ok) << js_ec.message();
  EXPECT_EQ(js.id, 1U);
  EXPECT_EQ(js.tube, "default");
  EXPECT_EQ(interpret(stats_job_command{{1}}, make(k::not_found)).second, errc::not_found);

  const auto tube_body = fixture("stats-tube-1.12.body");
  const auto [ts, ts_ec] =
      interpret(stats_tube_command{.tube = "default"}, make(k::ok, {}, tube_body));
  EXPECT_EQ(ts_ec, ok) << ts_ec.message();
  EXPECT_EQ(ts.name, "default");
  EXPECT_EQ(interpret(stats_tube_command{.tube = "x"}, make(k::not_found)).second, errc::not_found);

  const auto server_body = fixture("stats-1.12.body");
  const auto [ss, ss_ec] = interpret(stats_command{}, make(k::ok, {}, server_body));
  EXPECT_EQ(ss_ec, ok) << ss_ec.message();
  EXPECT_EQ(ss.version, "1.12");

  const std::vector<std::string> tubes{"default", "emails"};
  const auto list_body = fixture("list-tubes-1.12.body");
  EXPECT_EQ(interpret(list_tubes_command{}, make(k::ok, {}, list_body)), std::pair(tubes, ok));
  EXPECT_EQ(interpret(list_tubes_watched_command{}, make(k::ok, {}, list_body)),
            std::pair(tubes, ok));

  // A body that is not the server's format is a protocol violation, for each of them.
  const reply garbage = make(k::ok, {}, "not yaml at all");
  EXPECT_EQ(interpret(stats_job_command{{1}}, garbage).second, errc::bad_stats);
  EXPECT_EQ(interpret(stats_tube_command{.tube = "x"}, garbage).second, errc::bad_stats);
  EXPECT_EQ(interpret(stats_command{}, garbage).second, errc::bad_stats);
  EXPECT_EQ(interpret(list_tubes_command{}, garbage).second, errc::bad_stats);
  EXPECT_EQ(interpret(list_tubes_watched_command{}, garbage).second, errc::bad_stats);
}

TEST(Commands, ListTubeUsedAndPauseTube) {
  EXPECT_EQ(interpret(list_tube_used_command{}, make(k::using_tube, {}, "jobs")),
            std::pair("jobs"s, ok));
  EXPECT_EQ(interpret(pause_tube_command{.tube = "t"}, make(k::paused)), ok);
  EXPECT_EQ(interpret(pause_tube_command{.tube = "t"}, make(k::not_found)), errc::not_found);
}

// ---------------------------------------------------- every reply against every command

/// A command reduced to the error its interpret() reports, with the replies it may legally get
/// (checked in detail above). Every other reply is either a general error or a protocol violation.
struct any_command {
  const char* name;
  std::function<std::error_code(reply)> errors;
  std::vector<reply> legal;
  bool is_reserve_job = false;
};

template <class Command>
std::function<std::error_code(reply)> errors_of(Command cmd) {
  return [cmd](reply r) {
    std::error_code ec;
    cmd.interpret(std::move(r), ec);
    return ec;
  };
}

std::vector<any_command> every_command() {
  const auto not_found = make(k::not_found);
  const auto found = make(k::found, 1, "x");
  const auto ok_body = make(k::ok, {}, "---\n- default\n");
  return {
      {"put",
       errors_of(put_command{}),
       {make(k::inserted, 1), make(k::buried, 1), make(k::expected_crlf), make(k::job_too_big),
        make(k::draining)}},
      {"use", errors_of(use_command{.tube = "default"}), {make(k::using_tube, {}, "default")}},
      {"reserve",
       errors_of(reserve_command{}),
       {make(k::reserved, 1, "x"), make(k::deadline_soon), make(k::timed_out)}},
      {"reserve-with-timeout",
       errors_of(reserve_with_timeout_command{.timeout = 1s}),
       {make(k::reserved, 1, "x"), make(k::deadline_soon), make(k::timed_out)}},
      {"reserve-job",
       errors_of(reserve_job_command{{1}}),
       {make(k::reserved, 1, "x"), not_found},
       true},
      {"delete", errors_of(delete_command{{1}}), {make(k::deleted), not_found}},
      {"release",
       errors_of(release_command{.id = {1}}),
       {make(k::released), make(k::buried), not_found}},
      {"bury", errors_of(bury_command{.id = {1}}), {make(k::buried), not_found}},
      {"touch", errors_of(touch_command{{1}}), {make(k::touched), not_found}},
      {"watch", errors_of(watch_command{.tube = "a"}), {make(k::watching, 1)}},
      {"ignore",
       errors_of(ignore_command{.tube = "a"}),
       {make(k::watching, 1), make(k::not_ignored)}},
      {"peek", errors_of(peek_command{{1}}), {found, not_found}},
      {"peek-ready", errors_of(peek_state_command{.state = job_state::ready}), {found, not_found}},
      {"peek-delayed",
       errors_of(peek_state_command{.state = job_state::delayed}),
       {found, not_found}},
      {"peek-buried",
       errors_of(peek_state_command{.state = job_state::buried}),
       {found, not_found}},
      {"kick", errors_of(kick_command{.bound = 1}), {make(k::kicked, 1)}},
      {"kick-job", errors_of(kick_job_command{{1}}), {make(k::kicked), not_found}},
      {"stats-job", errors_of(stats_job_command{{1}}), {ok_body, not_found}},
      {"stats-tube", errors_of(stats_tube_command{.tube = "a"}), {ok_body, not_found}},
      {"stats", errors_of(stats_command{}), {ok_body}},
      {"list-tubes", errors_of(list_tubes_command{}), {ok_body}},
      {"list-tube-used", errors_of(list_tube_used_command{}), {make(k::using_tube, {}, "a")}},
      {"list-tubes-watched", errors_of(list_tubes_watched_command{}), {ok_body}},
      {"pause-tube", errors_of(pause_tube_command{.tube = "a"}), {make(k::paused), not_found}},
      {"quit", errors_of(quit_command{}), {}},
  };
}

/// One reply of every kind, with and without a number where the protocol has both.
std::vector<reply> every_reply() {
  return {make(k::inserted, 1),
          make(k::buried),
          make(k::buried, 1),
          make(k::using_tube, {}, "default"),
          make(k::reserved, 1, "x"),
          make(k::deadline_soon),
          make(k::timed_out),
          make(k::deleted),
          make(k::not_found),
          make(k::released),
          make(k::touched),
          make(k::watching, 1),
          make(k::not_ignored),
          make(k::found, 1, "x"),
          make(k::kicked),
          make(k::kicked, 1),
          make(k::ok, {}, "---\n- default\n"),
          make(k::paused),
          make(k::expected_crlf),
          make(k::job_too_big),
          make(k::draining),
          make(k::out_of_memory),
          make(k::internal_error),
          make(k::bad_format),
          make(k::unknown_command)};
}

/// The general errors any command may get, and what they mean.
std::optional<errc> general_error(reply_kind kind) {
  switch (kind) {
    case k::out_of_memory:
      return errc::out_of_memory;
    case k::internal_error:
      return errc::internal_error;
    case k::bad_format:
      return errc::bad_format;
    case k::unknown_command:
      return errc::unknown_command;
    default:
      return std::nullopt;
  }
}

TEST(Commands, EveryReplyToEveryCommand) {
  for (const auto& cmd : every_command()) {
    for (const auto& r : every_reply()) {
      SCOPED_TRACE(::testing::Message() << cmd.name << " <- " << r);
      const auto is_legal = [&](const reply& l) {
        return l.kind == r.kind && l.has_number == r.has_number;
      };
      if (std::any_of(cmd.legal.begin(), cmd.legal.end(), is_legal)) continue;  // see above
      const std::error_code ec = cmd.errors(r);
      if (const auto general = general_error(r.kind)) {
        if (cmd.is_reserve_job && (r.kind == k::bad_format || r.kind == k::unknown_command)) {
          EXPECT_EQ(ec, errc::reserve_job_unsupported);
        } else {
          EXPECT_EQ(ec, *general);
          EXPECT_EQ(ec, condition::server_answer);
        }
        continue;
      }
      // Not the command's reply: a protocol violation, so the connection gets closed. When the
      // reply word is foreign to the command altogether, exactly unexpected_reply.
      EXPECT_EQ(ec, condition::protocol_violation) << ec.message();
      const bool same_word = std::any_of(cmd.legal.begin(), cmd.legal.end(),
                                         [&](const reply& l) { return l.kind == r.kind; });
      if (!same_word) {
        EXPECT_EQ(ec, errc::unexpected_reply) << ec.message();
      }
    }
  }
}

TEST(Commands, EveryLegalReplyIsAccepted) {
  // The legal replies of the table above: never a protocol violation (a server answer at most).
  for (const auto& cmd : every_command()) {
    for (const auto& r : cmd.legal) {
      if (r.kind == k::ok) continue;  // stats/list bodies are checked in StatsAndLists
      const std::error_code ec = cmd.errors(r);
      EXPECT_NE(ec, condition::protocol_violation) << cmd.name << " <- " << r;
    }
  }
}

// ---------------------------------------------------------------------- traits and waits

TEST(Commands, WaitOf) {
  const server_wait reserve = wait_of(reserve_command{});
  EXPECT_TRUE(reserve.unbounded);

  const server_wait timed = wait_of(reserve_with_timeout_command{.timeout = 7s});
  EXPECT_FALSE(timed.unbounded);
  EXPECT_EQ(timed.bounded, 7s);
  EXPECT_EQ(wait_of(reserve_with_timeout_command{.timeout = 0s}).bounded, 0s);

  const auto none = [](const server_wait& w) { return !w.unbounded && w.bounded == 0s; };
  EXPECT_TRUE(none(wait_of(reserve_job_command{{1}})));
  EXPECT_TRUE(none(wait_of(put_command{})));
  EXPECT_TRUE(none(wait_of(delete_command{{1}})));
  EXPECT_TRUE(none(wait_of(peek_state_command{})));
  EXPECT_TRUE(none(wait_of(stats_command{})));
  EXPECT_TRUE(none(wait_of(quit_command{})));
}

TEST(Commands, Traits) {
  EXPECT_FALSE(quit_command::traits.has_reply);
  EXPECT_TRUE(put_command::traits.has_reply);
  EXPECT_TRUE(reserve_command::traits.reserves_job);
  EXPECT_TRUE(reserve_with_timeout_command::traits.reserves_job);
  EXPECT_TRUE(reserve_job_command::traits.reserves_job);
  EXPECT_FALSE(peek_command::traits.reserves_job);
  for (const bool acts :
       {delete_command::traits.acts_on_reserved, release_command::traits.acts_on_reserved,
        bury_command::traits.acts_on_reserved, touch_command::traits.acts_on_reserved}) {
    EXPECT_TRUE(acts);
  }
  for (const bool changes :
       {use_command::traits.changes_tube_state, watch_command::traits.changes_tube_state,
        ignore_command::traits.changes_tube_state}) {
    EXPECT_TRUE(changes);
  }
  EXPECT_FALSE(kick_command::traits.changes_tube_state);
}

}  // namespace
}  // namespace beanpole::proto
