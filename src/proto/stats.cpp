// Decoder for the server's stats and list bodies: a `---` line, then `key: value` lines (stats)
// or `- name` lines (lists). Not handed to a YAML parser: 1.12 leaves `os:` unquoted, and a
// YAML parser would read its '#' as the start of a comment.
#include "beanpole/proto/stats.hpp"

#include <algorithm>
#include <charconv>
#include <concepts>
#include <cstddef>
#include <iterator>
#include <utility>
#include <variant>

#include "beanpole/error.hpp"

namespace beanpole::proto {
namespace {

std::error_code bad_stats() {
  return make_error_code(errc::bad_stats);
}

std::string_view take_line(std::string_view& rest) {
  const auto end = rest.find('\n');
  const auto line = rest.substr(0, end);
  rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 1);
  return line;
}

/// The one line splitter behind every decoder: `on_line` returns false for a line it refuses.
template <class OnLine>
std::error_code for_each_line(std::string_view body, OnLine on_line) {
  // The server ends the body with "\n"; a body that still carries the reply's "\r\n" (or lost
  // its last "\n") is the same document, so trailing line breaks are not lines.
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) {
    body.remove_suffix(1);
  }
  if (body.empty() || take_line(body) != "---") {
    return bad_stats();
  }
  while (!body.empty()) {
    if (!on_line(take_line(body))) {
      return bad_stats();
    }
  }
  return {};
}

/// 1.13 wraps string values in double quotes (1.12 only `version`). The server escapes nothing
/// inside them, so removing the outer pair is the whole decoding.
std::string_view unquote(std::string_view value) {
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
    value.remove_prefix(1);
    value.remove_suffix(1);
  }
  return value;
}

/// Calls `on_entry(key, value)` for each `key: value` line, value unquoted. The split is at the
/// first ": " because 1.12's unquoted `os:` value may itself hold ": ".
template <class OnEntry>
std::error_code for_each_entry(std::string_view body, OnEntry on_entry) {
  return for_each_line(body, [&](std::string_view line) {
    const auto colon = line.find(": ");
    if (colon == 0 || colon == std::string_view::npos) {
      return false;
    }
    return on_entry(line.substr(0, colon), unquote(line.substr(colon + 2)));
  });
}

// One parse_value per member type; false means the text is not a value of that type.

template <std::unsigned_integral T>
bool parse_value(std::string_view text, T& out) {
  // from_chars rejects signs and whitespace for unsigned types, and reports overflow.
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && end == text.data() + text.size();
}

bool parse_value(std::string_view text, bool& out) {
  if (text != "true" && text != "false") {
    return false;
  }
  out = text == "true";
  return true;
}

bool parse_value(std::string_view text, double& out) {
  // The server prints "%d.%06d". Requiring a leading digit keeps out the signs, "inf" and
  // "nan" that from_chars would accept; `fixed` keeps out exponents.
  if (text.empty() || text.front() < '0' || text.front() > '9') {
    return false;
  }
  const auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), out, std::chars_format::fixed);
  return ec == std::errc{} && end == text.data() + text.size();
}

bool parse_value(std::string_view text, std::string& out) {
  out = text;
  return true;
}

/// `time-left` and `pause-time-left` are printed signed (deadline minus now) and dip below zero
/// when the server acts on a deadline a little late; such a value means "no time left".
template <class S>
struct seconds_left {
  std::uint64_t S::*member;
};

template <class S>
bool parse_field(std::string_view text, S& s, seconds_left<S> f) {
  if (text.size() > 1 && text.front() == '-' && parse_value(text.substr(1), s.*f.member)) {
    s.*f.member = 0;
    return true;
  }
  return parse_value(text, s.*f.member);
}

template <class S, class T>
bool parse_field(std::string_view text, S& s, T S::*member) {
  return parse_value(text, s.*member);
}

/// One table of these per struct lets a single decode() serve all three; the variant holds a
/// member pointer of each value type the structs use.
template <class S>
struct field {
  std::string_view key;
  std::variant<std::uint64_t S::*, std::uint32_t S::*, double S::*, bool S::*, std::string S::*,
               seconds_left<S>>
      member;
};

/// Decodes into a fresh `S` so that `out` is untouched on error and keys the server did not
/// send (older servers lack some) keep their defaults.
template <class S, std::size_t N>
std::error_code decode(std::string_view body, const field<S> (&fields)[N], S& out) {
  S parsed;
  const auto ec = for_each_entry(body, [&](std::string_view key, std::string_view value) {
    const auto it = std::find_if(std::begin(fields), std::end(fields),
                                 [&](const field<S>& f) { return f.key == key; });
    if (it == std::end(fields)) {
      parsed.other.insert_or_assign(std::string(key), std::string(value));
      return true;
    }
    return std::visit([&](auto member) { return parse_field(value, parsed, member); }, it->member);
  });
  if (!ec) {
    out = std::move(parsed);
  }
  return ec;
}

using ss = server_stats;
constexpr field<ss> server_fields[] = {
    {"current-jobs-urgent", &ss::current_jobs_urgent},
    {"current-jobs-ready", &ss::current_jobs_ready},
    {"current-jobs-reserved", &ss::current_jobs_reserved},
    {"current-jobs-delayed", &ss::current_jobs_delayed},
    {"current-jobs-buried", &ss::current_jobs_buried},
    {"cmd-put", &ss::cmd_put},
    {"cmd-peek", &ss::cmd_peek},
    {"cmd-peek-ready", &ss::cmd_peek_ready},
    {"cmd-peek-delayed", &ss::cmd_peek_delayed},
    {"cmd-peek-buried", &ss::cmd_peek_buried},
    {"cmd-reserve", &ss::cmd_reserve},
    {"cmd-reserve-with-timeout", &ss::cmd_reserve_with_timeout},
    {"cmd-delete", &ss::cmd_delete},
    {"cmd-release", &ss::cmd_release},
    {"cmd-use", &ss::cmd_use},
    {"cmd-watch", &ss::cmd_watch},
    {"cmd-ignore", &ss::cmd_ignore},
    {"cmd-bury", &ss::cmd_bury},
    {"cmd-kick", &ss::cmd_kick},
    {"cmd-touch", &ss::cmd_touch},
    {"cmd-stats", &ss::cmd_stats},
    {"cmd-stats-job", &ss::cmd_stats_job},
    {"cmd-stats-tube", &ss::cmd_stats_tube},
    {"cmd-list-tubes", &ss::cmd_list_tubes},
    {"cmd-list-tube-used", &ss::cmd_list_tube_used},
    {"cmd-list-tubes-watched", &ss::cmd_list_tubes_watched},
    {"cmd-pause-tube", &ss::cmd_pause_tube},
    {"job-timeouts", &ss::job_timeouts},
    {"total-jobs", &ss::total_jobs},
    {"max-job-size", &ss::max_job_size},
    {"current-tubes", &ss::current_tubes},
    {"current-connections", &ss::current_connections},
    {"current-producers", &ss::current_producers},
    {"current-workers", &ss::current_workers},
    {"current-waiting", &ss::current_waiting},
    {"total-connections", &ss::total_connections},
    {"pid", &ss::pid},
    {"version", &ss::version},
    {"rusage-utime", &ss::rusage_utime},
    {"rusage-stime", &ss::rusage_stime},
    {"uptime", &ss::uptime},
    {"binlog-oldest-index", &ss::binlog_oldest_index},
    {"binlog-current-index", &ss::binlog_current_index},
    {"binlog-records-migrated", &ss::binlog_records_migrated},
    {"binlog-records-written", &ss::binlog_records_written},
    {"binlog-max-size", &ss::binlog_max_size},
    {"draining", &ss::draining},
    {"id", &ss::id},
    {"hostname", &ss::hostname},
    {"os", &ss::os},
    {"platform", &ss::platform},
};

using ts = tube_stats;
constexpr field<ts> tube_fields[] = {
    {"name", &ts::name},
    {"current-jobs-urgent", &ts::current_jobs_urgent},
    {"current-jobs-ready", &ts::current_jobs_ready},
    {"current-jobs-reserved", &ts::current_jobs_reserved},
    {"current-jobs-delayed", &ts::current_jobs_delayed},
    {"current-jobs-buried", &ts::current_jobs_buried},
    {"total-jobs", &ts::total_jobs},
    {"current-using", &ts::current_using},
    {"current-waiting", &ts::current_waiting},
    {"current-watching", &ts::current_watching},
    {"pause", &ts::pause},
    {"cmd-delete", &ts::cmd_delete},
    {"cmd-pause-tube", &ts::cmd_pause_tube},
    {"pause-time-left", seconds_left<ts>{&ts::pause_time_left}},
};

using js = job_stats;
constexpr field<js> job_fields[] = {
    {"id", &js::id},
    {"tube", &js::tube},
    {"state", &js::state},
    {"pri", &js::pri},
    {"age", &js::age},
    {"delay", &js::delay},
    {"ttr", &js::ttr},
    {"time-left", seconds_left<js>{&js::time_left}},
    {"file", &js::file},
    {"reserves", &js::reserves},
    {"timeouts", &js::timeouts},
    {"releases", &js::releases},
    {"buries", &js::buries},
    {"kicks", &js::kicks},
};

}  // namespace

std::error_code parse_stats_entries(std::string_view body, std::vector<stats_entry>& out) {
  std::vector<stats_entry> entries;
  const auto ec = for_each_entry(body, [&](std::string_view key, std::string_view value) {
    entries.push_back({std::string(key), std::string(value)});
    return true;
  });
  if (!ec) {
    out = std::move(entries);
  }
  return ec;
}

namespace {

/// The typed value of one table entry, for `fields_of`.
template <class S>
struct value_of {
  const S& s;
  decltype(stats_field::value) operator()(std::uint64_t S::*m) const { return s.*m; }
  decltype(stats_field::value) operator()(std::uint32_t S::*m) const { return std::uint64_t{s.*m}; }
  decltype(stats_field::value) operator()(double S::*m) const { return s.*m; }
  decltype(stats_field::value) operator()(bool S::*m) const { return s.*m; }
  decltype(stats_field::value) operator()(std::string S::*m) const {
    return std::string_view(s.*m);
  }
  decltype(stats_field::value) operator()(seconds_left<S> f) const { return s.*f.member; }
};

/// The table's fields in order, then `other`: the one listing of every key, shared with decode.
template <class S, std::size_t N>
std::vector<stats_field> list_fields(const S& s, const field<S> (&fields)[N]) {
  std::vector<stats_field> out;
  out.reserve(N + s.other.size());
  for (const auto& f : fields) out.push_back({f.key, std::visit(value_of<S>{s}, f.member)});
  for (const auto& [key, value] : s.other) out.push_back({key, std::string_view(value), false});
  return out;
}

}  // namespace

std::vector<stats_field> fields_of(const server_stats& s) {
  return list_fields(s, server_fields);
}
std::vector<stats_field> fields_of(const tube_stats& s) {
  return list_fields(s, tube_fields);
}
std::vector<stats_field> fields_of(const job_stats& s) {
  return list_fields(s, job_fields);
}

std::error_code parse_server_stats(std::string_view body, server_stats& out) {
  return decode(body, server_fields, out);
}

std::error_code parse_tube_stats(std::string_view body, tube_stats& out) {
  return decode(body, tube_fields, out);
}

std::error_code parse_job_stats(std::string_view body, job_stats& out) {
  return decode(body, job_fields, out);
}

std::error_code parse_name_list(std::string_view body, std::vector<std::string>& out) {
  std::vector<std::string> names;
  const auto ec = for_each_line(body, [&](std::string_view line) {
    if (!line.starts_with("- ")) {
      return false;
    }
    // Tube names cannot hold '"', so quotes (should a server add them) are never part of one.
    const auto name = unquote(line.substr(2));
    if (name.empty()) {
      return false;
    }
    names.emplace_back(name);
    return true;
  });
  if (!ec) {
    out = std::move(names);
  }
  return ec;
}

}  // namespace beanpole::proto
