// Stopping: stop requests and signals, the grace period, abandoning handlers that outlive it,
// and the end of the run. Every job the worker holds is settled or released before the run
// completes, never dropped.
#include <asio/bind_executor.hpp>
#include <chrono>
#include <csignal>
#include <string>
#include <vector>

#include "worker/worker_impl.hpp"

namespace beanpole::detail {
namespace {
/// After an immediate stop, how long the final commands already on their way may take to be
/// answered while the main connection is up. A healthy server answers in a round trip; this
/// only bounds a stalled one.
constexpr std::chrono::milliseconds final_command_window{1000};
}  // namespace

void worker_impl::install_signals() {
  signals_.emplace(strand_, SIGINT, SIGTERM);
  wait_signal();
}

void worker_impl::wait_signal() {
  if (!signals_) return;
  signals_->async_wait(
      asio::bind_executor(strand_, [self = shared_from_this()](std::error_code ec, int sig) {
        if (ec || self->state_ == run_state::finished) return;
        const bool second = self->signals_seen_++ > 0;
        self->on_stop_request(second, sig == SIGINT ? "SIGINT" : "SIGTERM");
        self->wait_signal();
      }));
}

void worker_impl::on_stop_request(bool immediate, const char* why) {
  switch (state_) {
    case run_state::idle:
      stop_early_ = true;
      return;
    case run_state::starting:
      if (!any_up()) {
        finish({});  // still waiting for the server: nothing is held, nothing to wait for
        return;
      }
      state_ = run_state::draining;
      return;
    case run_state::running:
      begin_drain(why);
      if ((immediate || options_.grace.count() <= 0) && state_ == run_state::draining) {
        stop_now(why);
      }
      return;
    case run_state::draining:
      stop_now(why);
      return;
    case run_state::stopping_now:
    case run_state::finished:
      return;
  }
}

void worker_impl::begin_drain(const char* why) {
  state_ = run_state::draining;
  auto ev = event(worker_event::kind::stopping);
  ev.message = std::string("graceful (") + why + ")";
  emit(std::move(ev));
  cancel_reserves();
  for (const auto& [id, e] : entries_) e->shared->stopping_ = true;
  grace_timer_.expires_after(options_.grace);
  grace_timer_.async_wait(
      asio::bind_executor(strand_, [self = shared_from_this()](std::error_code ec) {
        if (!ec && self->state_ == run_state::draining) self->stop_now("grace period over");
      }));
  maybe_finish();
}

void worker_impl::stop_now(const char* why) {
  state_ = run_state::stopping_now;
  auto ev = event(worker_event::kind::stopping);
  ev.message = std::string("immediate (") + why + ")";
  emit(std::move(ev));
  grace_timer_.cancel();
  cancel_reserves();
  std::vector<std::shared_ptr<job_entry>> running;
  for (const auto& [id, e] : entries_) running.push_back(e);
  for (const auto& e : running) abandon(e, why);
  maybe_finish();
  if (state_ == run_state::stopping_now) bound_settling();
}

void worker_impl::bound_settling() {
  if (!any_up()) {
    give_up_settling();  // nothing can be answered: do not wait for a server that is gone
    return;
  }
  settle_timer_.expires_after(final_command_window);
  settle_timer_.async_wait(
      asio::bind_executor(strand_, [self = shared_from_this()](std::error_code ec) {
        if (!ec && self->state_ == run_state::stopping_now) self->give_up_settling();
      }));
}

void worker_impl::give_up_settling() {
  if (state_ != run_state::stopping_now) return;
  std::vector<std::shared_ptr<job_entry>> left;
  for (const auto& [id, e] : entries_) left.push_back(e);
  const std::error_code why =
      any_up() ? make_error_code(errc::reply_timeout) : make_error_code(errc::not_connected);
  for (const auto& e : left) {
    e->ph = job_entry::phase::done;  // a late answer is ignored
    e->keepalive.cancel();
    if (!e->lost) {
      e->lost = true;
      e->shared->lost_ = true;
      metrics_.update(e->tube_key(), [](tube_metrics& m) { ++m.lost; });
    }
    auto ev = event(worker_event::kind::lost, e.get());
    ev.error = why;
    ev.message = std::string(e->owed != nullptr ? e->owed : "its final command") +
                 " not answered before the stop; the server takes the job back when the "
                 "connection closes";
    emit(std::move(ev));
  }
  entries_.clear();
  finish({});
}

void worker_impl::cancel_reserves() {
  for (auto& s : slots_) {
    // Closes the reserve's connection: a job the server was handing over goes back at once.
    if (s->reserving) s->cancel.emit(asio::cancellation_type::terminal);
    if (s->pausing) s->pause.cancel();
  }
}

void worker_impl::abandon(const std::shared_ptr<job_entry>& e, const char* why) {
  if (e->ph == job_entry::phase::done || e->ph == job_entry::phase::settling || e->abandoned) {
    return;
  }
  e->abandoned = true;
  e->keepalive.cancel();
  e->shared->stopping_ = true;
  e->shared->cancel_.request_stop();
  if (e->handler_running) {
    e->handler_running = false;
    metrics_.update(e->tube_key(), [](tube_metrics& m) {
      --m.in_flight;
      ++m.abandoned;
    });
    auto ev = event(worker_event::kind::abandoned, e.get());
    ev.message = why;
    emit(std::move(ev));
    cancel_coroutine(*e);
  }
  if (e->lost) {
    settle(e);
    return;
  }
  release_job(e, e->have_stats ? e->shared->stats_.pri : default_priority,
              std::string("worker stopped: ") + why);
}

void worker_impl::cancel_coroutine(const job_entry& e) {
  if (auto cs = e.coroutine) {
    asio::post(cs->strand, [cs] {
      if (!cs->done) cs->signal.emit(asio::cancellation_type::terminal);
    });
  }
}

void worker_impl::maybe_finish() {
  if (state_ != run_state::draining && state_ != run_state::stopping_now) return;
  for (const auto& s : slots_) {
    if (s->reserving || s->pausing) return;
  }
  if (!entries_.empty()) return;
  finish({});
}

void worker_impl::finish(std::error_code ec) {
  if (state_ == run_state::finished) return;
  state_ = run_state::finished;
  grace_timer_.cancel();
  settle_timer_.cancel();
  if (signals_) {
    std::error_code ignored;
    signals_->cancel(ignored);
    signals_.reset();  // restores the default dispositions
  }
  if (metrics_server_) metrics_server_->close();
  for (auto& s : slots_) s->pause.cancel();
  for (const auto& [id, e] : entries_) e->keepalive.cancel();
  gate_->close();
  if (pool_) pool_->shutdown();
  metrics_.stopped();
  source_->close();
  auto ev = event(worker_event::kind::stopped);
  ev.error = ec;
  emit(std::move(ev));
  if (run_done_) {
    asio::post(strand_, [d = std::move(*run_done_), ec]() mutable { d(ec); });
    run_done_.reset();
  }
}

void worker_impl::on_destroy() {
  if (state_ == run_state::finished) return;
  // The connections are closed already, so the server has every job back.
  for (const auto& [id, e] : entries_) {
    e->abandoned = true;
    e->shared->cancel_.request_stop();
    e->ph = job_entry::phase::done;
    e->keepalive.cancel();
    cancel_coroutine(*e);
  }
  entries_.clear();
  finish(asio::error::operation_aborted);
}

}  // namespace beanpole::detail
