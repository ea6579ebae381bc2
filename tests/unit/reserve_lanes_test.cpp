// The reserve-connection machine, driven without sockets: events in, actions checked.
#include "conn/reserve_lanes.hpp"

#include <gtest/gtest.h>

#include <system_error>

namespace {

using namespace std::chrono_literals;
using beanpole::job_id;
using beanpole::conn::act;
using beanpole::conn::lane_action;
using beanpole::conn::lane_config;
using beanpole::conn::reserve_lanes;
using kind = lane_action::kind;

const beanpole::conn::time_point t0{};
const std::error_code aborted = make_error_code(std::errc::operation_canceled);
const std::error_code refused = make_error_code(std::errc::connection_refused);

lane_action open(std::uint64_t lane) {
  return act(kind::open, lane);
}
lane_action send(std::uint64_t lane, std::uint64_t op,
                 std::optional<std::chrono::seconds> timeout = std::nullopt) {
  return act(kind::send_reserve, lane, op, {}, {}, timeout);
}
lane_action complete(std::uint64_t op, std::error_code ec = {}) {
  return act(kind::complete, 0, op, {}, ec);
}
lane_action queued(std::uint64_t op) {
  return act(kind::queued, 0, op);
}
lane_action close(std::uint64_t lane, std::error_code ec, std::uint64_t op = 0) {
  return act(kind::close, lane, op, {}, ec);
}
lane_action probe(std::uint64_t lane, job_id job) {
  return act(kind::probe, lane, 0, job);
}
using actions = std::vector<lane_action>;

reserve_lanes machine(std::size_t max_lanes, bool retry = false) {
  lane_config c;
  c.max_lanes = max_lanes;
  c.retry_failed_opens = retry;
  c.retry = beanpole::backoff{100ms, 1000ms, 0.0};
  return reserve_lanes(c);
}

TEST(ReserveLanes, OpensALanePerWaitingReserveAndSendsOnceOpen) {
  auto m = machine(4);
  m.on_request(1, std::nullopt, t0);
  m.on_request(2, 5s, t0);
  EXPECT_EQ(m.take_actions(), (actions{open(1), open(2)}));
  m.on_opened(2, t0 + 100ms);
  m.on_opened(1, t0 + 200ms);
  // The oldest reserve goes to the first lane that is ready; its wait counts from the request.
  EXPECT_EQ(m.take_actions(), (actions{send(2, 1), send(1, 2, 5s)}));  // 4.8 s left
}

TEST(ReserveLanes, AJobStaysWithItsLaneUntilSettled) {
  auto m = machine(1);
  m.on_request(1, std::nullopt, t0);
  m.on_opened(1, t0);
  m.on_reserved(1, job_id{42}, t0);
  EXPECT_EQ(m.holder(job_id{42}), 1u);
  m.on_request(2, std::nullopt, t0);
  (void)m.take_actions();
  m.on_job_settled(1, job_id{42}, t0 + 1s);
  EXPECT_EQ(m.holder(job_id{42}), std::nullopt);
  EXPECT_EQ(m.take_actions(), (actions{send(1, 2)}));  // the lane is free: next reserve
}

// Defect (issue 11.1): with every reserve connection taken, a reserve-with-timeout must still
// end when its time is up, not when a lane frees.
TEST(ReserveLanes, QueuedReserveWithTimeoutEndsOnTimeWhenEveryLaneIsTaken) {
  auto m = machine(1);
  m.on_request(1, std::nullopt, t0);
  m.on_opened(1, t0);
  m.on_reserved(1, job_id{7}, t0);
  (void)m.take_actions();
  m.on_request(2, 1s, t0 + 10ms);
  EXPECT_EQ(m.take_actions()[0], queued(2));
  EXPECT_EQ(m.next_timer(), t0 + 10ms + 1s);
  m.on_timer(t0 + 1010ms);
  const auto done = m.take_actions();
  ASSERT_FALSE(done.empty());
  EXPECT_EQ(done[0], complete(2));  // no error: "no job in time"
  EXPECT_EQ(m.queued(), 0u);
}

TEST(ReserveLanes, TwoWaitingReservesAndAReserveWithTimeoutAtLimitTwo) {
  auto m = machine(2);
  m.on_request(1, std::nullopt, t0);
  m.on_request(2, std::nullopt, t0);
  m.on_opened(1, t0);
  m.on_opened(2, t0);
  m.on_request(3, 1s, t0);
  auto a = m.take_actions();
  EXPECT_EQ(a.back(), queued(3));
  m.on_timer(t0 + 1s);
  EXPECT_EQ(m.take_actions(), (actions{complete(3)}));
}

TEST(ReserveLanes, ReserveWithTimeoutSentLateAsksForWhatIsLeft) {
  auto m = machine(1);
  m.on_request(1, 3s, t0);
  m.on_opened(1, t0 + 2600ms);
  EXPECT_EQ(m.take_actions(), (actions{open(1), send(1, 1, 0s)}));  // 0.4 s left: ask, don't wait
}

// Defect (issue 11.2): after shutdown, closing lanes must not serve queued reserves by opening
// new ones.
TEST(ReserveLanes, ShutdownFailsTheQueueClosesLanesAndOpensNothingAgain) {
  auto m = machine(2);
  for (std::uint64_t op = 1; op <= 4; ++op) m.on_request(op, std::nullopt, t0);
  m.on_opened(1, t0);
  m.on_opened(2, t0);
  (void)m.take_actions();
  m.on_shutdown(aborted);
  EXPECT_EQ(m.take_actions(), (actions{complete(3, aborted), complete(4, aborted),
                                       close(1, aborted), close(2, aborted)}));
  m.on_closed(1, aborted, t0);
  m.on_closed(2, aborted, t0);
  m.on_request(5, std::nullopt, t0);
  EXPECT_EQ(m.take_actions(), (actions{complete(5, aborted)}));
  EXPECT_EQ(m.lanes(), 0u);
}

// Defect (issue 11.2): one lane failing to open must not fail reserves that open lanes can serve.
TEST(ReserveLanes, AFailedOpenLeavesTheQueueToTheLanesStillOpen) {
  auto m = machine(3);
  m.on_request(1, std::nullopt, t0);
  m.on_opened(1, t0);
  m.on_reserved(1, job_id{9}, t0);
  m.on_request(2, std::nullopt, t0);
  m.on_request(3, std::nullopt, t0);
  EXPECT_EQ(m.take_actions(), (actions{open(1), send(1, 1), open(2), open(3)}));
  m.on_open_failed(2, make_error_code(std::errc::too_many_files_open), t0, 0.0);
  m.on_open_failed(3, make_error_code(std::errc::too_many_files_open), t0, 0.0);
  EXPECT_TRUE(m.take_actions().empty());  // nothing failed: lane 1 will serve them
  m.on_job_settled(1, job_id{9}, t0 + 10ms);
  EXPECT_EQ(m.take_actions(), (actions{send(1, 2)}));
}

TEST(ReserveLanes, WithoutLanesOrRetryAFailedOpenFailsTheQueue) {
  auto m = machine(2);
  m.on_request(1, std::nullopt, t0);
  (void)m.take_actions();
  m.on_open_failed(1, refused, t0, 0.0);
  EXPECT_EQ(m.take_actions(), (actions{complete(1, refused)}));
}

TEST(ReserveLanes, WithRetryAFailedOpenIsTriedAgainAfterTheBackoff) {
  auto m = machine(2, /*retry=*/true);
  m.on_request(1, std::nullopt, t0);
  (void)m.take_actions();
  m.on_open_failed(1, refused, t0, 0.0);
  EXPECT_TRUE(m.take_actions().empty());
  EXPECT_EQ(m.next_timer(), t0 + 100ms);
  m.on_timer(t0 + 50ms);
  EXPECT_TRUE(m.take_actions().empty());  // not yet
  m.on_timer(t0 + 100ms);
  EXPECT_EQ(m.take_actions(), (actions{open(2)}));
  m.on_open_failed(2, refused, t0 + 100ms, 0.0);
  EXPECT_EQ(m.next_timer(), t0 + 300ms);  // doubled
}

TEST(ReserveLanes, CancelTakesAQueuedReserveOutOrClosesItsLane) {
  auto m = machine(1);
  m.on_request(1, std::nullopt, t0);
  m.on_opened(1, t0);
  m.on_request(2, std::nullopt, t0);
  (void)m.take_actions();
  m.on_cancel(2, aborted);
  EXPECT_EQ(m.take_actions(), (actions{complete(2, aborted)}));
  m.on_cancel(1, aborted);
  EXPECT_EQ(m.take_actions(), (actions{close(1, aborted, 1)}));
}

TEST(ReserveLanes, ALaneThatDropsReportsItsJobsAsLost) {
  auto m = machine(2);
  m.on_request(1, std::nullopt, t0);
  m.on_opened(1, t0);
  m.on_reserved(1, job_id{5}, t0);
  (void)m.take_actions();
  const auto lost = make_error_code(std::errc::connection_reset);
  m.on_closed(1, lost, t0);
  EXPECT_EQ(m.take_actions(), (actions{act(kind::lost_reservation, 1, 0, job_id{5}, lost)}));
  EXPECT_EQ(m.holder(job_id{5}), std::nullopt);
}

TEST(ReserveLanes, HeldJobsAreProbedWhenEveryLaneIsTakenAndFreedWhenNoLongerReserved) {
  auto m = machine(1);
  m.on_request(1, std::nullopt, t0);
  m.on_opened(1, t0);
  m.on_reserved(1, job_id{3}, t0);
  (void)m.take_actions();
  m.on_request(2, std::nullopt, t0);
  EXPECT_EQ(m.take_actions(), (actions{queued(2), probe(1, job_id{3})}));
  m.on_probe_answer(1, job_id{3}, /*still_reserved=*/true, t0 + 1ms);
  EXPECT_TRUE(m.take_actions().empty());
  EXPECT_EQ(m.next_timer(), t0 + 1ms + 1s);  // asked again a second later
  m.on_timer(t0 + 1ms + 1s);
  EXPECT_EQ(m.take_actions(), (actions{probe(1, job_id{3})}));
  m.on_probe_answer(1, job_id{3}, /*still_reserved=*/false, t0 + 2s);
  EXPECT_EQ(m.take_actions(), (actions{send(1, 2)}));
}

}  // namespace
