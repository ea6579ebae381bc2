// Counters of a worker (see worker.hpp): per tube, readable from code as a snapshot, printable
// for humans, and in the Prometheus text exposition format.
//
// Everything here is plain data and pure functions: no sockets, no clocks, no threads.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace beanpole {

/// A histogram of handler run times with fixed buckets, Prometheus style.
///
/// Thread safety: a value type; distinct objects may be used from distinct threads.
struct latency_histogram {
  /// Upper bounds of the buckets, in seconds: a run of `d` seconds falls into the first bucket
  /// whose bound is `>= d`, or into the last, unbounded one ("+Inf").
  static constexpr std::array<double, 15> bounds{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                 1,     2.5,   5,    10,    30,   60,  300};

  /// How many runs fell into each bucket (not cumulative); the last element is "+Inf".
  std::array<std::uint64_t, bounds.size() + 1> buckets{};
  /// How many runs were recorded.
  std::uint64_t count = 0;
  /// The sum of all recorded run times, in seconds.
  double sum_seconds = 0;

  /// Records one run of duration `d` (negative durations count as zero).
  void record(std::chrono::nanoseconds d) noexcept;

  /// An upper estimate of the `q`-quantile (`q` in [0, 1]) in seconds: the upper bound of the
  /// bucket that holds it. 0 when nothing was recorded; +infinity when it lies in the last bucket.
  double quantile(double q) const noexcept;

  /// Adds the counts of `other`.
  latency_histogram& operator+=(const latency_histogram& other) noexcept;

  /// Same counts in every bucket.
  friend bool operator==(const latency_histogram&, const latency_histogram&) = default;
};

/// What a worker did with the jobs of one tube since it started.
///
/// Counters only grow; `in_flight` is a gauge. A job usually moves through `reserved`, then
/// `succeeded` or `failed` (the handler's result), then one of `deleted`, `retried`, `buried`,
/// `released` (what was sent to the server) — or `lost` when the worker no longer held it.
struct tube_metrics {
  /// The tube's name.
  std::string tube;
  /// Jobs reserved (and identified by `stats-job`) from this tube.
  std::uint64_t reserved = 0;
  /// Handlers that returned normally without calling `job_context::fail`.
  std::uint64_t succeeded = 0;
  /// Handlers that threw or called `job_context::fail`.
  std::uint64_t failed = 0;
  /// Jobs deleted (handler success or `job_context::remove`).
  std::uint64_t deleted = 0;
  /// Failed jobs released with a backoff delay, to be tried again.
  std::uint64_t retried = 0;
  /// Jobs buried (failed `max_attempts` times, or `job_context::bury`).
  std::uint64_t buried = 0;
  /// Jobs released for another reason: `job_context::release`, shutdown (not started, or still
  /// running at the end of the grace period), no handler, or a failed `stats-job`.
  std::uint64_t released = 0;
  /// Successful `touch` commands (automatic or asked for by the handler).
  std::uint64_t touched = 0;
  /// Reservations lost: the connection holding the job dropped, its time to run ran out, or the
  /// server answered NOT_FOUND to the final command. The server has the job again.
  std::uint64_t lost = 0;
  /// Handlers still running when the grace period ended (their jobs were released and their
  /// results are ignored).
  std::uint64_t abandoned = 0;
  /// Handlers running now (a gauge).
  std::uint64_t in_flight = 0;
  /// Run times of the handlers that finished (abandoned ones are not recorded).
  latency_histogram latency;

  /// Adds the counters and histogram of `other` (the name stays).
  tube_metrics& operator+=(const tube_metrics& other) noexcept;

  /// Same name, counters and histogram.
  friend bool operator==(const tube_metrics&, const tube_metrics&) = default;
};

/// A snapshot of a worker's counters.
struct worker_metrics {
  /// One entry per tube the worker handles, sorted by name.
  std::vector<tube_metrics> tubes;
  /// Time since the worker started running (zero before `async_run`).
  std::chrono::milliseconds uptime{0};
  /// Times the client's main connection was re-established.
  std::uint64_t reconnects = 0;

  /// The sum over all tubes, named "total".
  tube_metrics total() const;
  /// The entry of `tube`, or null.
  const tube_metrics* find(std::string_view tube) const noexcept;
};

/// A table for humans (what the CLI prints to stderr when a worker stops): one line per tube
/// and a total line, with the counters and the median and 99th-percentile run times (upper
/// bounds of their histogram buckets, see `latency_histogram::quantile`). Ends with a newline.
std::string format_metrics(const worker_metrics& m);

/// The snapshot in the Prometheus text exposition format (version 0.0.4): counters
/// `beanpole_worker_jobs_<name>_total{tube="..."}`, the gauge `beanpole_worker_jobs_in_flight`,
/// the histogram `beanpole_worker_handler_duration_seconds`, and `beanpole_worker_uptime_seconds`
/// and `beanpole_worker_reconnects_total`.
std::string prometheus_text(const worker_metrics& m);

}  // namespace beanpole
