// The outcome of a finished handler, without sockets: what the handler did (returned, threw,
// decided through its context) and what the server said of the job go in; whether the run
// failed and the one command that settles the job come out.
#include <gtest/gtest.h>

#include <ostream>

// An internal header (the engine's pure decision), included by path: unit tests see only the
// public include directory.
#include "../../src/worker/outcome.hpp"

namespace beanpole::detail {

std::ostream& operator<<(std::ostream& os, const final_command& c) {
  static const char* const kinds[] = {"delete", "release", "bury"};
  static const char* const counters[] = {"deleted", "retried", "buried", "released"};
  return os << kinds[static_cast<int>(c.what)] << " pri " << c.pri << " delay " << c.delay.count()
            << "s counts " << counters[static_cast<int>(c.counter)] << " reason '" << c.reason
            << "'";
}

std::ostream& operator<<(std::ostream& os, const handler_outcome& o) {
  os << (o.failed ? "failed ('" + o.failure + "'), " : std::string("ok, "));
  if (o.command) return os << *o.command;
  return os << "no command";
}

namespace {

using namespace std::chrono_literals;

worker_options retry_options() {
  worker_options o;
  o.max_attempts = 3;
  o.backoff.initial = 10s;
  o.backoff.max = 300s;
  o.backoff.jitter = 0;
  return o;
}

/// A handler that ran on a job of priority 50 reserved `reserves` times.
finished_handler finished(std::uint64_t reserves = 1) {
  finished_handler f;
  f.pri = 50;
  f.reserves = reserves;
  return f;
}

finished_handler threw(std::string message, std::uint64_t reserves = 1) {
  auto f = finished(reserves);
  f.result.ok = false;
  f.result.message = std::move(message);
  return f;
}

handler_decision decided(handler_decision::kind what) {
  handler_decision d;
  d.what = what;
  return d;
}

final_command command(final_command::kind what, priority pri, std::chrono::seconds delay,
                      final_command::counts counter, std::string reason = {}) {
  return final_command{what, pri, delay, counter, std::move(reason), {}};
}

handler_outcome outcome(bool failed, std::string failure, std::optional<final_command> c) {
  return handler_outcome{failed, std::move(failure), std::move(c)};
}

using kind = final_command::kind;
using counts = final_command::counts;

TEST(worker_outcome_decision, returning_deletes_the_job) {
  EXPECT_EQ(decide_outcome(finished(), retry_options(), 0.5),
            outcome(false, "", command(kind::remove, 50, 0s, counts::deleted)));
}

TEST(worker_outcome_decision, throwing_retries_with_backoff_by_the_servers_count) {
  EXPECT_EQ(decide_outcome(threw("boom", 1), retry_options(), 0.5),
            outcome(true, "boom", command(kind::release, 50, 10s, counts::retried)));
  EXPECT_EQ(decide_outcome(threw("boom", 2), retry_options(), 0.5),
            outcome(true, "boom", command(kind::release, 50, 20s, counts::retried)));
}

TEST(worker_outcome_decision, the_last_allowed_attempt_buries) {
  EXPECT_EQ(decide_outcome(threw("boom", 3), retry_options(), 0.5),
            outcome(true, "boom", command(kind::bury, 50, 0s, counts::buried)));
  auto never = retry_options();
  never.max_attempts = 0;
  EXPECT_EQ(decide_outcome(threw("boom", 40), never, 0.5),
            outcome(true, "boom", command(kind::release, 50, 300s, counts::retried)))
      << "max_attempts 0: retried forever, at the cap";
}

TEST(worker_outcome_decision, fail_through_the_context_is_a_failure_with_its_reason) {
  auto f = finished(1);
  f.decision = decided(handler_decision::kind::fail);
  f.decision->reason = "bad input";
  EXPECT_EQ(decide_outcome(f, retry_options(), 0.5),
            outcome(true, "bad input", command(kind::release, 50, 10s, counts::retried)));
  f.result.ok = false;
  f.result.message = "and then threw";
  EXPECT_EQ(decide_outcome(f, retry_options(), 0.5).failure, "and then threw")
      << "the exception's text wins over fail's reason";
}

TEST(worker_outcome_decision, explicit_release_and_bury_use_the_jobs_priority_unless_given) {
  auto f = finished();
  f.decision = decided(handler_decision::kind::release);
  f.decision->delay = 7s;
  EXPECT_EQ(decide_outcome(f, retry_options(), 0.5),
            outcome(false, "", command(kind::release, 50, 7s, counts::released, "handler asked")));
  f.decision->pri = 3;
  EXPECT_EQ(decide_outcome(f, retry_options(), 0.5).command,
            command(kind::release, 3, 7s, counts::released, "handler asked"));

  f.decision = decided(handler_decision::kind::bury);
  EXPECT_EQ(decide_outcome(f, retry_options(), 0.5),
            outcome(false, "", command(kind::bury, 50, 0s, counts::buried)));
  f.decision->pri = 9;
  EXPECT_EQ(decide_outcome(f, retry_options(), 0.5).command,
            command(kind::bury, 9, 0s, counts::buried));

  f.decision = decided(handler_decision::kind::remove);
  EXPECT_EQ(decide_outcome(f, retry_options(), 0.5).command,
            command(kind::remove, 50, 0s, counts::deleted));
}

TEST(worker_outcome_decision, an_explicit_decision_wins_over_a_later_exception) {
  auto f = threw("after deciding", 3);  // would be buried as a failure
  f.decision = decided(handler_decision::kind::release);
  f.decision->delay = 2s;
  EXPECT_EQ(decide_outcome(f, retry_options(), 0.5),
            outcome(true, "after deciding",
                    command(kind::release, 50, 2s, counts::released, "handler asked")))
      << "still counted as a failure, settled as decided";
  f.decision = decided(handler_decision::kind::remove);
  EXPECT_EQ(decide_outcome(f, retry_options(), 0.5).command,
            command(kind::remove, 50, 0s, counts::deleted));
}

TEST(worker_outcome_decision, a_lost_job_is_only_ever_deleted) {
  auto ok = finished();
  ok.lost = true;
  EXPECT_EQ(decide_outcome(ok, retry_options(), 0.5).command,
            command(kind::remove, 50, 0s, counts::deleted))
      << "the server honours a delete if the job is free again";

  auto failed = threw("boom");
  failed.lost = true;
  EXPECT_EQ(decide_outcome(failed, retry_options(), 0.5), outcome(true, "boom", std::nullopt));

  auto buried = finished();
  buried.lost = true;
  buried.decision = decided(handler_decision::kind::bury);
  EXPECT_EQ(decide_outcome(buried, retry_options(), 0.5), outcome(false, "", std::nullopt));
}

TEST(worker_outcome_decision, jitter_comes_from_the_random_draw) {
  auto o = retry_options();
  o.backoff.jitter = 0.5;
  EXPECT_EQ(decide_outcome(threw("x", 2), o, 0.0).command->delay, 20s);
  EXPECT_EQ(decide_outcome(threw("x", 2), o, 1.0).command->delay, 10s);
}

}  // namespace
}  // namespace beanpole::detail
