// Typed decoding of the server's stats and list bodies.
//
// The server's output looks like YAML but is not quite: 1.12 leaves most strings unquoted (its
// `os:` value may hold '#' and ':'), 1.13 quotes them, some values are floats. A generic YAML
// parser would read `os: #1 SMP` as a comment, so this is a strict decoder of the server's flat
// `---` / `key: value` / `- item` output instead.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <system_error>
#include <variant>
#include <vector>

namespace beanpole::proto {

/// `stats`: the server as a whole. Field names follow the server's keys with '-' as '_'.
/// Keys this version does not know are kept in `other`, so newer servers still decode.
struct server_stats {
  std::uint64_t current_jobs_urgent = 0;
  std::uint64_t current_jobs_ready = 0;
  std::uint64_t current_jobs_reserved = 0;
  std::uint64_t current_jobs_delayed = 0;
  std::uint64_t current_jobs_buried = 0;
  std::uint64_t cmd_put = 0;
  std::uint64_t cmd_peek = 0;
  std::uint64_t cmd_peek_ready = 0;
  std::uint64_t cmd_peek_delayed = 0;
  std::uint64_t cmd_peek_buried = 0;
  std::uint64_t cmd_reserve = 0;
  std::uint64_t cmd_reserve_with_timeout = 0;
  std::uint64_t cmd_delete = 0;
  std::uint64_t cmd_release = 0;
  std::uint64_t cmd_use = 0;
  std::uint64_t cmd_watch = 0;
  std::uint64_t cmd_ignore = 0;
  std::uint64_t cmd_bury = 0;
  std::uint64_t cmd_kick = 0;
  std::uint64_t cmd_touch = 0;
  std::uint64_t cmd_stats = 0;
  std::uint64_t cmd_stats_job = 0;
  std::uint64_t cmd_stats_tube = 0;
  std::uint64_t cmd_list_tubes = 0;
  std::uint64_t cmd_list_tube_used = 0;
  std::uint64_t cmd_list_tubes_watched = 0;
  std::uint64_t cmd_pause_tube = 0;
  std::uint64_t job_timeouts = 0;
  std::uint64_t total_jobs = 0;
  std::uint64_t max_job_size = 0;
  std::uint64_t current_tubes = 0;
  std::uint64_t current_connections = 0;
  std::uint64_t current_producers = 0;
  std::uint64_t current_workers = 0;
  std::uint64_t current_waiting = 0;
  std::uint64_t total_connections = 0;
  std::uint64_t pid = 0;
  std::string version;
  double rusage_utime = 0;   ///< seconds
  double rusage_stime = 0;   ///< seconds
  std::uint64_t uptime = 0;  ///< seconds
  std::uint64_t binlog_oldest_index = 0;
  std::uint64_t binlog_current_index = 0;
  std::uint64_t binlog_records_migrated = 0;
  std::uint64_t binlog_records_written = 0;
  std::uint64_t binlog_max_size = 0;
  bool draining = false;
  std::string id;
  std::string hostname;
  std::string os;
  std::string platform;
  /// Keys not listed above, with their values as text (quotes removed).
  std::map<std::string, std::string, std::less<>> other;
};

/// `stats-tube`: one tube.
struct tube_stats {
  std::string name;
  std::uint64_t current_jobs_urgent = 0;
  std::uint64_t current_jobs_ready = 0;
  std::uint64_t current_jobs_reserved = 0;
  std::uint64_t current_jobs_delayed = 0;
  std::uint64_t current_jobs_buried = 0;
  std::uint64_t total_jobs = 0;
  std::uint64_t current_using = 0;
  std::uint64_t current_waiting = 0;
  std::uint64_t current_watching = 0;
  std::uint64_t pause = 0;  ///< seconds the tube was paused for
  std::uint64_t cmd_delete = 0;
  std::uint64_t cmd_pause_tube = 0;
  std::uint64_t pause_time_left = 0;  ///< seconds
  std::map<std::string, std::string, std::less<>> other;
};

/// `stats-job`: one job.
struct job_stats {
  std::uint64_t id = 0;
  std::string tube;
  std::string state;  ///< "ready", "delayed", "reserved" or "buried"
  std::uint32_t pri = 0;
  std::uint64_t age = 0;        ///< seconds since the put
  std::uint64_t delay = 0;      ///< seconds
  std::uint64_t ttr = 0;        ///< seconds
  std::uint64_t time_left = 0;  ///< seconds until the server changes the job's state
  std::uint64_t file = 0;       ///< earliest binlog file holding the job (0 without -b)
  std::uint64_t reserves = 0;
  std::uint64_t timeouts = 0;
  std::uint64_t releases = 0;
  std::uint64_t buries = 0;
  std::uint64_t kicks = 0;
  std::map<std::string, std::string, std::less<>> other;
};

/// One `key: value` pair of a stats body, in the server's order, value unquoted.
struct stats_entry {
  std::string key;
  std::string value;
};

/// One field of a decoded stats struct, for printing stats generically (the CLI does): the
/// server's key and the typed value, so that a count prints as a number and `version: 1.12` or a
/// tube named `123` stays text. Views into the struct: valid while it lives, unchanged.
struct stats_field {
  std::string_view key;
  std::variant<std::uint64_t, double, bool, std::string_view> value;
  /// False for the keys this version does not know (from `other`): their value is the server's
  /// text, whatever its type.
  bool known = true;
};

/// The fields of `s` in the server's order, then the keys kept in `other` (as text).
std::vector<stats_field> fields_of(const server_stats& s);
/// The fields of `s` in the server's order, then the keys kept in `other` (as text).
std::vector<stats_field> fields_of(const tube_stats& s);
/// The fields of `s` in the server's order, then the keys kept in `other` (as text).
std::vector<stats_field> fields_of(const job_stats& s);

/// Splits a stats body into its `key: value` pairs (in order, values unquoted). For callers that
/// print stats generically, like the CLI. Errors: `errc::bad_stats`.
std::error_code parse_stats_entries(std::string_view body, std::vector<stats_entry>& out);

/// Decodes a `stats` body. Errors: `errc::bad_stats` (a line that is not `key: value`, or a
/// known numeric key whose value is not a number).
std::error_code parse_server_stats(std::string_view body, server_stats& out);
/// Decodes a `stats-tube` body. Errors as `parse_server_stats`.
std::error_code parse_tube_stats(std::string_view body, tube_stats& out);
/// Decodes a `stats-job` body. Errors as `parse_server_stats`.
std::error_code parse_job_stats(std::string_view body, job_stats& out);
/// Decodes a `list-tubes` / `list-tubes-watched` body (`---` then `- name` lines).
/// Errors: `errc::bad_stats`.
std::error_code parse_name_list(std::string_view body, std::vector<std::string>& out);

}  // namespace beanpole::proto
