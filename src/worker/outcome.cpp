// The outcome of a finished handler, as a pure function (see outcome.hpp).
#include "worker/outcome.hpp"

#include <utility>

namespace beanpole::detail {

std::chrono::seconds retry_delay(const backoff& rule, std::uint64_t reserves,
                                 double unit_random) noexcept {
  // beanstalkd takes whole seconds: the nearest one, so 1 s with 0.2 jitter is 1 s, not 0.
  const auto ms = rule.delay(reserves, unit_random).count();
  return std::chrono::seconds{(ms + 500) / 1000};
}

handler_outcome decide_outcome(const finished_handler& done, const worker_options& options,
                               double unit_random) {
  handler_outcome out;
  const auto& decision = done.decision;
  const bool failed_by_context = decision && decision->what == handler_decision::kind::fail;
  out.failed = !done.result.ok || failed_by_context;
  if (out.failed) out.failure = !done.result.ok ? done.result.message : decision->reason;

  final_command c;
  c.pri = done.pri;
  if (decision && !failed_by_context) {
    // An explicit decision wins, even over an exception thrown after it.
    switch (decision->what) {
      case handler_decision::kind::remove:
      case handler_decision::kind::fail:
        break;
      case handler_decision::kind::release:
        c.what = final_command::kind::release;
        c.pri = decision->pri.value_or(done.pri);
        c.delay = decision->delay;
        c.counter = final_command::counts::released;
        c.reason = "handler asked";
        break;
      case handler_decision::kind::bury:
        c.what = final_command::kind::bury;
        c.pri = decision->pri.value_or(done.pri);
        c.counter = final_command::counts::buried;
        break;
    }
  } else if (out.failed) {
    const failure_action f =
        decide_failure(done.reserves, options.max_attempts, options.backoff, unit_random);
    if (f.bury) {
      c.what = final_command::kind::bury;
      c.counter = final_command::counts::buried;
    } else {
      c.what = final_command::kind::release;
      c.delay = f.delay;
      c.counter = final_command::counts::retried;
    }
  }
  // The server took a lost job back: a release or bury would only get NOT_FOUND. A delete still
  // goes, since the server honours it if the job is free again (no double processing).
  if (!done.lost || c.what == final_command::kind::remove) out.command = std::move(c);
  return out;
}

}  // namespace beanpole::detail
