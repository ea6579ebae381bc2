#include "top_pool.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "errors.hpp"
#include "pool_mode.hpp"
#include "terminal.hpp"

namespace beanpole::cli {

pool_top_sample take_pool_sample(pool& p, const std::vector<tube_name>& only) {
  pool_top_sample s;
  const auto stats = pool_call("stats", [&] { return p.stats(); });
  s.total.server = sum_counts(stats);
  for (const auto& r : stats) {
    s.names.push_back(r.server);
    s.errors.push_back(r.error ? r.error.message() : std::string());
    if (r.error) {
      s.servers.emplace_back();
      continue;
    }
    top_sample one;
    one.server = r.value;
    s.servers.emplace_back(std::move(one));
    // Not counts: what the title shows is the first server's version and the longest uptime.
    if (s.total.server.version.empty()) s.total.server.version = r.value.version;
    s.total.server.uptime = std::max(s.total.server.uptime, r.value.uptime);
    s.total.server.draining = s.total.server.draining || r.value.draining;
  }
  std::vector<std::string> names;
  if (only.empty()) {
    names = union_of(pool_call("list-tubes", [&] { return p.list_tubes(); }));
  } else {
    for (const auto& t : only) names.push_back(t.str());
    std::sort(names.begin(), names.end());
  }
  for (const auto& name : names) {
    tube_name tube;
    if (tube_name::make(name, tube)) continue;
    std::vector<server_reply<proto::tube_stats>> replies;
    try {
      replies = p.stats_tube(tube);
    } catch (const std::system_error&) {
      continue;  // no server has it (any more), or none answered: nothing to show
    }
    s.total.tubes.push_back(sum_counts(replies));
    for (std::size_t i = 0; i < replies.size() && i < s.servers.size(); ++i) {
      if (!replies[i].error && s.servers[i]) s.servers[i]->tubes.push_back(replies[i].value);
    }
  }
  const auto at = std::chrono::steady_clock::now();
  const auto wall = std::time(nullptr);
  s.total.at = at;
  s.total.wall = wall;
  for (auto& one : s.servers) {
    if (!one) continue;
    one->at = at;
    one->wall = wall;
  }
  return s;
}

namespace {

/// The same server's sample in `prev`, when it answered both times.
const top_sample* previous(const pool_top_sample* prev, std::size_t i) {
  if (prev == nullptr || i >= prev->servers.size() || !prev->servers[i]) return nullptr;
  return &*prev->servers[i];
}

std::string per_second(std::uint64_t now, const top_sample* before, std::uint64_t then,
                       double seconds) {
  if (before == nullptr || seconds <= 0) return "-";
  const std::uint64_t delta = now >= then ? now - then : now;  // restarted: counts from zero
  return fmt::format("{:.1f}", static_cast<double>(delta) / seconds);
}

}  // namespace

std::vector<std::string> render_pool_top(const pool_top_sample& cur, const pool_top_sample* prev,
                                         const top_style& style) {
  auto out = render_top(cur.total, prev ? &prev->total : nullptr, style);
  out.emplace_back();
  std::size_t width = 6;
  for (const auto& n : cur.names) width = std::max(width, n.size());
  width = std::min<std::size_t>(width, 40);
  const std::string header =
      fmt::format("{:<{}} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}", "SERVER", width, "READY",
                  "RESERVED", "DELAYED", "BURIED", "WORKERS", "PUT/s", "DEL/s");
  const auto fit = [&](std::string text) {
    if (style.width > 0 && text.size() > static_cast<std::size_t>(style.width)) {
      text.resize(static_cast<std::size_t>(style.width));
    }
    return text;
  };
  out.push_back(style.color ? std::string(ansi::reverse) + fit(header) + std::string(ansi::reset)
                            : fit(header));
  for (std::size_t i = 0; i < cur.names.size(); ++i) {
    std::string name = cur.names[i];
    if (name.size() > width) name = name.substr(0, width - 1) + "~";
    if (!cur.servers[i]) {
      std::string row = fmt::format("{:<{}} down ({})", name, width, cur.errors[i]);
      out.push_back(style.color ? std::string(ansi::red) + fit(row) + std::string(ansi::reset)
                                : fit(row));
      continue;
    }
    const auto& s = cur.servers[i]->server;
    const top_sample* before = previous(prev, i);
    const double dt =
        before ? std::chrono::duration<double>(cur.servers[i]->at - before->at).count() : 0.0;
    out.push_back(fit(fmt::format(
        "{:<{}} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}", name, width, s.current_jobs_ready,
        s.current_jobs_reserved, s.current_jobs_delayed, s.current_jobs_buried, s.current_workers,
        per_second(s.cmd_put, before, before ? before->server.cmd_put : 0, dt),
        per_second(s.cmd_delete, before, before ? before->server.cmd_delete : 0, dt))));
  }
  return out;
}

json pool_top_json(const pool_top_sample& cur, const pool_top_sample* prev) {
  json servers = json::object();
  for (std::size_t i = 0; i < cur.names.size(); ++i) {
    if (!cur.servers[i]) {
      servers[cur.names[i]] = json{{"error", cur.errors[i]}};
      continue;
    }
    json one = top_json(*cur.servers[i], previous(prev, i));
    one.erase("time");
    servers[cur.names[i]] = std::move(one);
  }
  json total = top_json(cur.total, prev ? &prev->total : nullptr);
  total.erase("time");
  return json{{"time", static_cast<std::int64_t>(cur.total.wall)},
              {"total", std::move(total)},
              {"servers", std::move(servers)}};
}

}  // namespace beanpole::cli
