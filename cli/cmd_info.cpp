// Read-only commands: stats, stats-tube, stats-job and the tube lists.
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "args.hpp"
#include "commands.hpp"
#include "errors.hpp"
#include "io.hpp"
#include "output.hpp"
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

int run_stats(const context& ctx) {
  ctx.validate();
  client c = ctx.connect();
  std::error_code ec;
  const auto s = c.stats(ec);
  check(ec, "stats");
  print_stats(ctx, entries_of(s));
  return exit_ok;
}

int run_stats_tube(const context& ctx, const name_arg& a) {
  const tube_name tube = parse_tube(a.value);
  ctx.validate();
  client c = ctx.connect();
  std::error_code ec;
  const auto s = c.stats_tube(tube, ec);
  check(ec, "stats-tube " + tube.str());
  print_stats(ctx, entries_of(s));
  return exit_ok;
}

int run_stats_job(const context& ctx, const name_arg& a) {
  const job_id id = parse_job_id(a.value);
  ctx.validate();
  client c = ctx.connect();
  std::error_code ec;
  const auto s = c.stats_job(id, ec);
  check(ec, fmt::format("stats-job {}", id.value));
  print_stats(ctx, entries_of(s));
  return exit_ok;
}

enum class list_kind { tubes, used, watched };

int run_list(const context& ctx, list_kind kind) {
  ctx.validate();
  client c = ctx.connect();
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
