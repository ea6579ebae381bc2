// Time to run: touching a job while its handler runs, and noticing when its reservation is lost.
#include <algorithm>
#include <asio/bind_executor.hpp>

#include "worker/worker_impl.hpp"

namespace beanpole::detail {

void worker_impl::arm_keepalive(const std::shared_ptr<job_entry>& e) {
  e->keepalive.cancel();  // a touch pending from before is replaced, or not wanted any more
  if (!options_.auto_touch) return;
  if (e->lost || e->abandoned) return;
  if (e->ph != job_entry::phase::identifying && e->ph != job_entry::phase::running) return;
  e->keepalive.expires_at(e->ttr_base + keepalive_interval(e->ttr, options_.touch_margin));
  e->keepalive.async_wait(
      asio::bind_executor(strand_, [self = shared_from_this(), e](std::error_code ec) {
        if (!ec) self->send_touch(e);
      }));
}

void worker_impl::send_touch(const std::shared_ptr<job_entry>& e) {
  if (e->lost || e->abandoned || e->touch_in_flight) return;
  if (e->ph != job_entry::phase::identifying && e->ph != job_entry::phase::running) return;
  e->touch_in_flight = true;
  const auto sent = worker_clock::now();
  const unsigned generation = e->generation;
  source_->touch(e->key(), [self = shared_from_this(), e, sent, generation](std::error_code ec) {
    e->touch_in_flight = false;
    if (e->ph != job_entry::phase::identifying && e->ph != job_entry::phase::running) return;
    if (!ec) {
      self->metrics_.update(e->tube_key(), [](tube_metrics& m) { ++m.touched; });
      if (generation == e->generation) e->ttr_base = std::max(e->ttr_base, sent);
      self->arm_keepalive(e);
      return;
    }
    if (generation != e->generation) {  // adopted meanwhile: the new reservation is fresh
      self->arm_keepalive(e);
      return;
    }
    auto ev = self->event(worker_event::kind::command_failed, e.get());
    ev.error = ec;
    ev.message = "touch";
    self->emit(std::move(ev));
    self->mark_lost(e, ec);
  });
}

void worker_impl::on_touch_request(const std::shared_ptr<job_shared>& shared) {
  const auto it = entries_.find(job_key{shared->server_, shared->job_.id});
  if (it == entries_.end() || it->second->shared != shared) return;
  const auto& e = it->second;
  if (e->ph != job_entry::phase::running || e->lost || e->abandoned) return;
  e->keepalive.cancel();
  if (e->touch_in_flight) return;  // its completion re-arms the timer
  send_touch(e);
}

void worker_impl::mark_lost(const std::shared_ptr<job_entry>& e, std::error_code why) {
  if (e->lost) return;
  e->lost = true;
  e->shared->lost_ = true;
  e->keepalive.cancel();
  metrics_.update(e->tube_key(), [](tube_metrics& m) { ++m.lost; });
  auto ev = event(worker_event::kind::lost, e.get());
  ev.error = why;
  emit(std::move(ev));
}

}  // namespace beanpole::detail
