#include "top_view.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "errors.hpp"
#include "terminal.hpp"

namespace beanpole::cli {

top_sample take_sample(client& c, const std::vector<tube_name>& only) {
  top_sample s;
  std::error_code ec;
  s.server = c.stats(ec);
  check(ec, "stats");
  std::vector<std::string> names;
  if (only.empty()) {
    names = c.list_tubes(ec);
    check(ec, "list-tubes");
  } else {
    for (const auto& t : only) names.push_back(t.str());
  }
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    tube_name tube;
    if (tube_name::make(name, tube)) continue;  // the server listed a name it would refuse
    auto st = c.stats_tube(tube, ec);
    if (ec == errc::not_found) continue;  // an empty, unused tube is removed at any moment
    check(ec, "stats-tube " + name);
    s.tubes.push_back(std::move(st));
  }
  s.at = std::chrono::steady_clock::now();
  s.wall = std::time(nullptr);
  return s;
}

namespace {

/// Per-second rate of a counter between two samples; nullopt without a previous sample.
/// A counter that went down (a tube dropped and made again) counts from zero.
std::optional<double> rate(std::uint64_t now, std::optional<std::uint64_t> before, double seconds) {
  if (!before || seconds <= 0) return std::nullopt;
  const std::uint64_t delta = now >= *before ? now - *before : now;
  return static_cast<double>(delta) / seconds;
}

std::string show_rate(std::optional<double> r) {
  return r ? fmt::format("{:.1f}", *r) : std::string("-");
}

std::string show_duration(std::uint64_t s) {
  if (s >= 86400)
    return fmt::format("{}d {:02}:{:02}:{:02}", s / 86400, s / 3600 % 24, s / 60 % 60, s % 60);
  return fmt::format("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
}

/// A line made of styled pieces; the width counts text only, so truncating never cuts an
/// escape sequence in half.
class line {
 public:
  line& add(std::string text, std::string_view style = {}) {
    pieces_.push_back({std::move(text), std::string(style)});
    return *this;
  }
  std::string render(const top_style& st) const {
    std::string out;
    std::size_t left = st.width > 0 ? static_cast<std::size_t>(st.width) : std::string::npos;
    for (const auto& p : pieces_) {
      if (left == 0) break;
      const std::string text = p.text.substr(0, left);
      if (left != std::string::npos) left -= text.size();
      if (st.color && !p.style.empty()) {
        out += p.style;
        out += text;
        out += ansi::reset;
      } else {
        out += text;
      }
    }
    return out;
  }

 private:
  struct piece {
    std::string text;
    std::string style;
  };
  std::vector<piece> pieces_;
};

struct tube_rates {
  std::optional<double> put, del;
};

tube_rates rates_of(const proto::tube_stats& t, const top_sample* prev, double seconds) {
  if (prev == nullptr) return {};
  const auto it = std::find_if(prev->tubes.begin(), prev->tubes.end(),
                               [&](const proto::tube_stats& p) { return p.name == t.name; });
  if (it == prev->tubes.end())
    return {rate(t.total_jobs, 0, seconds), rate(t.cmd_delete, 0, seconds)};
  return {rate(t.total_jobs, it->total_jobs, seconds), rate(t.cmd_delete, it->cmd_delete, seconds)};
}

double seconds_between(const top_sample& cur, const top_sample* prev) {
  return prev ? std::chrono::duration<double>(cur.at - prev->at).count() : 0.0;
}

}  // namespace

std::vector<std::string> render_top(const top_sample& cur, const top_sample* prev,
                                    const top_style& style) {
  const auto& s = cur.server;
  const double dt = seconds_between(cur, prev);
  const auto put_rate =
      rate(s.cmd_put, prev ? std::optional(prev->server.cmd_put) : std::nullopt, dt);
  const auto del_rate =
      rate(s.cmd_delete, prev ? std::optional(prev->server.cmd_delete) : std::nullopt, dt);

  std::vector<std::string> out;
  char clock[16] = "";
  std::tm tm{};
  if (localtime_r(&cur.wall, &tm) != nullptr) std::strftime(clock, sizeof clock, "%H:%M:%S", &tm);

  line title;
  title.add("beanpole top", ansi::bold)
      .add(fmt::format("  {}  beanstalkd {}  up {}  {}", style.address, s.version,
                       show_duration(s.uptime), clock));
  if (style.interactive) title.add("   q: quit", ansi::dim);
  out.push_back(title.render(style));

  line jobs;
  jobs.add("jobs").add(fmt::format("  ready {}  reserved {}  delayed {}", s.current_jobs_ready,
                                   s.current_jobs_reserved, s.current_jobs_delayed));
  jobs.add("  buried ")
      .add(std::to_string(s.current_jobs_buried),
           s.current_jobs_buried > 0 ? ansi::red : std::string_view{});
  jobs.add(fmt::format("  urgent {}  total {}", s.current_jobs_urgent, s.total_jobs));
  out.push_back(jobs.render(style));

  line conns;
  conns.add("conns").add(fmt::format("  {}  producers {}  workers {}  waiting {}",
                                     s.current_connections, s.current_producers, s.current_workers,
                                     s.current_waiting));
  conns.add(fmt::format("  tubes {}", s.current_tubes));
  conns.add("  put/s ").add(show_rate(put_rate), ansi::green);
  conns.add("  delete/s ").add(show_rate(del_rate), ansi::green);
  if (s.draining) conns.add("  DRAINING", ansi::red);
  out.push_back(conns.render(style));
  out.emplace_back();

  std::size_t name_width = 4;
  for (const auto& t : cur.tubes) name_width = std::max(name_width, t.name.size());
  name_width = std::min<std::size_t>(name_width, 40);
  const std::vector<std::string> heads = {"READY",   "RESERVED", "DELAYED", "BURIED", "URGENT",
                                          "WAITING", "WATCHING", "PAUSED",  "PUT/s",  "DEL/s"};
  const auto cell = [](const std::string& v, const std::string& head) {
    return fmt::format(" {:>{}}", v, std::max<std::size_t>(head.size(), 7));
  };
  std::string header = fmt::format("{:<{}}", "TUBE", name_width);
  for (const auto& h : heads) header += cell(h, h);
  out.push_back(line().add(header, ansi::reverse).render(style));

  for (const auto& t : cur.tubes) {
    const auto r = rates_of(t, prev, dt);
    std::string name = t.name;
    if (name.size() > name_width) name = name.substr(0, name_width - 1) + "~";
    line row;
    row.add(fmt::format("{:<{}}", name, name_width));
    row.add(cell(std::to_string(t.current_jobs_ready), heads[0]));
    row.add(cell(std::to_string(t.current_jobs_reserved), heads[1]));
    row.add(cell(std::to_string(t.current_jobs_delayed), heads[2]));
    row.add(cell(std::to_string(t.current_jobs_buried), heads[3]),
            t.current_jobs_buried > 0 ? ansi::red : std::string_view{});
    row.add(cell(std::to_string(t.current_jobs_urgent), heads[4]));
    row.add(cell(std::to_string(t.current_waiting), heads[5]));
    row.add(cell(std::to_string(t.current_watching), heads[6]));
    row.add(cell(t.pause_time_left > 0 ? fmt::format("{}s", t.pause_time_left) : "-", heads[7]),
            t.pause_time_left > 0 ? ansi::yellow : std::string_view{});
    row.add(cell(show_rate(r.put), heads[8]), ansi::green);
    row.add(cell(show_rate(r.del), heads[9]), ansi::green);
    out.push_back(row.render(style));
  }
  if (cur.tubes.empty()) out.push_back("(no tubes)");
  return out;
}

json top_json(const top_sample& cur, const top_sample* prev) {
  const auto& s = cur.server;
  const double dt = seconds_between(cur, prev);
  const auto put_rate =
      rate(s.cmd_put, prev ? std::optional(prev->server.cmd_put) : std::nullopt, dt);
  const auto del_rate =
      rate(s.cmd_delete, prev ? std::optional(prev->server.cmd_delete) : std::nullopt, dt);
  const auto or_null = [](std::optional<double> v) { return v ? json(*v) : json(nullptr); };

  json server = {{"version", s.version},
                 {"uptime", s.uptime},
                 {"ready", s.current_jobs_ready},
                 {"reserved", s.current_jobs_reserved},
                 {"delayed", s.current_jobs_delayed},
                 {"buried", s.current_jobs_buried},
                 {"urgent", s.current_jobs_urgent},
                 {"total_jobs", s.total_jobs},
                 {"connections", s.current_connections},
                 {"producers", s.current_producers},
                 {"workers", s.current_workers},
                 {"waiting", s.current_waiting},
                 {"tubes", s.current_tubes},
                 {"draining", s.draining},
                 {"put_rate", or_null(put_rate)},
                 {"delete_rate", or_null(del_rate)}};
  json tubes = json::array();
  for (const auto& t : cur.tubes) {
    const auto r = rates_of(t, prev, dt);
    tubes.push_back({{"name", t.name},
                     {"ready", t.current_jobs_ready},
                     {"reserved", t.current_jobs_reserved},
                     {"delayed", t.current_jobs_delayed},
                     {"buried", t.current_jobs_buried},
                     {"urgent", t.current_jobs_urgent},
                     {"waiting", t.current_waiting},
                     {"watching", t.current_watching},
                     {"pause_time_left", t.pause_time_left},
                     {"put_rate", or_null(r.put)},
                     {"delete_rate", or_null(r.del)}});
  }
  return json{{"time", static_cast<std::int64_t>(cur.wall)}, {"server", server}, {"tubes", tubes}};
}

}  // namespace beanpole::cli
