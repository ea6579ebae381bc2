// Settling a job: turning a finished handler's outcome (decided by `decide_outcome`, a pure
// function) into its one final command, counting what the command did, and freeing the slot.
#include <asio/bind_executor.hpp>
#include <utility>

#include "worker/worker_impl.hpp"

namespace beanpole::detail {

void worker_impl::on_handler_done(const std::shared_ptr<job_shared>& shared,
                                  handler_result result) {
  const auto it = entries_.find(job_key{shared->server_, shared->job_.id});
  if (it == entries_.end() || it->second->shared != shared) return;  // late: ignored
  const auto e = it->second;
  if (e->abandoned || e->ph != job_entry::phase::running || !e->handler_running) return;
  e->handler_running = false;
  e->keepalive.cancel();
  const auto took = worker_clock::now() - e->started;
  finished_handler done;
  done.result = std::move(result);
  done.decision = shared->take_decision();
  done.pri = shared->stats_.pri;
  done.reserves = shared->stats_.reserves;
  done.lost = e->lost;
  handler_outcome out = decide_outcome(done, options_, random_unit());
  metrics_.update(e->tube_key(), [&](tube_metrics& m) {
    --m.in_flight;
    m.latency.record(took);
    ++(out.failed ? m.failed : m.succeeded);
  });
  if (out.failed) {
    auto ev = event(worker_event::kind::failed, e.get());
    ev.message = std::move(out.failure);
    emit(std::move(ev));
  }
  if (!out.command) {
    settle(e);
    return;
  }
  send_command(e, std::move(*out.command));
}

void worker_impl::release_job(const std::shared_ptr<job_entry>& e, priority pri, std::string reason,
                              std::chrono::seconds delay) {
  final_command a;
  a.what = final_command::kind::release;
  a.pri = pri;
  a.delay = delay;
  a.counter = final_command::counts::released;
  a.reason = std::move(reason);
  send_command(e, std::move(a));
}

void worker_impl::bury_corrupt(const std::shared_ptr<job_entry>& e, priority pri) {
  final_command a;
  a.what = final_command::kind::bury;
  a.pri = pri;
  a.counter = final_command::counts::buried;
  a.reason =
      "corrupt job: its body came without the closing CRLF (torn by a server crash); "
      "buried without running a handler";
  a.cause = errc::corrupt_job;
  send_command(e, std::move(a));
}

void worker_impl::send_command(const std::shared_ptr<job_entry>& e, final_command a) {
  e->ph = job_entry::phase::settling;
  e->owed = a.what == final_command::kind::remove    ? "delete"
            : a.what == final_command::kind::release ? "release"
                                                     : "bury";
  e->keepalive.cancel();
  const unsigned generation = e->generation;
  const job_key key = e->key();
  auto done = [self = shared_from_this(), e, a, generation](std::error_code ec) {
    self->on_command_done(e, a, generation, ec);
  };
  switch (a.what) {
    case final_command::kind::remove:
      source_->remove(key, std::move(done));
      break;
    case final_command::kind::release:
      source_->release(key, a.pri, a.delay, std::move(done));
      break;
    case final_command::kind::bury:
      source_->bury(key, a.pri, std::move(done));
      break;
  }
}

void worker_impl::on_command_done(const std::shared_ptr<job_entry>& e, const final_command& a,
                                  unsigned generation, std::error_code ec) {
  if (e->ph == job_entry::phase::done) return;
  const std::string tube = e->tube_key();
  if (!ec || (ec == errc::buried && a.what == final_command::kind::release)) {
    // (A release the server answered BURIED — out of memory — buried the job instead.)
    worker_event ev = event(worker_event::kind::deleted, e.get());
    if (ec) {
      metrics_.update(tube, [](tube_metrics& m) { ++m.buried; });
      ev.what = worker_event::kind::buried;
      ev.error = ec;
    } else {
      // What the command counts as: one metric and the event that reports it.
      std::uint64_t tube_metrics::*counter = &tube_metrics::deleted;
      switch (a.counter) {
        case final_command::counts::deleted:
          counter = &tube_metrics::deleted;
          ev.what = worker_event::kind::deleted;
          break;
        case final_command::counts::retried:
          counter = &tube_metrics::retried;
          ev.what = worker_event::kind::retried;
          break;
        case final_command::counts::buried:
          counter = &tube_metrics::buried;
          ev.what = worker_event::kind::buried;
          break;
        case final_command::counts::released:
          counter = &tube_metrics::released;
          ev.what = worker_event::kind::released;
          break;
      }
      metrics_.update(tube, [counter](tube_metrics& m) { ++(m.*counter); });
      ev.delay = a.delay;
      ev.message = a.reason;
      ev.error = a.cause;
    }
    emit(std::move(ev));
    settle(e);
    return;
  }
  if (generation != e->generation && !e->lost) {
    send_command(e, a);  // adopted meanwhile: try again through the new reservation
    return;
  }
  auto ev = event(worker_event::kind::command_failed, e.get());
  ev.error = ec;
  ev.message = a.what == final_command::kind::remove    ? "delete"
               : a.what == final_command::kind::release ? "release"
                                                        : "bury";
  emit(std::move(ev));
  mark_lost(e, ec);
  settle(e);
}

void worker_impl::settle(const std::shared_ptr<job_entry>& e) {
  if (e->ph == job_entry::phase::done) return;
  e->ph = job_entry::phase::done;
  e->keepalive.cancel();
  if (const auto it = entries_.find(e->key()); it != entries_.end() && it->second == e) {
    entries_.erase(it);
  }
  last_activity_ = worker_clock::now();
  reserve_slot* s = e->owner;
  if (s != nullptr && s->current == e) {
    s->current.reset();
    if (state_ == run_state::finished) return;
    if (e->pause_after.count() > 0) {
      pause_then_reserve(*s, e->pause_after);
    } else {
      reserve_next(*s);
    }
    return;
  }
  maybe_finish();
}

}  // namespace beanpole::detail
