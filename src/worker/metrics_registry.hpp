// The worker's counters per tube. Internal.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "beanpole/metrics.hpp"

namespace beanpole::detail {

using worker_clock = std::chrono::steady_clock;

/// Per-tube counters behind a mutex: updated on the engine's strand, read from anywhere (the
/// metrics HTTP server and `worker::metrics` run on other threads).
class metrics_registry {
 public:
  /// Makes `tube` appear in snapshots (with zero counts) before its first job.
  void add_tube(const std::string& tube);
  /// Calls `f(tube_metrics&)` for `tube`'s counters, under the lock.
  template <class F>
  void update(const std::string& tube, F f) {
    std::lock_guard lock(mu_);
    auto& m = tubes_[tube];
    if (m.tube.empty()) m.tube = tube;
    f(m);
  }
  /// The run started: uptime counts from now.
  void started();
  /// The run ended: uptime stops counting.
  void stopped();
  /// The client reconnected one of its connections.
  void reconnected();
  /// A copy of every counter.
  worker_metrics snapshot() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, tube_metrics, std::less<>> tubes_;
  std::optional<worker_clock::time_point> started_;
  std::optional<worker_clock::time_point> stopped_;
  std::uint64_t reconnects_ = 0;
};

}  // namespace beanpole::detail
