// Totals over the servers of a pool: the union of tube lists, sums of count fields.
#include <algorithm>
#include <set>

#include "beanpole/pool.hpp"

namespace beanpole {

std::vector<std::string> union_of(const std::vector<server_reply<std::vector<std::string>>>& r) {
  std::set<std::string> all;
  for (const auto& s : r) {
    if (!s.error) all.insert(s.value.begin(), s.value.end());
  }
  return {all.begin(), all.end()};
}

proto::server_stats sum_counts(const std::vector<server_reply<proto::server_stats>>& r) {
  proto::server_stats t;
  for (const auto& reply : r) {
    if (reply.error) continue;
    const auto& s = reply.value;
    for (auto field : {&proto::server_stats::current_jobs_urgent,
                       &proto::server_stats::current_jobs_ready,
                       &proto::server_stats::current_jobs_reserved,
                       &proto::server_stats::current_jobs_delayed,
                       &proto::server_stats::current_jobs_buried,
                       &proto::server_stats::cmd_put,
                       &proto::server_stats::cmd_peek,
                       &proto::server_stats::cmd_peek_ready,
                       &proto::server_stats::cmd_peek_delayed,
                       &proto::server_stats::cmd_peek_buried,
                       &proto::server_stats::cmd_reserve,
                       &proto::server_stats::cmd_reserve_with_timeout,
                       &proto::server_stats::cmd_delete,
                       &proto::server_stats::cmd_release,
                       &proto::server_stats::cmd_use,
                       &proto::server_stats::cmd_watch,
                       &proto::server_stats::cmd_ignore,
                       &proto::server_stats::cmd_bury,
                       &proto::server_stats::cmd_kick,
                       &proto::server_stats::cmd_touch,
                       &proto::server_stats::cmd_stats,
                       &proto::server_stats::cmd_stats_job,
                       &proto::server_stats::cmd_stats_tube,
                       &proto::server_stats::cmd_list_tubes,
                       &proto::server_stats::cmd_list_tube_used,
                       &proto::server_stats::cmd_list_tubes_watched,
                       &proto::server_stats::cmd_pause_tube,
                       &proto::server_stats::job_timeouts,
                       &proto::server_stats::total_jobs,
                       &proto::server_stats::current_tubes,
                       &proto::server_stats::current_connections,
                       &proto::server_stats::current_producers,
                       &proto::server_stats::current_workers,
                       &proto::server_stats::current_waiting,
                       &proto::server_stats::total_connections,
                       &proto::server_stats::binlog_records_migrated,
                       &proto::server_stats::binlog_records_written}) {
      t.*field += s.*field;
    }
  }
  return t;
}

proto::tube_stats sum_counts(const std::vector<server_reply<proto::tube_stats>>& r) {
  proto::tube_stats t;
  bool named = false;
  for (const auto& reply : r) {
    if (reply.error) continue;
    const auto& s = reply.value;
    if (!named) {
      t.name = s.name;
      named = true;
    }
    for (auto field :
         {&proto::tube_stats::current_jobs_urgent, &proto::tube_stats::current_jobs_ready,
          &proto::tube_stats::current_jobs_reserved, &proto::tube_stats::current_jobs_delayed,
          &proto::tube_stats::current_jobs_buried, &proto::tube_stats::total_jobs,
          &proto::tube_stats::current_using, &proto::tube_stats::current_waiting,
          &proto::tube_stats::current_watching, &proto::tube_stats::cmd_delete,
          &proto::tube_stats::cmd_pause_tube}) {
      t.*field += s.*field;
    }
    t.pause = std::max(t.pause, s.pause);
    t.pause_time_left = std::max(t.pause_time_left, s.pause_time_left);
  }
  return t;
}

}  // namespace beanpole
