// Read-only commands: stats, stats-tube, stats-job and the tube lists.
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "args.hpp"
#include "commands.hpp"
#include "errors.hpp"
#include "io.hpp"
#include "output.hpp"
#include "pool_mode.hpp"
#include "stats_fields.hpp"

namespace beanpole::cli {
namespace {

struct name_arg {
  std::string value;
};

void print_stats(const context& ctx, const std::vector<stat_entry>& entries) {
  if (ctx.json) {
    print_json(format_json(entries));
  } else {
    write_stdout(format_text(entries));
  }
}

void print_names(const context& ctx, const std::vector<std::string>& names) {
  if (ctx.json) {
    print_json(json(names));
    return;
  }
  std::string out;
  for (const auto& n : names) out += n + '\n';
  write_stdout(out);
}

/// Keys that are not counts: not summed into the totals.
bool is_count(const stat_entry& e) {
  static const std::set<std::string, std::less<>> not_counts{"pid",
                                                             "uptime",
                                                             "max-job-size",
                                                             "binlog-oldest-index",
                                                             "binlog-current-index",
                                                             "binlog-max-size",
                                                             "pause",
                                                             "pause-time-left",
                                                             "id"};
  return e.type == stat_entry::kind::integer && !not_counts.contains(e.key);
}

/// The totals and per-server figures of stats or stats-tube on a pool (issue 14):
/// `{"total": {...}, "servers": {"ADDR": {...}}}`, a server that did not answer as
/// `{"error": "..."}`; in text the totals first, then each server's block. Servers that answered
/// NOT_FOUND (a tube that does not exist there) are left out. Exit 0 when one answered.
template <class Stats>
int print_pool_stats(const context& ctx, const std::vector<server_reply<Stats>>& replies,
                     const std::string& what) {
  std::vector<stat_entry> total;
  std::map<std::string, std::uint64_t, std::less<>> sums;
  json servers = json::object();
  std::string blocks;
  for (const auto& r : replies) {
    if (r.error == errc::not_found) continue;
    if (r.error) {
      servers[r.server] = json{{"error", describe(r.error, what)}};
      blocks += fmt::format("\n[{}]\nerror: {}\n", r.server, describe(r.error, what));
      continue;
    }
    const auto entries = entries_of(r.value);
    servers[r.server] = format_json(entries);
    blocks += fmt::format("\n[{}]\n{}", r.server, format_text(entries));
    for (const auto& e : entries) {
      if (!is_count(e)) continue;
      auto [it, fresh] = sums.try_emplace(e.key, 0);
      if (fresh) total.push_back({e.key, {}, e.type});
      it->second += std::stoull(e.value);
    }
  }
  for (auto& e : total) e.value = std::to_string(sums[e.key]);
  if (ctx.json) {
    print_json(json{{"total", format_json(total)}, {"servers", servers}});
  } else {
    write_stdout(format_text(total) + blocks);
  }
  report_failed(replies, what);
  return exit_ok;
}

/// The same, except NOT_FOUND is not named on stderr (the tube is simply not there).
template <class Stats>
int print_pool_tube_stats(const context& ctx, std::vector<server_reply<Stats>> replies,
                          const std::string& what) {
  std::vector<server_reply<Stats>> others;
  for (auto& r : replies) {
    if (r.error != errc::not_found) others.push_back(std::move(r));
  }
  return print_pool_stats(ctx, others, what);
}

void validate_any(const context& ctx) {
  if (ctx.several()) {
    (void)pool_servers(ctx);
    (void)ctx.connection();
  } else {
    ctx.validate();
  }
}

int run_stats(const context& ctx) {
  validate_any(ctx);
  if (ctx.several()) {
    auto p = open_pool(ctx);
    return print_pool_stats(ctx, pool_call("stats", [&] { return p->stats(); }), "stats");
  }
  client c = ctx.connect();
  std::error_code ec;
  const auto s = c.stats(ec);
  check(ec, "stats");
  print_stats(ctx, entries_of(s));
  return exit_ok;
}

int run_stats_tube(const context& ctx, const name_arg& a) {
  const tube_name tube = parse_tube(a.value);
  validate_any(ctx);
  if (ctx.several()) {
    auto p = open_pool(ctx);
    const std::string what = "stats-tube " + tube.str();
    return print_pool_tube_stats(ctx, pool_call(what, [&] { return p->stats_tube(tube); }), what);
  }
  client c = ctx.connect();
  std::error_code ec;
  const auto s = c.stats_tube(tube, ec);
  check(ec, "stats-tube " + tube.str());
  print_stats(ctx, entries_of(s));
  return exit_ok;
}

int run_stats_job(const context& ctx, const name_arg& a) {
  const job_ref ref = parse_job_ref(ctx, a.value);
  validate_any(ctx);
  client c = connect_for(ctx, ref);
  std::error_code ec;
  const auto s = c.stats_job(ref.id, ec);
  check(ec, "stats-job " + job_text(ref));
  print_stats(ctx, entries_of(s));
  return exit_ok;
}

enum class list_kind { tubes, used, watched };

int run_list(const context& ctx, list_kind kind) {
  validate_any(ctx);
  if (ctx.several() && kind == list_kind::tubes) {
    auto p = open_pool(ctx);
    const auto replies = pool_call("list-tubes", [&] { return p->list_tubes(); });
    print_names(ctx, union_of(replies));
    report_failed(replies, "list-tubes");
    return exit_ok;
  }
  // With several servers, what a new connection uses or watches is the same on every server:
  // ask the first.
  client c =
      ctx.several() ? connect_for(ctx, job_ref{job_id{}, ctx.addresses().front()}) : ctx.connect();
  std::error_code ec;
  switch (kind) {
    case list_kind::tubes: {
      const auto names = c.list_tubes(ec);
      check(ec, "list-tubes");
      print_names(ctx, names);
      break;
    }
    case list_kind::used: {
      const auto name = c.list_tube_used(ec);
      check(ec, "list-tube-used");
      if (ctx.json) {
        print_json(json(name));
      } else {
        print_line(name);
      }
      break;
    }
    case list_kind::watched: {
      const auto names = c.list_tubes_watched(ec);
      check(ec, "list-tubes-watched");
      print_names(ctx, names);
      break;
    }
  }
  return exit_ok;
}

constexpr const char* stats_footer =
    "Prints \"key: value\" lines in the server's order; with --json, one object whose integer\n"
    "fields are JSON numbers (the others are strings, as the server gave them).";

}  // namespace

void add_info_commands(CLI::App& app, context& ctx) {
  {
    auto* cmd = app.add_subcommand("stats", "Print the server's statistics");
    cmd->group(group_inspect);
    cmd->footer(stats_footer);
    cmd->callback([&ctx] { ctx.run = [&ctx] { return run_stats(ctx); }; });
  }
  {
    auto a = std::make_shared<name_arg>();
    auto* cmd = app.add_subcommand("stats-tube", "Print a tube's statistics");
    cmd->group(group_inspect);
    cmd->footer(std::string(stats_footer) + "\nNOT_FOUND (exit 1) if there is no such tube.");
    cmd->add_option("TUBE", a->value, "The tube")->type_name("")->required();
    cmd->callback([&ctx, a] { ctx.run = [&ctx, a] { return run_stats_tube(ctx, *a); }; });
  }
  {
    auto a = std::make_shared<name_arg>();
    auto* cmd = app.add_subcommand("stats-job", "Print a job's statistics");
    cmd->group(group_inspect);
    cmd->footer(std::string(stats_footer) + "\nNOT_FOUND (exit 1) if there is no such job.");
    cmd->add_option("ID", a->value, "The job's id")->type_name("")->required();
    cmd->callback([&ctx, a] { ctx.run = [&ctx, a] { return run_stats_job(ctx, *a); }; });
  }
  const struct {
    const char* name;
    const char* help;
    const char* footer;
    list_kind kind;
  } lists[] = {
      {"list-tubes", "List every tube that exists",
       "One name a line; with --json, an array of strings.", list_kind::tubes},
      {"list-tube-used", "Print the tube a new connection uses",
       "One name; with --json, a string. A new connection always uses \"default\".",
       list_kind::used},
      {"list-tubes-watched", "List the tubes a new connection watches",
       "One name a line; with --json, an array of strings. A new connection watches\n"
       "\"default\".",
       list_kind::watched},
  };
  for (const auto& l : lists) {
    auto* cmd = app.add_subcommand(l.name, l.help);
    cmd->group(group_inspect);
    cmd->footer(l.footer);
    const list_kind kind = l.kind;
    cmd->callback([&ctx, kind] { ctx.run = [&ctx, kind] { return run_list(ctx, kind); }; });
  }
}

}  // namespace beanpole::cli
