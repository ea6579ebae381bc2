// The server's statistics as Prometheus metrics: a snapshot read over the blocking client, and
// its text exposition (format 0.0.4). The exporter (`beanpole exporter`) and the web console
// share them, so that both show the same numbers under the same names.
#pragma once

#include <string>
#include <vector>

#include "beanpole/client.hpp"
#include "beanpole/proto/stats.hpp"

namespace beanpole {

/// One server's statistics at one moment.
struct server_snapshot {
  /// The server's address as the user gave it: the value of the `server` label.
  std::string address;
  /// Whether `stats` could be read. When false, `stats` and `tubes` are empty.
  bool up = false;
  /// The server's `stats`, when `up`.
  proto::server_stats stats;
  /// `stats-tube` of every tube, in `list-tubes` order (a tube gone in between is left out).
  std::vector<proto::tube_stats> tubes;
};

/// Reads `stats`, `list-tubes` and `stats-tube` of every tube over `c`. Never throws for server
/// or connection errors: a snapshot whose `stats` could not be read has `up == false`, and the
/// error is stored in `ec`. A tube that disappears between `list-tubes` and its `stats-tube`
/// is skipped.
///
/// Thread safety: as `c`.
server_snapshot take_snapshot(client& c, std::string address, std::error_code& ec);

/// The Prometheus text exposition (format 0.0.4) of `servers`. A pure function.
///
/// - `beanstalkd_up` is 1, or 0 for a server whose snapshot is not up.
/// - Every integer field of `stats` is `beanstalkd_<field>`, and every integer field of
///   `stats-tube` is `beanstalkd_tube_<field>{tube="NAME"}`, with the key's '-' as '_'
///   (`current-jobs-ready` gives `beanstalkd_current_jobs_ready`). Fields that are not integers
///   (version, hostname, rusage, draining, ...) are left out; keys unknown to this version are
///   included when their value is an integer.
/// - Every sample has the label `server="ADDRESS"`. Fields whose key starts with `total-` or
///   `cmd-` are counters, the others gauges. Each metric has one HELP and one TYPE line, followed
///   by its samples for every server.
std::string format_prometheus(const std::vector<server_snapshot>& servers);

/// The Content-Type of `format_prometheus`'s output.
inline constexpr const char* prometheus_content_type = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace beanpole
