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
  std::uint64_t current_jobs_urgent = 0;       ///< ready jobs with priority < 1024
  std::uint64_t current_jobs_ready = 0;        ///< jobs in the ready queue
  std::uint64_t current_jobs_reserved = 0;     ///< jobs reserved by all clients
  std::uint64_t current_jobs_delayed = 0;      ///< delayed jobs
  std::uint64_t current_jobs_buried = 0;       ///< buried jobs
  std::uint64_t cmd_put = 0;                   ///< `put` commands since start
  std::uint64_t cmd_peek = 0;                  ///< `peek` commands
  std::uint64_t cmd_peek_ready = 0;            ///< `peek-ready` commands
  std::uint64_t cmd_peek_delayed = 0;          ///< `peek-delayed` commands
  std::uint64_t cmd_peek_buried = 0;           ///< `peek-buried` commands
  std::uint64_t cmd_reserve = 0;               ///< `reserve` commands
  std::uint64_t cmd_reserve_with_timeout = 0;  ///< `reserve-with-timeout` commands
  std::uint64_t cmd_delete = 0;                ///< `delete` commands
  std::uint64_t cmd_release = 0;               ///< `release` commands
  std::uint64_t cmd_use = 0;                   ///< `use` commands
  std::uint64_t cmd_watch = 0;                 ///< `watch` commands
  std::uint64_t cmd_ignore = 0;                ///< `ignore` commands
  std::uint64_t cmd_bury = 0;                  ///< `bury` commands
  std::uint64_t cmd_kick = 0;                  ///< `kick` commands
  std::uint64_t cmd_touch = 0;                 ///< `touch` commands
  std::uint64_t cmd_stats = 0;                 ///< `stats` commands
  std::uint64_t cmd_stats_job = 0;             ///< `stats-job` commands
  std::uint64_t cmd_stats_tube = 0;            ///< `stats-tube` commands
  std::uint64_t cmd_list_tubes = 0;            ///< `list-tubes` commands
  std::uint64_t cmd_list_tube_used = 0;        ///< `list-tube-used` commands
  std::uint64_t cmd_list_tubes_watched = 0;    ///< `list-tubes-watched` commands
  std::uint64_t cmd_pause_tube = 0;            ///< `pause-tube` commands
  std::uint64_t job_timeouts = 0;              ///< times a job's TTR ran out
  std::uint64_t total_jobs = 0;                ///< jobs created since start
  std::uint64_t max_job_size = 0;              ///< largest body the server accepts, bytes
  std::uint64_t current_tubes = 0;             ///< tubes that exist
  std::uint64_t current_connections = 0;       ///< open connections
  std::uint64_t current_producers = 0;         ///< connections that have put
  std::uint64_t current_workers = 0;           ///< connections that have reserved
  std::uint64_t current_waiting = 0;           ///< connections waiting in a reserve
  std::uint64_t total_connections = 0;         ///< connections since start
  std::uint64_t pid = 0;                       ///< the server's process id
  std::string version;                         ///< the server's version, e.g. "1.12"
  double rusage_utime = 0;                     ///< seconds
  double rusage_stime = 0;                     ///< seconds
  std::uint64_t uptime = 0;                    ///< seconds
  std::uint64_t binlog_oldest_index = 0;       ///< oldest binlog file in use
  std::uint64_t binlog_current_index = 0;      ///< binlog file being written
  std::uint64_t binlog_records_migrated = 0;   ///< records moved to newer binlog files
  std::uint64_t binlog_records_written = 0;    ///< records written to the binlog
  std::uint64_t binlog_max_size = 0;           ///< largest binlog file size, bytes
  bool draining = false;                       ///< whether the server refuses new jobs (SIGUSR1)
  std::string id;                              ///< random id of this server process
  std::string hostname;                        ///< the server's host name
  std::string os;                              ///< the OS version (uname)
  std::string platform;                        ///< the machine (uname)
  /// Keys not listed above, with their values as text (quotes removed).
  std::map<std::string, std::string, std::less<>> other;
};

/// `stats-tube`: one tube.
struct tube_stats {
  std::string name;                         ///< the tube's name
  std::uint64_t current_jobs_urgent = 0;    ///< ready jobs with priority < 1024
  std::uint64_t current_jobs_ready = 0;     ///< jobs in the ready queue
  std::uint64_t current_jobs_reserved = 0;  ///< jobs reserved by all clients
  std::uint64_t current_jobs_delayed = 0;   ///< delayed jobs
  std::uint64_t current_jobs_buried = 0;    ///< buried jobs
  std::uint64_t total_jobs = 0;             ///< jobs created in this tube
  std::uint64_t current_using = 0;          ///< connections using the tube
  std::uint64_t current_waiting = 0;        ///< connections waiting in a reserve on it
  std::uint64_t current_watching = 0;       ///< connections watching it
  std::uint64_t pause = 0;                  ///< seconds the tube was paused for
  std::uint64_t cmd_delete = 0;             ///< `delete` commands on its jobs
  std::uint64_t cmd_pause_tube = 0;         ///< `pause-tube` commands on it
  std::uint64_t pause_time_left = 0;        ///< seconds
  /// Keys not listed above, with their values as text (quotes removed).
  std::map<std::string, std::string, std::less<>> other;
};

/// `stats-job`: one job.
struct job_stats {
  std::uint64_t id = 0;         ///< id: the job's id
  std::string tube;             ///< tube: the tube it is in
  std::string state;            ///< "ready", "delayed", "reserved" or "buried"
  std::uint32_t pri = 0;        ///< pri: its priority
  std::uint64_t age = 0;        ///< seconds since the put
  std::uint64_t delay = 0;      ///< seconds
  std::uint64_t ttr = 0;        ///< seconds
  std::uint64_t time_left = 0;  ///< seconds until the server changes the job's state
  std::uint64_t file = 0;       ///< earliest binlog file holding the job (0 without -b)
  std::uint64_t reserves = 0;   ///< times it was reserved
  std::uint64_t timeouts = 0;   ///< times its TTR ran out while reserved
  std::uint64_t releases = 0;   ///< times it was released
  std::uint64_t buries = 0;     ///< times it was buried
  std::uint64_t kicks = 0;      ///< times it was kicked
  /// Keys this version does not know, value as the server wrote it.
  std::map<std::string, std::string, std::less<>> other;
};

/// One `key: value` pair of a stats body, in the server's order, value unquoted.
struct stats_entry {
  std::string key;    ///< The key, e.g. "current-jobs-ready".
  std::string value;  ///< The value as text.
};

/// One field of a decoded stats struct, for printing stats generically (the CLI does): the
/// server's key and the typed value, so that a count prints as a number and `version: 1.12` or a
/// tube named `123` stays text. Views into the struct: valid while it lives, unchanged.
struct stats_field {
  std::string_view key;  ///< The server's key, e.g. "current-jobs-ready".
  /// Counts are numbers, `draining` a bool, `rusage-*` a double, names and versions text.
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
