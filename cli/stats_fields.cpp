#include "stats_fields.hpp"

#include <cstdint>
#include <map>

#include <fmt/format.h>

namespace beanpole::cli {
namespace {

class builder {
 public:
  builder& num(const char* key, std::uint64_t v) {
    out.push_back({key, std::to_string(v), stat_entry::kind::integer});
    return *this;
  }
  builder& real(const char* key, double v) {
    // The server prints seconds and microseconds as "%d.%06d".
    out.push_back({key, fmt::format("{:.6f}", v), stat_entry::kind::real});
    return *this;
  }
  builder& flag(const char* key, bool v) {
    out.push_back({key, v ? "true" : "false", stat_entry::kind::boolean});
    return *this;
  }
  builder& text(const char* key, const std::string& v) {
    out.push_back({key, v, stat_entry::kind::text});
    return *this;
  }
  builder& others(const std::map<std::string, std::string, std::less<>>& other) {
    for (const auto& [key, value] : other) {
      // Keys from a newer server: digits alone are an integer, as every count in stats is.
      const bool digits = !value.empty() && value.size() <= 19 &&
                          value.find_first_not_of("0123456789") == std::string::npos;
      out.push_back({key, value, digits ? stat_entry::kind::integer : stat_entry::kind::text});
    }
    return *this;
  }
  std::vector<stat_entry> out;
};

}  // namespace

std::vector<stat_entry> entries_of(const proto::server_stats& s) {
  builder b;
  b.num("current-jobs-urgent", s.current_jobs_urgent)
      .num("current-jobs-ready", s.current_jobs_ready)
      .num("current-jobs-reserved", s.current_jobs_reserved)
      .num("current-jobs-delayed", s.current_jobs_delayed)
      .num("current-jobs-buried", s.current_jobs_buried)
      .num("cmd-put", s.cmd_put)
      .num("cmd-peek", s.cmd_peek)
      .num("cmd-peek-ready", s.cmd_peek_ready)
      .num("cmd-peek-delayed", s.cmd_peek_delayed)
      .num("cmd-peek-buried", s.cmd_peek_buried)
      .num("cmd-reserve", s.cmd_reserve)
      .num("cmd-reserve-with-timeout", s.cmd_reserve_with_timeout)
      .num("cmd-delete", s.cmd_delete)
      .num("cmd-release", s.cmd_release)
      .num("cmd-use", s.cmd_use)
      .num("cmd-watch", s.cmd_watch)
      .num("cmd-ignore", s.cmd_ignore)
      .num("cmd-bury", s.cmd_bury)
      .num("cmd-kick", s.cmd_kick)
      .num("cmd-touch", s.cmd_touch)
      .num("cmd-stats", s.cmd_stats)
      .num("cmd-stats-job", s.cmd_stats_job)
      .num("cmd-stats-tube", s.cmd_stats_tube)
      .num("cmd-list-tubes", s.cmd_list_tubes)
      .num("cmd-list-tube-used", s.cmd_list_tube_used)
      .num("cmd-list-tubes-watched", s.cmd_list_tubes_watched)
      .num("cmd-pause-tube", s.cmd_pause_tube)
      .num("job-timeouts", s.job_timeouts)
      .num("total-jobs", s.total_jobs)
      .num("max-job-size", s.max_job_size)
      .num("current-tubes", s.current_tubes)
      .num("current-connections", s.current_connections)
      .num("current-producers", s.current_producers)
      .num("current-workers", s.current_workers)
      .num("current-waiting", s.current_waiting)
      .num("total-connections", s.total_connections)
      .num("pid", s.pid)
      .text("version", s.version)
      .real("rusage-utime", s.rusage_utime)
      .real("rusage-stime", s.rusage_stime)
      .num("uptime", s.uptime)
      .num("binlog-oldest-index", s.binlog_oldest_index)
      .num("binlog-current-index", s.binlog_current_index)
      .num("binlog-records-migrated", s.binlog_records_migrated)
      .num("binlog-records-written", s.binlog_records_written)
      .num("binlog-max-size", s.binlog_max_size)
      .flag("draining", s.draining)
      .text("id", s.id)
      .text("hostname", s.hostname)
      .text("os", s.os)
      .text("platform", s.platform)
      .others(s.other);
  return std::move(b.out);
}

std::vector<stat_entry> entries_of(const proto::tube_stats& s) {
  builder b;
  b.text("name", s.name)
      .num("current-jobs-urgent", s.current_jobs_urgent)
      .num("current-jobs-ready", s.current_jobs_ready)
      .num("current-jobs-reserved", s.current_jobs_reserved)
      .num("current-jobs-delayed", s.current_jobs_delayed)
      .num("current-jobs-buried", s.current_jobs_buried)
      .num("total-jobs", s.total_jobs)
      .num("current-using", s.current_using)
      .num("current-waiting", s.current_waiting)
      .num("current-watching", s.current_watching)
      .num("pause", s.pause)
      .num("cmd-delete", s.cmd_delete)
      .num("cmd-pause-tube", s.cmd_pause_tube)
      .num("pause-time-left", s.pause_time_left)
      .others(s.other);
  return std::move(b.out);
}

std::vector<stat_entry> entries_of(const proto::job_stats& s) {
  builder b;
  b.num("id", s.id)
      .text("tube", s.tube)
      .text("state", s.state)
      .num("pri", s.pri)
      .num("age", s.age)
      .num("delay", s.delay)
      .num("ttr", s.ttr)
      .num("time-left", s.time_left)
      .num("file", s.file)
      .num("reserves", s.reserves)
      .num("timeouts", s.timeouts)
      .num("releases", s.releases)
      .num("buries", s.buries)
      .num("kicks", s.kicks)
      .others(s.other);
  return std::move(b.out);
}

std::string format_text(const std::vector<stat_entry>& entries) {
  std::string out;
  for (const auto& e : entries) {
    out += e.key;
    out += ": ";
    out += e.value;
    out += '\n';
  }
  return out;
}

json format_json(const std::vector<stat_entry>& entries) {
  json obj = json::object();
  for (const auto& e : entries) {
    if (e.type == stat_entry::kind::integer) {
      obj[e.key] = std::stoull(e.value);
    } else {
      obj[e.key] = e.value;
    }
  }
  return obj;
}

}  // namespace beanpole::cli
