// The worker's counters: written on the engine's strand, read by `worker::metrics` and the
// metrics HTTP server from any thread.
#include "worker/metrics_registry.hpp"

namespace beanpole::detail {

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

}  // namespace beanpole::detail
