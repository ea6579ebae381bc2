// The blocking client against a real beanstalkd: put and use, job bodies, job size limits,
// 64-bit ids, drain mode.
//
// Put answers that cannot be provoked against a real server, and so are not tested here:
// - `BURIED <id>` (errc::buried with the id): the server answers it only when it runs out of
//   memory growing a tube's ready heap, which cannot be forced from a test.
// - `EXPECTED_CRLF`: the client always ends the body with CRLF itself; there is no API to send a
//   malformed put.
// - `OUT_OF_MEMORY`, `INTERNAL_ERROR`, `BAD_FORMAT`, `UNKNOWN_COMMAND`: the client only sends
//   well-formed commands with validated arguments.
#include <sys/stat.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include "server_test.hpp"
#include "test_helpers.hpp"

namespace beanpole::testing {
namespace {

class ClientPut : public server_test {};

TEST_F(ClientPut, PutReturnsIncreasingIdsAndTheJobIsThere) {
  auto c = make_client();
  const job_id a = c.put("a");
  const job_id b = c.put("b");
  EXPECT_GT(a.value, 0U);
  EXPECT_GT(b, a);
  const auto ja = c.peek(a);
  ASSERT_TRUE(ja.has_value());
  EXPECT_EQ(ja->id, a);
  EXPECT_EQ(ja->body, "a");
  const auto st = c.stats_job(b);
  EXPECT_EQ(st.id, b.value);
  EXPECT_EQ(st.tube, tube().str());
  EXPECT_EQ(st.state, "ready");
}

TEST_F(ClientPut, PutOptionsReachTheServer) {
  auto c = make_client();
  const job_id id = c.put("x", put_options{.pri = 17, .delay = 0s, .ttr = 42s});
  const auto st = c.stats_job(id);
  EXPECT_EQ(st.pri, 17U);
  EXPECT_EQ(st.ttr, 42U);
  EXPECT_EQ(st.delay, 0U);
  EXPECT_EQ(st.state, "ready");

  const job_id delayed = c.put("y", put_options{.pri = 3, .delay = 100s, .ttr = 5s});
  const auto sd = c.stats_job(delayed);
  EXPECT_EQ(sd.state, "delayed");
  EXPECT_EQ(sd.delay, 100U);
  EXPECT_GE(sd.time_left, 98U);
  EXPECT_LE(sd.time_left, 100U);
}

TEST_F(ClientPut, DefaultPutOptions) {
  auto c = make_client();
  const auto st = c.stats_job(c.put("x"));
  EXPECT_EQ(st.pri, default_priority);
  EXPECT_EQ(st.delay, 0U);
  EXPECT_EQ(st.ttr, 60U);
}

TEST_F(ClientPut, TtrZeroBecomesOne) {
  auto c = make_client();
  const auto st = c.stats_job(c.put("x", put_options{.pri = 1, .delay = 0s, .ttr = 0s}));
  EXPECT_EQ(st.ttr, 1U);
}

TEST_F(ClientPut, UseSelectsTheTubeOfLaterPuts) {
  auto c = make_plain_client();
  EXPECT_EQ(c.list_tube_used(), "default");
  const auto other = unique_tube("other");
  c.use(other);
  EXPECT_EQ(c.list_tube_used(), other.str());
  const job_id id = c.put("in other");
  EXPECT_EQ(c.stats_job(id).tube, other.str());
  c.use(tube());
  EXPECT_EQ(c.stats_job(c.put("in mine")).tube, tube().str());
  std::error_code ec;
  c.use(other, ec);
  EXPECT_FALSE(ec);
  EXPECT_EQ(c.list_tube_used(ec), other.str());
}

TEST_F(ClientPut, BinaryBodiesRoundTripByteExact) {
  auto c = make_client();
  std::string every_byte_twice = all_bytes() + all_bytes();
  const std::vector<std::string> bodies = {
      all_bytes(),
      every_byte_twice,
      std::string("\r\n"),
      std::string("a\r\nb"),
      std::string("ends with crlf\r\n"),
      std::string("\r\n\r\n\r\n"),
      std::string(3, '\0'),
      std::string("RESERVED 1 5\r\nhello\r\n"),
      std::string("\n"),
      std::string("\r"),
      std::string(),
  };
  std::vector<job_id> ids;
  for (const auto& b : bodies) ids.push_back(c.put(b));
  for (std::size_t i = 0; i < bodies.size(); ++i) {
    const auto peeked = c.peek(ids[i]);
    ASSERT_TRUE(peeked.has_value()) << i;
    EXPECT_EQ(peeked->body, bodies[i]) << "peek, body " << i;
  }
  for (std::size_t i = 0; i < bodies.size(); ++i) {
    auto j = c.reserve_with_timeout(0s);
    ASSERT_TRUE(j.has_value()) << i;
    EXPECT_EQ(j->id(), ids[i]);
    EXPECT_EQ(j->body(), bodies[i]) << "reserve, body " << i;
    EXPECT_EQ(j->body().size(), bodies[i].size());
    j->remove();
  }
}

TEST_F(ClientPut, EmptyBody) {
  auto c = make_client();
  const job_id id = c.put("");
  auto j = c.reserve_with_timeout(0s);
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ(j->id(), id);
  EXPECT_TRUE(j->body().empty());
  j->remove();
  EXPECT_TRUE(still_usable(c));
}

TEST_F(ClientPut, DefaultMaxJobSizeIsAcceptedOneMoreIsTooBig) {
  auto c = make_client();
  const auto max = c.stats().max_job_size;
  ASSERT_EQ(max, 65535U);
  std::string body(max, 'm');
  body.front() = '\r';
  body.back() = '\n';
  const job_id id = c.put(body);
  const auto j = c.peek(id);
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ(j->body, body);

  std::error_code ec;
  c.put(std::string(max + 1, 'x'), {}, ec);
  EXPECT_EQ(ec, errc::job_too_big);
  EXPECT_TRUE(still_usable(c));
}

// ------------------------------------------------------------------------- -z 100 (JOB_TOO_BIG)

class ClientSmallJobs : public server_test {
 public:
  static void SetUpTestSuite() { start_suite_server(server_options{}.with_args({"-z", "100"})); }
};

TEST_F(ClientSmallJobs, ExactlyMaxJobSizeIsAccepted) {
  auto c = make_client();
  EXPECT_EQ(c.stats().max_job_size, 100U);
  const std::string body(100, 'x');
  const job_id id = c.put(body);
  const auto j = c.peek(id);
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ(j->body, body);
}

TEST_F(ClientSmallJobs, OneByteMoreIsJobTooBigAndTheConnectionStaysUsable) {
  auto c = make_client();
  std::error_code ec;
  const job_id none = c.put(std::string(101, 'x'), {}, ec);
  EXPECT_EQ(ec, errc::job_too_big);
  EXPECT_EQ(ec, condition::server_answer);
  EXPECT_EQ(status_word(ec), "JOB_TOO_BIG");
  EXPECT_EQ(none.value, 0U);
  EXPECT_TRUE(c.is_open());
  // The next command works, and the stream is in step: a job put now comes back intact.
  EXPECT_TRUE(still_usable(c));
  const job_id id = c.put("after");
  auto j = c.reserve_with_timeout(0s);
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ(j->id(), id);
  EXPECT_EQ(j->body(), "after");
  j->remove();
}

TEST_F(ClientSmallJobs, JobTooBigThrowsInTheThrowingForm) {
  auto c = make_client();
  try {
    c.put(std::string(101, 'x'));
    FAIL() << "no exception";
  } catch (const beanpole::error& e) {
    EXPECT_EQ(e.code(), errc::job_too_big);
    EXPECT_FALSE(e.job().has_value());
  }
  EXPECT_TRUE(still_usable(c));
  EXPECT_EQ(c.put("ok").value > 0, true);
}

TEST_F(ClientSmallJobs, AHugeBodyIsRefusedAndSkippedByTheServer) {
  // The server reads and discards the announced body; the client must not get out of step.
  auto c = make_client();
  std::error_code ec;
  c.put(std::string(200000, '\n'), {}, ec);
  EXPECT_EQ(ec, errc::job_too_big);
  EXPECT_TRUE(still_usable(c));
  const job_id id = c.put("x");
  EXPECT_EQ(c.peek(id)->body, "x");
}

// ---------------------------------------------------------------- bodies beyond 64 KiB (-z 2 MiB)

class ClientLargeJobs : public server_test {
 public:
  static void SetUpTestSuite() {
    start_suite_server(server_options{}.with_args({"-z", "2097152"}));
  }
};

TEST_F(ClientLargeJobs, OneMebibyteOfRandomBytesRoundTrips) {
  auto c = make_client();
  std::mt19937 rng(12345);
  std::string body(1 << 20, '\0');
  for (auto& ch : body) ch = static_cast<char>(rng() & 0xff);
  const job_id id = c.put(body);
  const auto peeked = c.peek(id);
  ASSERT_TRUE(peeked.has_value());
  EXPECT_TRUE(peeked->body == body) << "peek body differs";
  auto j = c.reserve_with_timeout(0s);
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ(j->id(), id);
  EXPECT_TRUE(j->body() == body) << "reserve body differs";
  const std::string taken = j->take_body();
  EXPECT_EQ(taken.size(), body.size());
  EXPECT_TRUE(j->body().empty());
  j->remove();
}

TEST_F(ClientLargeJobs, ManyMixedSizesInARow) {
  auto c = make_client();
  std::vector<std::string> bodies;
  for (std::size_t n : {0UL, 1UL, 65535UL, 65536UL, 65537UL, 131072UL, 3UL, 200000UL}) {
    std::string b(n, '\0');
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<char>((i * 7 + n) & 0xff);
    bodies.push_back(std::move(b));
  }
  for (const auto& b : bodies) c.put(b);
  for (const auto& b : bodies) {
    auto j = c.reserve_with_timeout(0s);
    ASSERT_TRUE(j.has_value());
    EXPECT_TRUE(j->body() == b) << "size " << b.size();
    j->remove();
  }
}

// ----------------------------------------------------------------------------------- 64-bit ids

class ClientBigIds : public server_test {};

// Ids of real jobs above 2^32 (and above 2^53, where a double would lose digits). The server
// numbers jobs from 1, so the test gives it a binlog whose one job has a huge id: after a restart
// the server loads it and numbers new jobs after it (job.c: `if (id >= next_id) next_id = id+1`).
// The binlog is the server's own, written for a job put here; only the id is patched. Layout of
// the 1.12 binlog: int version, then per job: int name_len, name, Jobrec (uint64 id first), body.
TEST_F(ClientBigIds, JobsWithIdsAbove2Pow53) {
  beanstalkd_server bin(server_options{}.with_binlog().with_args({"-F"}));
  const std::uint64_t big = (std::uint64_t{1} << 62) + 12345;
  job_id original;
  {
    client c(bin.endpoint(), client_options());
    c.use(tube());
    original = c.put("big one");
  }
  bin.stop();
  const auto file = bin.binlog_dir() / "binlog.1";
  ASSERT_TRUE(std::filesystem::exists(file)) << "no binlog.1 in " << bin.binlog_dir();
  std::filesystem::permissions(file, std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::add);
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.good());
    std::int32_t version = 0;
    std::int32_t name_len = 0;
    f.read(reinterpret_cast<char*>(&version), sizeof version);
    f.read(reinterpret_cast<char*>(&name_len), sizeof name_len);
    ASSERT_EQ(name_len, static_cast<std::int32_t>(tube().str().size()))
        << "unexpected binlog layout (version " << version << ")";
    std::string name(static_cast<std::size_t>(name_len), '\0');
    f.read(name.data(), name_len);
    ASSERT_EQ(name, tube().str());
    const auto id_at = f.tellg();
    std::uint64_t id = 0;
    f.read(reinterpret_cast<char*>(&id), sizeof id);
    ASSERT_EQ(id, original.value) << "unexpected binlog layout";
    f.seekp(id_at);
    f.write(reinterpret_cast<const char*>(&big), sizeof big);
    ASSERT_TRUE(f.good());
  }
  bin.restart();

  client c(bin.endpoint(), client_options());
  c.use(tube());
  c.watch(tube());
  c.ignore("default");
  const auto loaded = c.peek(job_id{big});
  ASSERT_TRUE(loaded.has_value()) << "the server did not load the patched job\n" << bin.log();
  EXPECT_EQ(loaded->id.value, big);
  EXPECT_EQ(loaded->body, "big one");
  EXPECT_EQ(c.stats_job(job_id{big}).id, big);

  const job_id next = c.put("after the big one");
  EXPECT_EQ(next.value, big + 1);
  EXPECT_EQ(c.stats_job(next).id, big + 1);

  auto j = c.reserve_with_timeout(0s);
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ(j->id().value, big);
  j->touch();
  j->release(5, 0s);
  j = c.reserve_job(job_id{big});
  ASSERT_TRUE(j.has_value());
  j->bury(7);
  EXPECT_EQ(c.peek_buried()->id.value, big);
  c.kick_job(job_id{big});
  EXPECT_EQ(c.stats_job(job_id{big}).kicks, 1U);
  c.remove(job_id{big});
  c.remove(next);
  std::error_code ec;
  c.remove(job_id{big}, ec);
  EXPECT_EQ(ec, errc::not_found);
}

TEST_F(ClientBigIds, HugeIdsThatDoNotExistAreNotFound) {
  auto c = make_client();
  for (const std::uint64_t id :
       {std::uint64_t{1} << 32, (std::uint64_t{1} << 53) + 1, ~std::uint64_t{0}}) {
    std::error_code ec;
    EXPECT_FALSE(c.peek(job_id{id}).has_value()) << id;
    c.remove(job_id{id}, ec);
    EXPECT_EQ(ec, errc::not_found) << id;
    c.stats_job(job_id{id}, ec);
    EXPECT_EQ(ec, errc::not_found) << id;
    c.kick_job(job_id{id}, ec);
    EXPECT_EQ(ec, errc::not_found) << id;
    EXPECT_FALSE(c.reserve_job(job_id{id}).has_value()) << id;
  }
  EXPECT_TRUE(still_usable(c));
}

// ----------------------------------------------------------------------------------- drain mode

class ClientDraining : public server_test {};

TEST_F(ClientDraining, PutOnADrainingServerIsRefused) {
  auto c = make_client();
  const job_id before = c.put("before");
  server().signal(SIGUSR1);  // beanstalkd enters drain mode
  ASSERT_TRUE(eventually([&] { return c.stats().draining; }));
  std::error_code ec;
  c.put("during", {}, ec);
  EXPECT_EQ(ec, errc::draining);
  EXPECT_EQ(status_word(ec), "DRAINING");
  EXPECT_TRUE(throws_errc([&] { c.put("during"); }, errc::draining));
  // Everything else still works, including reserving what is there.
  auto j = c.reserve_with_timeout(0s);
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ(j->id(), before);
  j->remove();
  // Drain mode cannot be left: give later tests of this suite a fresh server.
  start_suite_server({});
}

}  // namespace
}  // namespace beanpole::testing
