#include "stats_fields.hpp"

#include <cstdint>
#include <type_traits>
#include <variant>

#include <fmt/format.h>

namespace beanpole::cli {
namespace {

/// The tool's entry for one field: typed values print as the server prints them.
stat_entry entry_of(const proto::stats_field& f) {
  stat_entry e;
  e.key = f.key;
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::uint64_t>) {
          e.value = std::to_string(v);
          e.type = stat_entry::kind::integer;
        } else if constexpr (std::is_same_v<T, double>) {
          e.value = fmt::format("{:.6f}", v);  // the server prints "%d.%06d"
          e.type = stat_entry::kind::real;
        } else if constexpr (std::is_same_v<T, bool>) {
          e.value = v ? "true" : "false";
          e.type = stat_entry::kind::boolean;
        } else {
          e.value = std::string(v);
          // Keys from a newer server: digits alone are an integer, as every count in stats is.
          const bool digits = !f.known && !v.empty() && v.size() <= 19 &&
                              v.find_first_not_of("0123456789") == std::string_view::npos;
          e.type = digits ? stat_entry::kind::integer : stat_entry::kind::text;
        }
      },
      f.value);
  return e;
}

template <class Stats>
std::vector<stat_entry> entries_from(const Stats& s) {
  std::vector<stat_entry> out;
  for (const auto& f : proto::fields_of(s)) out.push_back(entry_of(f));
  return out;
}

}  // namespace

std::vector<stat_entry> entries_of(const proto::server_stats& s) {
  return entries_from(s);
}
std::vector<stat_entry> entries_of(const proto::tube_stats& s) {
  return entries_from(s);
}
std::vector<stat_entry> entries_of(const proto::job_stats& s) {
  return entries_from(s);
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
