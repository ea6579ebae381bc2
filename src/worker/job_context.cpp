// The job context: what a handler sees of its job, and how its decisions reach the engine (only
// through the job's `job_shared`, so a handler thread never holds the engine itself).
#include <utility>

#include "worker/worker_impl.hpp"

namespace beanpole {
namespace detail {

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

}  // namespace detail

job_id job_context::id() const noexcept {
  return owner_->job_.id;
}
const std::string& job_context::server() const noexcept {
  return owner_->server_name_;
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

}  // namespace beanpole
