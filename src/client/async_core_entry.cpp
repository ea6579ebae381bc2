// The async client's core, its entry points: construction, what detail/async_core.hpp offers the
// public client (but submit_op, which lives with the path it starts in async_core_pipeline.cpp),
// closing, and async_client's own members. See async_core_impl.hpp for the whole design.
#include <asio/post.hpp>
#include <mutex>

#include "beanpole/detail/async_core.hpp"
#include "client/async_core_impl.hpp"
#include "conn/rules.hpp"

namespace beanpole::detail {
namespace {

conn::reconnect_policy reconnect_policy_of(const reconnect_options& r) {
  conn::reconnect_policy p;
  p.enabled = r.enabled;
  p.wait = r.wait;
  p.max_attempts = r.max_attempts;
  p.give_up_after = r.give_up_after;
  return p;
}

conn::lane_config lane_config_of(const async_client_options& o) {
  conn::lane_config c;
  c.max_lanes = o.max_reserve_connections;
  c.retry_failed_opens = o.reconnect.enabled;
  c.retry = o.reconnect.wait;
  return c;
}

}  // namespace

async_core::async_core(const asio::any_io_executor& ex, endpoint ep, async_client_options options)
    : user_executor_(ex),
      strand_(asio::make_strand(ex)),
      endpoint_(std::move(ep)),
      options_(std::move(options)),
      keeper_(reconnect_policy_of(options_.reconnect)),
      pipeline_(options_.max_in_flight, options_.reply_timeout, aborted()),
      lanes_(lane_config_of(options_)),
      retry_timer_(strand_),
      lane_timer_(strand_),
      wait_timer_(strand_),
      rng_(std::random_device{}()) {}

// ------------------------------------------------------------------- any thread

void async_core::connect(op_base* op) {
  if (auto ec = conn::validate(endpoint_)) {  // refused before any connect (issue 11.5)
    complete_later(op, ec);
    return;
  }
  bool start = false;
  {
    // Set at once, not on the strand: commands issued right after async_connect must wait
    // for the connection, not fail for want of one.
    std::lock_guard lock(mu_);
    op->serial = next_serial_++;
    start = keeper_.start();
  }
  asio::post(strand_, [self = shared_from_this(), op, start] {
    state now;
    {
      std::lock_guard lock(self->mu_);
      now = self->keeper_.current();
    }
    if (now == state::closed) {
      op->complete(aborted(), nullptr);
    } else if (now == state::up) {
      op->complete({}, nullptr);
    } else {
      self->connect_waiters_.push_back(op);
      if (start) self->open_main();
    }
  });
}

void async_core::shutdown() {
  {
    std::lock_guard lock(mu_);
    if (keeper_.current() == state::closed) return;
    keeper_.close();
  }
  room_.notify_all();
  asio::post(strand_, [self = shared_from_this()] { self->close_everything(); });
}

failure_info async_core::last_failure() {
  std::lock_guard lock(mu_);
  return last_failure_;
}

// ------------------------------------------------------------------ closing (strand)

void async_core::close_everything() {
  const auto why = aborted();
  retry_timer_.cancel();
  lane_timer_.cancel();
  wait_timer_.cancel();
  op_queue stranded;
  {
    std::lock_guard lock(mu_);
    stranded = pipeline_.take_all();
    queued_from_ = tubes_.used();
  }
  fail_all(stranded, why);
  if (auto main = main_) main->close(why);
  main_ = nullptr;
  lanes_.on_shutdown(why);
  carry_out_lane_actions();
  complete_connect_waiters(why);
}

// ------------------------------------------------- the entry points of detail/async_core.hpp

std::shared_ptr<async_core> make_async_core(const asio::any_io_executor& ex, endpoint ep,
                                            async_client_options options) {
  return std::make_shared<async_core>(ex, std::move(ep), std::move(options));
}

const asio::any_io_executor& executor_of(const async_core& core) noexcept {
  return core.user_executor();
}
void connect_op(async_core& core, op_base* op) {
  core.connect(op);
}
void shutdown(async_core& core) {
  core.shutdown();
}
std::size_t in_flight(async_core& core) {
  return core.in_flight();
}
failure_info last_failure(async_core& core) {
  return core.last_failure();
}

}  // namespace beanpole::detail

namespace beanpole {

std::string_view to_string(client_event::kind what) noexcept {
  switch (what) {
    case client_event::kind::connected:
      return "connected";
    case client_event::kind::disconnected:
      return "disconnected";
    case client_event::kind::reconnecting:
      return "reconnecting";
    case client_event::kind::reconnected:
      return "reconnected";
    case client_event::kind::lost_reservation:
      return "lost_reservation";
    case client_event::kind::gave_up:
      return "gave_up";
    case client_event::kind::reserve_queued:
      return "reserve_queued";
    case client_event::kind::draining:
      return "draining";
  }
  return "unknown";
}

async_client::async_client(executor_type ex, endpoint ep, async_client_options options)
    : executor_(std::move(ex)),
      core_(detail::make_async_core(executor_, std::move(ep), std::move(options))) {}

async_client::~async_client() {
  detail::shutdown(*core_);
}

void async_client::close() {
  detail::shutdown(*core_);
}

std::size_t async_client::in_flight() const {
  return detail::in_flight(*core_);
}

failure_info async_client::last_failure() const {
  return detail::last_failure(*core_);
}

}  // namespace beanpole
