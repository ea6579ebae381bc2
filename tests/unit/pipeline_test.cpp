// The main connection's pipeline, driven without sockets: commands in, what to do checked.
#include "conn/pipeline.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using beanpole::errc;
using beanpole::conn::fifo;
using beanpole::conn::link_state;
using beanpole::conn::lost_outcomes;
using beanpole::conn::request_buffer;
using time_point = std::chrono::steady_clock::time_point;

const time_point t0{std::chrono::seconds{1000}};
const std::error_code aborted = make_error_code(std::errc::operation_canceled);

/// A command as the pipeline sees it.
struct fake_op {
  fake_op(std::string req, bool put = false, bool refused = false)  // NOLINT: test brevity
      : request(std::move(req)), is_put(put), invalid(refused) {}

  std::string request;
  bool is_put = false;
  bool internal = false;
  bool invalid = false;
  fake_op* next = nullptr;
  time_point deadline{};
  std::size_t wire_size = 0;

  std::string_view gathered;  // a body written from where it is

  std::error_code encode_request(std::string& out, std::string_view& body) const {
    if (invalid) {
      out += "half";  // a request refused part-way must leave nothing behind
      return make_error_code(errc::invalid_tube_name);
    }
    out += request;
    body = gathered;
    return {};
  }
};

using pipeline = beanpole::conn::pipeline<fake_op>;

std::vector<std::string> requests(fifo<fake_op>& ops) {
  std::vector<std::string> out;
  while (fake_op* op = ops.pop_front()) out.push_back(op->request);
  return out;
}

TEST(Pipeline, QueuesWhileUpAndAsksForOneFlushPerBatch) {
  pipeline p(8, 3s, aborted);
  fake_op a{"put a\r\n"}, b{"put b\r\n"};
  const auto first = p.submit(a, link_state::up, t0);
  EXPECT_FALSE(first.refused);
  EXPECT_TRUE(first.flush);
  EXPECT_FALSE(first.arm_deadline_timer);
  EXPECT_FALSE(p.submit(b, link_state::up, t0).flush);  // one is already scheduled

  request_buffer bytes;
  fifo<fake_op> ops;
  ASSERT_TRUE(p.take(bytes, ops));
  EXPECT_EQ(bytes.bytes(), "put a\r\nput b\r\n");
  EXPECT_EQ(requests(ops), (std::vector<std::string>{"put a\r\n", "put b\r\n"}));
  EXPECT_EQ(a.wire_size, 7u);
  EXPECT_EQ(a.deadline, time_point{});  // no deadline while up: the reply deadline comes later
  EXPECT_FALSE(p.take(bytes, ops));
  fake_op c{"put c\r\n"};
  EXPECT_TRUE(p.submit(c, link_state::up, t0).flush);  // the last flush took all
}

TEST(Pipeline, RefusesWhenClosedOrDownForGoodAndRefusedRequestsLeaveNoBytes) {
  pipeline p(8, 3s, aborted);
  fake_op a{"a\r\n"}, b{"b\r\n"}, bad{"x", false, true}, c{"c\r\n"};
  EXPECT_EQ(p.submit(a, link_state::closed, t0).refused, aborted);
  EXPECT_EQ(p.submit(b, link_state::idle, t0).refused, errc::not_connected);
  EXPECT_EQ(p.submit(bad, link_state::up, t0).refused, errc::invalid_tube_name);
  EXPECT_EQ(p.outstanding(), 0u);
  EXPECT_FALSE(p.submit(c, link_state::up, t0).refused);
  request_buffer bytes;
  fifo<fake_op> ops;
  ASSERT_TRUE(p.take(bytes, ops));
  EXPECT_EQ(bytes.bytes(), "c\r\n");
}

TEST(Pipeline, TheWindowFillsAndProducersAreWokenOnceHalfIsFree) {
  pipeline p(4, 0ms, aborted);
  std::vector<fake_op> ops(4, fake_op{"x\r\n"});
  for (auto& op : ops) {
    EXPECT_TRUE(p.has_room());
    p.submit(op, link_state::up, t0);
  }
  EXPECT_FALSE(p.has_room());
  EXPECT_EQ(p.outstanding(), 4u);
  EXPECT_FALSE(p.answered());  // 3 left: not yet half free
  EXPECT_TRUE(p.has_room());
  EXPECT_TRUE(p.answered());  // 2 left: wake the producers
  EXPECT_EQ(p.outstanding(), 2u);
}

// The driver's own commands (a `use` sent before a put into a tube) go out in order with the
// others but take no room in the window: they have no handler to wake a producer.
TEST(Pipeline, TheDriversOwnCommandsAreSentInOrderButNotCounted) {
  pipeline p(2, 3s, aborted);
  fake_op use{"use t\r\n"}, put{"put a\r\n"};
  use.internal = true;
  EXPECT_TRUE(p.submit(use, link_state::up, t0).flush);
  EXPECT_EQ(p.outstanding(), 0u);
  EXPECT_FALSE(p.submit(put, link_state::up, t0).flush);
  EXPECT_EQ(p.outstanding(), 1u);
  request_buffer bytes;
  fifo<fake_op> ops;
  ASSERT_TRUE(p.take(bytes, ops));
  EXPECT_EQ(bytes.bytes(), "use t\r\nput a\r\n");
}

TEST(Pipeline, ACommandWaitsForAConnectionAtMostTheWaitLimit) {
  pipeline p(8, 3s, aborted);
  fake_op a{"a\r\n"}, b{"bb\r\n"}, c{"c\r\n"};
  // Issue 11.3: while connecting, a command gets a deadline; the first one arms the timer.
  const auto first = p.submit(a, link_state::connecting, t0);
  EXPECT_TRUE(first.arm_deadline_timer);
  EXPECT_FALSE(first.flush);  // nothing to write to yet: the connection flushes when up
  EXPECT_FALSE(p.submit(b, link_state::waiting_retry, t0 + 1s).arm_deadline_timer);
  EXPECT_EQ(p.next_deadline(), t0 + 3s);

  auto expired = p.expire(t0 + 3s);  // a is due; b waits until t0 + 4 s
  EXPECT_EQ(requests(expired), (std::vector<std::string>{"a\r\n"}));
  EXPECT_EQ(p.next_deadline(), t0 + 4s);
  EXPECT_TRUE(p.expire(t0 + 3500ms).empty());

  // Up before b's deadline: b and c are written, and nothing of a's request.
  p.on_up();
  p.submit(c, link_state::up, t0 + 3600ms);
  request_buffer bytes;
  fifo<fake_op> ops;
  ASSERT_TRUE(p.take(bytes, ops));
  EXPECT_EQ(bytes.bytes(), "bb\r\nc\r\n");
}

TEST(Pipeline, ADropWithARetryGivesQueuedCommandsADeadlineAndWithoutOneFailsThem) {
  pipeline p(8, 2s, aborted);
  fake_op a{"a\r\n"}, b{"b\r\n"};
  p.submit(a, link_state::up, t0);
  bool arm = false;
  EXPECT_TRUE(p.on_down(t0 + 1s, /*retrying=*/true, arm).empty());
  EXPECT_TRUE(arm);
  EXPECT_EQ(p.next_deadline(), t0 + 3s);
  p.submit(b, link_state::waiting_retry, t0 + 2s);  // the timer is armed already
  EXPECT_EQ(b.deadline, t0 + 4s);

  auto stranded = p.on_down(t0 + 2500ms, /*retrying=*/false, arm);  // given up
  EXPECT_FALSE(arm);
  EXPECT_EQ(requests(stranded), (std::vector<std::string>{"a\r\n", "b\r\n"}));
  request_buffer bytes;
  fifo<fake_op> ops;
  EXPECT_FALSE(p.take(bytes, ops));
  EXPECT_TRUE(bytes.empty());
}

TEST(Pipeline, NoWaitLimitMeansNoDeadline) {
  pipeline p(8, 0ms, aborted);
  fake_op a{"a\r\n"};
  EXPECT_FALSE(p.submit(a, link_state::connecting, t0).arm_deadline_timer);
  EXPECT_EQ(p.next_deadline(), std::nullopt);
  EXPECT_TRUE(p.expire(t0 + 1000s).empty());
}

TEST(Pipeline, AfterAnOutageTheTimerIsArmedAgain) {
  pipeline p(8, 1s, aborted);
  fake_op a{"a\r\n"}, b{"b\r\n"};
  EXPECT_TRUE(p.submit(a, link_state::connecting, t0).arm_deadline_timer);
  p.on_up();  // the driver cancelled the timer
  request_buffer bytes;
  fifo<fake_op> ops;
  p.take(bytes, ops);
  EXPECT_TRUE(p.submit(b, link_state::waiting_retry, t0 + 5s).arm_deadline_timer);
}

TEST(Pipeline, ALargeBodyStaysWhereItIsAndAnExpiredPutTakesItAlong) {
  pipeline p(8, 1s, aborted);
  const std::string big(100, 'x');
  fake_op a{"put 0 0 60 100\r\n"}, b{"put 0 0 60 100\r\n"}, c{"stats\r\n"};
  a.gathered = b.gathered = big;
  p.submit(a, link_state::connecting, t0);
  p.submit(b, link_state::connecting, t0 + 2s);
  p.submit(c, link_state::connecting, t0 + 2s);
  EXPECT_EQ(a.wire_size, 16u + 100u + 2u);

  auto expired = p.expire(t0 + 1s);  // a: its line, its body and its CRLF go
  EXPECT_EQ(requests(expired).size(), 1u);
  p.on_up();
  request_buffer bytes;
  fifo<fake_op> ops;
  ASSERT_TRUE(p.take(bytes, ops));
  EXPECT_EQ(bytes.bytes(), "put 0 0 60 100\r\n\r\nstats\r\n");
  ASSERT_EQ(bytes.externals().size(), 1u);
  EXPECT_EQ(bytes.externals()[0].at, 16u);
  EXPECT_EQ(bytes.externals()[0].bytes.data(), big.data());  // never copied
  EXPECT_EQ(bytes.size(), 16u + 100u + 2u + 7u);
}

TEST(Pipeline, LostOutcomes) {
  fake_op put{"put\r\n", true}, del{"delete\r\n"}, stats{"stats\r\n"}, later{"later\r\n", true};
  std::vector<std::pair<std::string, std::error_code>> got;
  auto record = [&](fake_op* op, std::error_code ec) { got.emplace_back(op->request, ec); };

  // A reply timeout: the oldest command is the one it was about; a put is never "failed".
  fifo<fake_op> written, unwritten;
  written.push_back(&del);
  written.push_back(&put);
  written.push_back(&stats);
  unwritten.push_back(&later);
  lost_outcomes(written, unwritten, make_error_code(errc::reply_timeout), false, record);
  EXPECT_EQ(got, (decltype(got){{"delete\r\n", make_error_code(errc::reply_timeout)},
                                {"put\r\n", make_error_code(errc::outcome_unknown)},
                                {"stats\r\n", make_error_code(errc::connection_lost)},
                                {"later\r\n", make_error_code(errc::connection_lost)}}));

  // The caller's own close: what was never sent says so too.
  got.clear();
  written.push_back(&stats);
  unwritten.push_back(&later);
  lost_outcomes(written, unwritten, aborted, true, record);
  EXPECT_EQ(got, (decltype(got){{"stats\r\n", aborted}, {"later\r\n", aborted}}));
}

}  // namespace
