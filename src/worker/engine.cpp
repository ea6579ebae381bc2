// The worker's engine loop: start (connect, watch), the reserve slots, identifying each job
// (stats-job), starting its handler, and the events it reports. Time to run, settling and
// stopping live in keepalive.cpp, settling.cpp and stopping.cpp.
#include <algorithm>
#include <asio/bind_cancellation_slot.hpp>
#include <asio/bind_executor.hpp>
#include <asio/co_spawn.hpp>
#include <exception>
#include <stdexcept>
#include <system_error>

#include "worker/worker_impl.hpp"

namespace beanpole::detail {
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

worker_impl::worker_impl(asio::any_io_executor ex, source_factory make_source,
                         worker_options options)
    : executor_(std::move(ex)),
      strand_(asio::make_strand(executor_)),
      make_source_(std::move(make_source)),
      options_(std::move(options)),
      grace_timer_(strand_),
      settle_timer_(strand_),
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
  // The source calls the user's `on_event` after this one.
  source_ = make_source_(strand_, copts,
                         [weak = weak_from_this()](std::size_t server, const client_event& ev) {
                           // Runs on the client's strand, which runs inside the worker's strand.
                           if (auto self = weak.lock()) self->on_client_event(server, ev);
                         });
  up_.assign(source_->servers(), false);
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
  source_->close();  // the servers release every job the worker held
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
  source_->connect([self = shared_from_this()](std::error_code ec) { self->on_connected(ec); });
}

void worker_impl::on_connected(std::error_code ec) {
  if (state_ == run_state::finished) return;
  if (ec) {
    // The client reports the failure to its waiters before it schedules its next attempt:
    // decide once it has.
    asio::post(strand_, [self = shared_from_this(), ec] { self->after_connect_failure(ec); });
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
  auto step = [self = shared_from_this()](std::error_code sec) { self->on_setup_step(sec); };
  for (const auto& [tube, h] : handlers_) source_->watch(tube, false, step);
  if (!keep_default) source_->watch(tube_name(), true, step);
}

void worker_impl::after_connect_failure(std::error_code ec) {
  if (state_ == run_state::finished) return;
  if (state_ == run_state::starting && options_.wait_for_server && retry_due_) {
    // The client tries again after its reconnect backoff (and within its bounds, after which it
    // gives up and this completes with the error): wait for that attempt.
    source_->connect([self = shared_from_this()](std::error_code e) { self->on_connected(e); });
    return;
  }
  finish(state_ == run_state::starting ? ec : std::error_code{});
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
  const bool any_plain = std::any_of(handlers_.begin(), handlers_.end(),
                                     [](const auto& h) { return h.second.plain != nullptr; });
  if (any_plain) {
    try {
      pool_ = std::make_unique<handler_pool>(options_.handler_threads);
    } catch (const std::system_error& e) {
      // Too many threads for the system (EAGAIN): the run ends with that error, nothing reserved.
      finish(e.code());
      return;
    }
  }
  state_ = run_state::running;
  last_activity_ = worker_clock::now();
  for (std::size_t i = 0; i < options_.concurrency; ++i) {
    slots_.push_back(std::make_unique<reserve_slot>(strand_));
  }
  emit(event(worker_event::kind::started));
  for (auto& s : slots_) reserve_next(*s);
}

// -------------------------------------------------------------------------------- reserving

void worker_impl::reserve_next(reserve_slot& s) {
  if (state_ != run_state::running) {
    maybe_finish();
    return;
  }
  s.reserving = true;
  source_->reserve(
      options_.reserve_timeout, s.cancel.slot(),
      [self = shared_from_this(), sp = &s](std::error_code ec, std::optional<source_job> j) {
        self->on_reserved(*sp, ec, std::move(j));
      });
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

void worker_impl::on_reserved(reserve_slot& s, std::error_code ec, std::optional<source_job> j) {
  s.reserving = false;
  if (state_ == run_state::finished) return;
  if (ec == errc::corrupt_job && j) {
    // Held by the reserve like any job: buried once stats-job tells its priority, so that the
    // worker goes on with other jobs instead of getting this one back again and again.
    last_activity_ = worker_clock::now();
    take_job(s, std::move(*j), true);
    return;
  }
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

void worker_impl::take_job(reserve_slot& s, source_job j, bool corrupt) {
  if (auto it = entries_.find(job_key{j.server, j.j.id}); it != entries_.end()) {
    // A job this worker is still running came back (its first reservation was lost): the
    // running handler gets the new reservation; this slot goes on reserving.
    adopt(it->second);
    reserve_next(s);
    return;
  }
  auto e = std::make_shared<job_entry>(strand_);
  e->shared =
      std::make_shared<job_shared>(std::move(j.j), j.server, source_->server_name(j.server), gate_);
  e->owner = &s;
  e->corrupt = corrupt;
  e->ttr_base = worker_clock::now();
  if (state_ != run_state::running) e->shared->stopping_ = true;
  s.current = e;
  entries_[e->key()] = e;
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
  source_->stats_job(e->key(),
                     [self = shared_from_this(), e](std::error_code ec, proto::job_stats st) {
                       self->on_stats(e, ec, std::move(st));
                     });
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
    if (e->corrupt) {
      bury_corrupt(e, default_priority);
    } else {
      release_job(e, default_priority, "stats-job failed");
    }
    return;
  }
  auto& shared = *e->shared;
  tube_name tube;
  if (tube_name::make(st.tube, tube)) tube = tube_name();  // cannot happen with a sane server
  shared.tube_ = std::move(tube);
  shared.stats_ = std::move(st);
  e->have_stats = true;
  e->ttr = std::chrono::seconds{std::max<std::uint64_t>(shared.stats_.ttr, 1)};
  if (e->corrupt) {
    if (e->lost) {
      settle(e);
    } else {
      bury_corrupt(e, shared.stats_.pri);
    }
    return;
  }
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
                retry_delay(options_.backoff, shared.stats_.reserves, random_unit()));
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

// ----------------------------------------------------------------------------------- events

void worker_impl::on_client_event(std::size_t server, const client_event& ev) {
  if (ev.what == client_event::kind::lost_reservation) {
    if (const auto it = entries_.find(job_key{server, ev.job}); it != entries_.end()) {
      const auto e = it->second;
      mark_lost(e, ev.error ? ev.error : make_error_code(errc::lost_reservation));
    }
  } else if (ev.what == client_event::kind::reconnected) {
    metrics_.reconnected();
  }
  switch (ev.what) {
    case client_event::kind::connected:
    case client_event::kind::reconnected:
      up_[server] = true;
      retry_due_ = false;
      break;
    case client_event::kind::disconnected:
      up_[server] = false;
      break;
    case client_event::kind::reconnecting:
      up_[server] = false;
      retry_due_ = true;
      break;
    case client_event::kind::gave_up:
      up_[server] = false;
      retry_due_ = false;
      break;
    default:
      break;
  }
  auto wev = event(worker_event::kind::connection);
  wev.server = source_->server_name(server);
  wev.client = ev;
  wev.job = ev.job;
  wev.error = ev.error;
  emit(std::move(wev));
}

bool worker_impl::any_up() const noexcept {
  return std::find(up_.begin(), up_.end(), true) != up_.end();
}

void worker_impl::emit(worker_event ev) {
  if (options_.on_event) options_.on_event(ev);
}

worker_event worker_impl::event(worker_event::kind what, const job_entry* e) const {
  worker_event ev;
  ev.what = what;
  if (e != nullptr) {
    ev.job = e->id();
    ev.server = e->shared->server_name_;
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
  auto impl = std::make_shared<worker_impl>(
      std::move(ex),
      [ep = std::move(ep)](worker_strand strand, const async_client_options& o,
                           job_source::event_fn ev) {
        return make_client_source(std::move(strand), ep, o, std::move(ev));
      },
      std::move(options));
  impl->init();
  return impl;
}

std::shared_ptr<worker_impl> make_worker_impl(asio::any_io_executor ex,
                                              std::vector<pool_server> servers,
                                              worker_options options) {
  auto impl = std::make_shared<worker_impl>(
      std::move(ex),
      [servers = std::move(servers)](worker_strand strand, const async_client_options& o,
                                     job_source::event_fn ev) {
        return make_pool_source(std::move(strand), servers, o, std::move(ev));
      },
      std::move(options));
  impl->init();
  return impl;
}

void start_run(const std::shared_ptr<worker_impl>& impl, run_completion done) {
  impl->start(std::move(done));
}

}  // namespace beanpole::detail
