// The worker: the engine (`worker_impl`), the job context and the public class.
#include <algorithm>
#include <asio/bind_cancellation_slot.hpp>
#include <asio/bind_executor.hpp>
#include <asio/co_spawn.hpp>
#include <csignal>
#include <exception>
#include <future>
#include <stdexcept>

#include "worker/worker_impl.hpp"

namespace beanpole {
namespace detail {
namespace {

using namespace std::chrono_literals;

/// How long a slot rests after its reserve failed (the client reconnects meanwhile).
constexpr std::chrono::milliseconds reserve_error_pause{200};
/// How long a slot rests after a job it could not identify (stats-job failed).
constexpr std::chrono::milliseconds identify_error_pause{1000};
/// How often stats-job is tried for one job.
constexpr unsigned stats_attempts_max = 3;

handler_result run_plain(const job_handler& fn, job_context& ctx) {
  handler_result r;
  try {
    fn(ctx);
  } catch (const std::exception& e) {
    r.ok = false;
    r.message = e.what();
  } catch (...) {
    r.ok = false;
    r.message = "unknown exception";
  }
  return r;
}

handler_result result_of(const std::exception_ptr& ep) {
  handler_result r;
  if (!ep) return r;
  r.ok = false;
  try {
    std::rethrow_exception(ep);
  } catch (const std::exception& e) {
    r.message = e.what();
  } catch (...) {
    r.message = "unknown exception";
  }
  return r;
}

}  // namespace

// ------------------------------------------------------------------------------ job_shared

void job_shared::decide(handler_decision d) {
  if (cancel_.stop_requested()) return;
  std::lock_guard lock(mu_);
  decision_ = std::move(d);
}

std::optional<handler_decision> job_shared::take_decision() {
  std::lock_guard lock(mu_);
  return std::exchange(decision_, std::nullopt);
}

void job_shared::request_touch() {
  if (cancel_.stop_requested()) return;
  gate_->post([self = shared_from_this()](worker_impl& w) { w.on_touch_request(self); });
}

// ------------------------------------------------------------------------- metrics_registry

void metrics_registry::add_tube(const std::string& tube) {
  update(tube, [](tube_metrics&) {});
}

void metrics_registry::started() {
  std::lock_guard lock(mu_);
  started_ = worker_clock::now();
}

void metrics_registry::stopped() {
  std::lock_guard lock(mu_);
  if (started_ && !stopped_) stopped_ = worker_clock::now();
}

void metrics_registry::reconnected() {
  std::lock_guard lock(mu_);
  ++reconnects_;
}

worker_metrics metrics_registry::snapshot() const {
  std::lock_guard lock(mu_);
  worker_metrics m;
  m.tubes.reserve(tubes_.size());
  for (const auto& [name, t] : tubes_) m.tubes.push_back(t);
  if (started_) {
    const auto end = stopped_ ? *stopped_ : worker_clock::now();
    m.uptime = std::chrono::duration_cast<std::chrono::milliseconds>(end - *started_);
  }
  m.reconnects = reconnects_;
  return m;
}

// ------------------------------------------------------------------------------ worker_impl

worker_impl::worker_impl(asio::any_io_executor ex, endpoint ep, worker_options options)
    : executor_(std::move(ex)),
      strand_(asio::make_strand(executor_)),
      endpoint_(std::move(ep)),
      options_(std::move(options)),
      grace_timer_(strand_),
      rng_(std::random_device{}()) {
  options_.concurrency = std::max<std::size_t>(options_.concurrency, 1);
  if (options_.handler_threads == 0) options_.handler_threads = options_.concurrency;
  if (options_.reserve_timeout < 1s) options_.reserve_timeout = 1s;
  handle_signals_ = options_.handle_signals;
}

worker_impl::~worker_impl() {
  if (gate_) gate_->close();
  if (pool_) pool_->shutdown();
}

void worker_impl::init() {
  gate_ = std::make_shared<post_gate>(strand_, weak_from_this());
  async_client_options copts = options_.client;
  copts.reconnect.enabled = true;
  copts.max_reserve_connections = std::max(copts.max_reserve_connections, options_.concurrency + 4);
  copts.on_event = [weak = weak_from_this(),
                    user = options_.client.on_event](const client_event& ev) {
    // Runs on the client's strand, which runs inside the worker's strand.
    if (auto self = weak.lock()) self->on_client_event(ev);
    if (user) user(ev);
  };
  client_.emplace(asio::any_io_executor(strand_), endpoint_, std::move(copts));
  if (options_.metrics_port) {
    metrics_server_ = std::make_shared<metrics_server>(
        asio::any_io_executor(strand_), *options_.metrics_port,
        [weak = weak_from_this()]() -> std::string {
          auto self = weak.lock();
          return self ? prometheus_text(self->metrics_.snapshot()) : std::string();
        });
    metrics_port_ = metrics_server_->port();
  }
}

void worker_impl::add_handler(const tube_name& tube, handler_slot handler) {
  if (run_requested_) throw std::logic_error("beanpole::worker: handle() after the run started");
  handlers_[tube] = std::move(handler);
  metrics_.add_tube(tube.str());
}

void worker_impl::start(run_completion done) {
  run_requested_ = true;
  asio::post(strand_, [self = shared_from_this(), d = std::move(done)]() mutable {
    self->on_start(std::move(d));
  });
}

void worker_impl::request_stop(bool immediate) {
  asio::post(strand_, [self = shared_from_this(), immediate] {
    self->on_stop_request(immediate, immediate ? "stop_now()" : "stop()");
  });
}

void worker_impl::destroy() {
  gate_->close();
  client_->close();  // the server releases every job the worker held
  asio::post(strand_, [self = shared_from_this()] { self->on_destroy(); });
}

// ------------------------------------------------------------------------------- starting

void worker_impl::on_start(run_completion done) {
  if (run_done_ || state_ != run_state::idle) {
    asio::post(strand_, [d = std::move(done)]() mutable { d(asio::error::already_started); });
    return;
  }
  run_done_.emplace(std::move(done));
  metrics_.started();
  if (handlers_.empty()) {
    finish(std::make_error_code(std::errc::invalid_argument));
    return;
  }
  if (stop_early_) {
    finish({});
    return;
  }
  state_ = run_state::starting;
  if (handle_signals_) install_signals();
  if (metrics_server_) metrics_server_->start();
  client_->async_connect(asio::bind_executor(
      strand_, [self = shared_from_this()](std::error_code ec) { self->on_connected(ec); }));
}

void worker_impl::on_connected(std::error_code ec) {
  if (state_ == run_state::finished) return;
  if (ec) {
    finish(ec);
    return;
  }
  if (state_ != run_state::starting) {  // stopped while connecting
    finish({});
    return;
  }
  // The client records the watch list at once (every reserve connection follows it); the
  // replies only tell whether the main connection accepted it.
  const bool keep_default = handlers_.contains(tube_name());
  pending_setup_ = handlers_.size() + (keep_default ? 0 : 1);
  auto step = [self = shared_from_this()](std::error_code sec, std::size_t) {
    self->on_setup_step(sec);
  };
  for (const auto& [tube, h] : handlers_) {
    client_->async_watch(tube, asio::bind_executor(strand_, step));
  }
  if (!keep_default) client_->async_ignore(tube_name(), asio::bind_executor(strand_, step));
}

void worker_impl::on_setup_step(std::error_code ec) {
  if (state_ == run_state::finished || setup_failed_) return;
  if (ec) {
    setup_failed_ = true;
    finish(ec);
    return;
  }
  if (--pending_setup_ > 0) return;
  if (state_ != run_state::starting) {
    finish({});
    return;
  }
  begin_running();
}

void worker_impl::begin_running() {
  state_ = run_state::running;
  last_activity_ = worker_clock::now();
  const bool any_plain = std::any_of(handlers_.begin(), handlers_.end(),
                                     [](const auto& h) { return h.second.plain != nullptr; });
  if (any_plain) pool_ = std::make_unique<handler_pool>(options_.handler_threads);
  for (std::size_t i = 0; i < options_.concurrency; ++i) {
    slots_.push_back(std::make_unique<reserve_slot>(strand_));
  }
  emit(event(worker_event::kind::started));
  for (auto& s : slots_) reserve_next(*s);
}

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

// -------------------------------------------------------------------------------- reserving

void worker_impl::reserve_next(reserve_slot& s) {
  if (state_ != run_state::running) {
    maybe_finish();
    return;
  }
  s.reserving = true;
  client_->async_reserve_with_timeout(
      options_.reserve_timeout,
      asio::bind_cancellation_slot(
          s.cancel.slot(),
          asio::bind_executor(strand_, [self = shared_from_this(), sp = &s](std::error_code ec,
                                                                            std::optional<job> j) {
            self->on_reserved(*sp, ec, std::move(j));
          })));
}

void worker_impl::pause_then_reserve(reserve_slot& s, std::chrono::milliseconds d) {
  if (state_ != run_state::running) {
    maybe_finish();
    return;
  }
  s.pausing = true;
  s.pause.expires_after(d);
  s.pause.async_wait(
      asio::bind_executor(strand_, [self = shared_from_this(), sp = &s](std::error_code) {
        sp->pausing = false;
        if (self->state_ == run_state::finished) return;
        self->reserve_next(*sp);
      }));
}

void worker_impl::on_reserved(reserve_slot& s, std::error_code ec, std::optional<job> j) {
  s.reserving = false;
  if (state_ == run_state::finished) return;
  if (ec) {
    if (state_ != run_state::running) {
      maybe_finish();
      return;
    }
    auto ev = event(worker_event::kind::command_failed);
    ev.error = ec;
    ev.message = "reserve-with-timeout";
    emit(std::move(ev));
    pause_then_reserve(s, reserve_error_pause);
    return;
  }
  const auto now = worker_clock::now();
  if (!j) {
    if (state_ == run_state::running && options_.stop_when_idle.count() > 0 && entries_.empty() &&
        now - last_activity_ >= options_.stop_when_idle) {
      on_stop_request(false, "idle");
    }
    reserve_next(s);
    return;
  }
  last_activity_ = now;
  take_job(s, std::move(*j));
}

void worker_impl::take_job(reserve_slot& s, job j) {
  if (auto it = entries_.find(j.id); it != entries_.end()) {
    // A job this worker is still running came back (its first reservation was lost): the
    // running handler gets the new reservation; this slot goes on reserving.
    adopt(it->second);
    reserve_next(s);
    return;
  }
  auto e = std::make_shared<job_entry>(strand_);
  e->shared = std::make_shared<job_shared>(std::move(j), gate_);
  e->owner = &s;
  e->ttr_base = worker_clock::now();
  if (state_ != run_state::running) e->shared->stopping_ = true;
  s.current = e;
  entries_[e->id()] = e;
  arm_keepalive(e);  // assumes a ttr of 1 s until stats-job tells
  request_stats(e);
}

void worker_impl::adopt(const std::shared_ptr<job_entry>& e) {
  ++e->generation;
  const bool was_lost = e->lost;
  e->lost = false;
  e->shared->lost_ = false;
  e->ttr_base = worker_clock::now();
  if (e->ph == job_entry::phase::identifying || e->ph == job_entry::phase::running) {
    arm_keepalive(e);
  }
  auto ev = event(worker_event::kind::adopted, e.get());
  ev.message = was_lost ? "reserved again after its reservation was lost"
                        : "reserved again before the loss of its first reservation was seen";
  emit(std::move(ev));
}

void worker_impl::request_stats(const std::shared_ptr<job_entry>& e) {
  client_->async_stats_job(
      e->id(), asio::bind_executor(strand_, [self = shared_from_this(), e](std::error_code ec,
                                                                           proto::job_stats st) {
        self->on_stats(e, ec, std::move(st));
      }));
}

void worker_impl::on_stats(const std::shared_ptr<job_entry>& e, std::error_code ec,
                           proto::job_stats st) {
  if (e->ph != job_entry::phase::identifying || e->abandoned) return;
  if (ec) {
    if (e->lost || ec == errc::not_found) {
      mark_lost(e, ec);
      settle(e);
      return;
    }
    auto ev = event(worker_event::kind::command_failed, e.get());
    ev.error = ec;
    ev.message = "stats-job";
    emit(std::move(ev));
    if (++e->stats_attempts < stats_attempts_max && state_ == run_state::running) {
      request_stats(e);
      return;
    }
    // Never lose a job: give it back. `release` needs a priority, which we could not learn.
    e->pause_after = identify_error_pause;
    release_job(e, default_priority, "stats-job failed");
    return;
  }
  auto& shared = *e->shared;
  tube_name tube;
  if (tube_name::make(st.tube, tube)) tube = tube_name();  // cannot happen with a sane server
  shared.tube_ = std::move(tube);
  shared.stats_ = std::move(st);
  e->have_stats = true;
  e->ttr = std::chrono::seconds{std::max<std::uint64_t>(shared.stats_.ttr, 1)};
  metrics_.update(e->tube_key(), [](tube_metrics& m) { ++m.reserved; });
  {
    auto ev = event(worker_event::kind::reserved, e.get());
    emit(std::move(ev));
  }
  if (e->lost) {
    settle(e);
    return;
  }
  arm_keepalive(e);
  if (state_ != run_state::running) {
    release_job(e, shared.stats_.pri, "worker stopping");
    return;
  }
  const auto h = handlers_.find(shared.tube_);
  if (h == handlers_.end()) {
    release_job(e, shared.stats_.pri, "no handler for the tube",
                options_.backoff.delay(shared.stats_.reserves, random_unit()));
    return;
  }
  start_handler(e, h->second);
}

void worker_impl::report_done(std::shared_ptr<job_shared> shared, handler_result result) {
  auto gate = shared->gate_;
  gate->post([shared = std::move(shared), r = std::move(result)](worker_impl& w) mutable {
    w.on_handler_done(shared, std::move(r));
  });
}

void worker_impl::start_handler(const std::shared_ptr<job_entry>& e, const handler_slot& h) {
  e->ph = job_entry::phase::running;
  e->handler_running = true;
  e->started = worker_clock::now();
  metrics_.update(e->tube_key(), [](tube_metrics& m) { ++m.in_flight; });
  if (h.plain) {
    pool_->submit([shared = e->shared, fn = h.plain] {
      handler_result r = run_plain(*fn, shared->context());
      report_done(std::move(shared), std::move(r));
    });
    return;
  }
  auto cs = std::make_shared<coroutine_state>(asio::make_strand(executor_));
  e->coroutine = cs;
  asio::co_spawn(
      cs->strand,
      [fn = h.coroutine, shared = e->shared]() -> asio::awaitable<void> {
        co_await (*fn)(shared->context());
      },
      asio::bind_cancellation_slot(
          cs->signal.slot(),
          asio::bind_executor(cs->strand, [cs, shared = e->shared](std::exception_ptr ep) {
            cs->done = true;
            report_done(std::move(shared), result_of(ep));
          })));
}

// ---------------------------------------------------------------------------- time to run

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
  client_->async_touch(
      e->id(), asio::bind_executor(strand_, [self = shared_from_this(), e, sent,
                                             generation](std::error_code ec) {
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
      }));
}

void worker_impl::on_touch_request(const std::shared_ptr<job_shared>& shared) {
  const auto it = entries_.find(shared->job_.id);
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

// --------------------------------------------------------------------------------- outcomes

void worker_impl::on_handler_done(const std::shared_ptr<job_shared>& shared,
                                  handler_result result) {
  const auto it = entries_.find(shared->job_.id);
  if (it == entries_.end() || it->second->shared != shared) return;  // late: ignored
  const auto e = it->second;
  if (e->abandoned || e->ph != job_entry::phase::running || !e->handler_running) return;
  e->handler_running = false;
  e->keepalive.cancel();
  const auto took = worker_clock::now() - e->started;
  std::optional<handler_decision> decision = shared->take_decision();
  const bool failed = !result.ok || (decision && decision->what == handler_decision::kind::fail);
  metrics_.update(e->tube_key(), [&](tube_metrics& m) {
    --m.in_flight;
    m.latency.record(took);
    ++(failed ? m.failed : m.succeeded);
  });
  if (failed) {
    auto ev = event(worker_event::kind::failed, e.get());
    ev.message = !result.ok ? result.message : decision->reason;
    emit(std::move(ev));
  }
  const auto& st = shared->stats_;
  action a;
  a.pri = st.pri;
  if (decision && decision->what != handler_decision::kind::fail) {
    // An explicit decision wins, even over an exception thrown after it.
    switch (decision->what) {
      case handler_decision::kind::remove:
        break;
      case handler_decision::kind::release:
        a.what = action::kind::release;
        a.pri = decision->pri.value_or(st.pri);
        a.delay = decision->delay;
        a.counter = action::counts::released;
        a.reason = "handler asked";
        break;
      case handler_decision::kind::bury:
        a.what = action::kind::bury;
        a.pri = decision->pri.value_or(st.pri);
        a.counter = action::counts::buried;
        break;
      case handler_decision::kind::fail:
        break;
    }
  } else if (failed) {
    const failure_action f =
        decide_failure(st.reserves, options_.max_attempts, options_.backoff, random_unit());
    if (f.bury) {
      a.what = action::kind::bury;
      a.counter = action::counts::buried;
    } else {
      a.what = action::kind::release;
      a.delay = f.delay;
      a.counter = action::counts::retried;
    }
  }
  if (e->lost && a.what != action::kind::remove) {
    // The server took the job back when the reservation was lost: release and bury would only
    // get NOT_FOUND. (A delete still goes: the server honours it if the job is free again.)
    settle(e);
    return;
  }
  send_action(e, std::move(a));
}

void worker_impl::release_job(const std::shared_ptr<job_entry>& e, priority pri, std::string reason,
                              std::chrono::seconds delay) {
  action a;
  a.what = action::kind::release;
  a.pri = pri;
  a.delay = delay;
  a.counter = action::counts::released;
  a.reason = std::move(reason);
  send_action(e, std::move(a));
}

void worker_impl::send_action(const std::shared_ptr<job_entry>& e, action a) {
  e->ph = job_entry::phase::settling;
  e->keepalive.cancel();
  const unsigned generation = e->generation;
  const job_id id = e->id();
  auto done = [self = shared_from_this(), e, a, generation](std::error_code ec) {
    self->on_action_done(e, a, generation, ec);
  };
  switch (a.what) {
    case action::kind::remove:
      client_->async_remove(id, asio::bind_executor(strand_, std::move(done)));
      break;
    case action::kind::release:
      client_->async_release(id, a.pri, a.delay, asio::bind_executor(strand_, std::move(done)));
      break;
    case action::kind::bury:
      client_->async_bury(id, a.pri, asio::bind_executor(strand_, std::move(done)));
      break;
  }
}

void worker_impl::on_action_done(const std::shared_ptr<job_entry>& e, const action& a,
                                 unsigned generation, std::error_code ec) {
  if (e->ph == job_entry::phase::done) return;
  const std::string tube = e->tube_key();
  if (!ec || (ec == errc::buried && a.what == action::kind::release)) {
    // (A release the server answered BURIED — out of memory — buried the job instead.)
    worker_event ev = event(worker_event::kind::deleted, e.get());
    if (ec) {
      metrics_.update(tube, [](tube_metrics& m) { ++m.buried; });
      ev.what = worker_event::kind::buried;
      ev.error = ec;
    } else {
      // What the action counts as: one metric and the event that reports it.
      std::uint64_t tube_metrics::*counter = &tube_metrics::deleted;
      switch (a.counter) {
        case action::counts::deleted:
          counter = &tube_metrics::deleted;
          ev.what = worker_event::kind::deleted;
          break;
        case action::counts::retried:
          counter = &tube_metrics::retried;
          ev.what = worker_event::kind::retried;
          break;
        case action::counts::buried:
          counter = &tube_metrics::buried;
          ev.what = worker_event::kind::buried;
          break;
        case action::counts::released:
          counter = &tube_metrics::released;
          ev.what = worker_event::kind::released;
          break;
      }
      metrics_.update(tube, [counter](tube_metrics& m) { ++(m.*counter); });
      ev.delay = a.delay;
      ev.message = a.reason;
    }
    emit(std::move(ev));
    settle(e);
    return;
  }
  if (generation != e->generation && !e->lost) {
    send_action(e, a);  // adopted meanwhile: try again through the new reservation
    return;
  }
  auto ev = event(worker_event::kind::command_failed, e.get());
  ev.error = ec;
  ev.message = a.what == action::kind::remove    ? "delete"
               : a.what == action::kind::release ? "release"
                                                 : "bury";
  emit(std::move(ev));
  mark_lost(e, ec);
  settle(e);
}

void worker_impl::settle(const std::shared_ptr<job_entry>& e) {
  if (e->ph == job_entry::phase::done) return;
  e->ph = job_entry::phase::done;
  e->keepalive.cancel();
  if (const auto it = entries_.find(e->id()); it != entries_.end() && it->second == e) {
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

// --------------------------------------------------------------------------------- stopping

void worker_impl::on_stop_request(bool immediate, const char* why) {
  switch (state_) {
    case run_state::idle:
      stop_early_ = true;
      return;
    case run_state::starting:
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
  client_->close();
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

// ----------------------------------------------------------------------------------- events

void worker_impl::on_client_event(const client_event& ev) {
  if (ev.what == client_event::kind::lost_reservation) {
    if (const auto it = entries_.find(ev.job); it != entries_.end()) {
      const auto e = it->second;
      mark_lost(e, ev.error ? ev.error : make_error_code(errc::lost_reservation));
    }
  } else if (ev.what == client_event::kind::reconnected) {
    metrics_.reconnected();
  }
  auto wev = event(worker_event::kind::connection);
  wev.client = ev;
  wev.job = ev.job;
  wev.error = ev.error;
  emit(std::move(wev));
}

void worker_impl::emit(worker_event ev) {
  if (options_.on_event) options_.on_event(ev);
}

worker_event worker_impl::event(worker_event::kind what, const job_entry* e) const {
  worker_event ev;
  ev.what = what;
  if (e != nullptr) {
    ev.job = e->id();
    if (e->have_stats) {
      ev.tube = e->shared->tube_.str();
      ev.attempt = e->shared->stats_.reserves;
    }
  }
  return ev;
}

double worker_impl::random_unit() {
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
}

std::shared_ptr<worker_impl> make_worker_impl(asio::any_io_executor ex, endpoint ep,
                                              worker_options options) {
  auto impl = std::make_shared<worker_impl>(std::move(ex), std::move(ep), std::move(options));
  impl->init();
  return impl;
}

void start_run(const std::shared_ptr<worker_impl>& impl, run_completion done) {
  impl->start(std::move(done));
}

}  // namespace detail

// ----------------------------------------------------------------------------- job_context

job_id job_context::id() const noexcept {
  return owner_->job_.id;
}
const std::string& job_context::body() const noexcept {
  return owner_->job_.body;
}
const tube_name& job_context::tube() const noexcept {
  return owner_->tube_;
}
std::uint64_t job_context::attempt() const noexcept {
  return owner_->stats_.reserves;
}
std::chrono::seconds job_context::ttr() const noexcept {
  return std::chrono::seconds{static_cast<std::chrono::seconds::rep>(owner_->stats_.ttr)};
}
priority job_context::pri() const noexcept {
  return owner_->stats_.pri;
}
const proto::job_stats& job_context::stats() const noexcept {
  return owner_->stats_;
}
bool job_context::stopping() const noexcept {
  return owner_->stopping_.load();
}
std::stop_token job_context::stop_token() const noexcept {
  return owner_->cancel_.get_token();
}
bool job_context::lost() const noexcept {
  return owner_->lost_.load();
}

void job_context::touch() {
  owner_->request_touch();
}

void job_context::fail(std::string reason) {
  detail::handler_decision d;
  d.what = detail::handler_decision::kind::fail;
  d.reason = reason.empty() ? std::string("failed") : std::move(reason);
  owner_->decide(std::move(d));
}

void job_context::remove() {
  detail::handler_decision d;
  d.what = detail::handler_decision::kind::remove;
  owner_->decide(std::move(d));
}

void job_context::release(std::chrono::seconds delay, std::optional<priority> pri) {
  detail::handler_decision d;
  d.what = detail::handler_decision::kind::release;
  d.delay = delay;
  d.pri = pri;
  owner_->decide(std::move(d));
}

void job_context::bury(std::optional<priority> pri) {
  detail::handler_decision d;
  d.what = detail::handler_decision::kind::bury;
  d.pri = pri;
  owner_->decide(std::move(d));
}

// ---------------------------------------------------------------------------------- worker

worker::worker(executor_type ex, endpoint ep, worker_options options)
    : executor_(std::move(ex)),
      impl_(detail::make_worker_impl(executor_, std::move(ep), std::move(options))) {}

worker::worker(endpoint ep, worker_options options)
    : own_io_(std::make_unique<asio::io_context>(1)),
      executor_(own_io_->get_executor()),
      impl_(detail::make_worker_impl(executor_, std::move(ep), std::move(options))) {}

worker::~worker() {
  impl_->destroy();
  impl_.reset();
  if (own_io_) {
    // Let the worker close what it holds before the context goes.
    own_io_->restart();
    own_io_->poll();
  }
}

void worker::handle_plain(const tube_name& tube, job_handler handler) {
  if (!handler) throw std::invalid_argument("beanpole::worker: empty handler");
  detail::handler_slot slot;
  slot.plain = std::make_shared<const job_handler>(std::move(handler));
  impl_->add_handler(tube, std::move(slot));
}

void worker::handle_coroutine(const tube_name& tube, coroutine_job_handler handler) {
  if (!handler) throw std::invalid_argument("beanpole::worker: empty handler");
  detail::handler_slot slot;
  slot.coroutine = std::make_shared<const coroutine_job_handler>(std::move(handler));
  impl_->add_handler(tube, std::move(slot));
}

void worker::run() {
  if (own_io_) {
    std::optional<std::error_code> result;
    async_run([&result](std::error_code ec) { result = ec; });
    own_io_->restart();
    while (!result && own_io_->run_one() > 0) {
    }
    own_io_->poll();  // what the end of the run left to do (closing sockets)
    if (!result) throw std::logic_error("beanpole::worker: the run did not complete");
    if (*result) throw error(*result, "beanpole::worker");
    return;
  }
  // The error code crosses threads, and the exception is made here, on the caller's thread.
  auto done = std::make_shared<std::promise<std::error_code>>();
  auto result = done->get_future();
  async_run([done](std::error_code ec) { done->set_value(ec); });
  if (const std::error_code ec = result.get()) throw error(ec, "beanpole::worker");
}

void worker::run_until_signal() {
  impl_->set_handle_signals(true);
  run();
}

void worker::stop() {
  impl_->request_stop(false);
}
void worker::stop_now() {
  impl_->request_stop(true);
}

worker_metrics worker::metrics() const {
  return impl_->metrics();
}
std::uint16_t worker::metrics_port() const noexcept {
  return impl_->metrics_port();
}

}  // namespace beanpole
