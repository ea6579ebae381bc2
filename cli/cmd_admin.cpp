// move and flush: the admin layer's bulk operations (beanpole/admin/jobs.hpp) on the command
// line. The library does the work job by job; this file parses, confirms, reports.
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <beanpole/admin/jobs.hpp>
#include <beanpole/error.hpp>

#include "admin_pool.hpp"
#include "args.hpp"
#include "commands.hpp"
#include "errors.hpp"
#include "output.hpp"
#include "pool_mode.hpp"
#include "progress.hpp"
#include "terminal.hpp"

namespace beanpole::cli {
namespace {

struct move_args {
  std::string from;
  std::string to;
  std::string state = "ready";
  std::optional<std::string> limit;
};

struct flush_args {
  std::string tube;
  std::string state = "all";
  bool yes = false;
};

/// A count for --limit: digits only, fitting 64 bits unsigned.
std::uint64_t parse_limit(const std::string& text) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) {
    throw usage_error("--limit: '" + text + "' is not a whole number");
  }
  try {
    return std::stoull(text);
  } catch (const std::out_of_range&) {
    throw usage_error("--limit: '" + text + "' does not fit 64 bits");
  }
}

/// The number of jobs of `tube` in `states`, for the progress bar and the confirmation; 0 when
/// the tube does not exist.
std::uint64_t jobs_in(client& c, const tube_name& tube, const std::vector<job_state>& states) {
  std::error_code ec;
  const auto st = c.stats_tube(tube, ec);
  if (ec == errc::not_found) return 0;
  check(ec, "stats-tube " + tube.str());
  std::uint64_t n = 0;
  for (const auto s : states) {
    n += s == job_state::ready     ? st.current_jobs_ready
         : s == job_state::delayed ? st.current_jobs_delayed
                                   : st.current_jobs_buried;
  }
  return n;
}

void print_count(const context& ctx, const char* key, std::uint64_t n, json extra = {}) {
  if (ctx.json) {
    json out{{key, n}};
    if (extra.is_object()) out.update(extra);
    print_json(out);
  } else {
    print_line(std::to_string(n));
  }
}

/// `jobs_in` summed over the servers that answer (for the progress bar and the confirmation).
std::uint64_t jobs_on_each(const context& ctx, const tube_name& tube,
                           const std::vector<job_state>& states) {
  std::uint64_t n = 0;
  for (const auto& server : ctx.addresses()) {
    try {
      client c = connect_for(ctx, job_ref{{}, server});
      n += jobs_in(c, tube, states);
    } catch (const command_failure&) {
      // Named when the move or flush itself reaches it.
    }
  }
  return n;
}

/// The servers of `parts` whose part failed, "A, B"; empty when none did.
template <class Part>
std::string failed_servers(const std::vector<Part>& parts) {
  std::string out;
  for (const auto& p : parts) {
    if (p.result.ec) out += (out.empty() ? "" : ", ") + p.server;
  }
  return out;
}

/// move on several servers: each server's jobs stay on it; the total is printed, then every
/// server that failed is named (exit 3, the others done).
int run_move_pool(const context& ctx, const tube_name& from, const tube_name& to,
                  move_options opts) {
  std::uint64_t total = 0;
  if (is_terminal(STDERR_FILENO)) {
    total = jobs_on_each(ctx, from, {opts.state});
    if (opts.limit) total = std::min(total, *opts.limit);
  }
  progress bar("move", total);
  signal_watch signals;
  opts.on_progress = [&](const move_progress& p) { bar.update(p.moved, p.moved); };
  opts.stop_requested = [] { return signal_watch::stop_signal() != 0; };
  const auto parts = move_on_each(ctx, from, to, opts);
  std::uint64_t moved = 0;
  bool stopped = false;
  json servers = json::object();
  for (const auto& p : parts) {
    moved += p.result.moved;
    stopped = stopped || p.result.stopped;
    json one{{"moved", p.result.moved}};
    if (p.result.ec) {
      one["error"] = failure_of(p, from, to);
      if (p.result.source) {
        one["source"] = pool_job_id{p.server, *p.result.source}.to_string();
        one["copy"] =
            p.result.copy ? json(pool_job_id{p.server, *p.result.copy}.to_string()) : json(nullptr);
      }
    }
    servers[p.server] = std::move(one);
  }
  bar.finish(moved);
  print_count(ctx, "moved", moved, json{{"servers", servers}});
  if (stopped) {
    die_of(signal_watch::stop_signal(),
           fmt::format("move interrupted after {} jobs; the others are still in {}", moved,
                       from.str()));
  }
  const std::string failed = failed_servers(parts);
  if (failed.empty()) return exit_ok;
  for (const auto& p : parts) {
    if (p.result.ec) print_error(failure_of(p, from, to));
  }
  print_error(fmt::format("move: not completed on {} (done on the other servers)", failed));
  return exit_failure;
}

int run_move(const context& ctx, const move_args& a) {
  const tube_name from = parse_tube(a.from);
  const tube_name to = parse_tube(a.to);
  if (from == to) throw usage_error("move: --from and --to name the same tube");
  move_options opts;
  opts.state = *parse_job_state(a.state);  // CLI11 checked the word
  if (a.limit) opts.limit = parse_limit(*a.limit);
  validate_servers(ctx);
  if (ctx.several()) return run_move_pool(ctx, from, to, std::move(opts));
  client c = ctx.connect();

  std::uint64_t total = 0;
  if (is_terminal(STDERR_FILENO)) {
    total = jobs_in(c, from, {opts.state});
    if (opts.limit) total = std::min(total, *opts.limit);
  }
  progress bar("move", total);
  signal_watch signals;
  opts.on_progress = [&](const move_progress& p) { bar.update(p.moved, p.moved); };
  opts.stop_requested = [] { return signal_watch::stop_signal() != 0; };
  const move_result r = move_jobs(c, from, to, opts);
  bar.finish(r.moved);

  json details = json::object();
  if (r.ec && r.source) {
    details["source"] = r.source->value;
    details["copy"] = r.copy ? json(r.copy->value) : json(nullptr);
  }
  print_count(ctx, "moved", r.moved, details);
  if (r.stopped) {
    die_of(signal_watch::stop_signal(),
           fmt::format("move interrupted after {} jobs; the others are still in {}", r.moved,
                       from.str()));
  }
  if (!r.ec) return exit_ok;
  print_error(move_failure(r, from, to, {}));
  return r.ec == errc::outcome_unknown ? exit_failure : exit_status_of(r.ec);
}

/// Asks on the terminal; true for "y" or "yes".
bool confirmed(const std::string& question) {
  std::cerr << question << " [y/N] " << std::flush;
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer == "y" || answer == "Y" || answer == "yes" || answer == "YES";
}

/// The states a flush empties, for counting its jobs.
std::vector<job_state> flushed_states(const flush_options& opts) {
  return opts.states.empty()
             ? std::vector<job_state>{job_state::ready, job_state::delayed, job_state::buried}
             : opts.states;
}

/// Asks whether to delete the `n` jobs of `tube` on `where`; false (reported) if not.
bool flush_confirmed(std::uint64_t n, const std::string& state, const tube_name& tube,
                     const std::string& where) {
  const std::string what = state == "all" ? "ready, delayed and buried" : state;
  if (confirmed(
          fmt::format("Delete the {} {} jobs of tube {} on {}?", n, what, tube.str(), where))) {
    return true;
  }
  print_error("flush: not confirmed; nothing deleted");
  return false;
}

/// flush on several servers: every server flushed, the total printed, then every server that
/// failed named (exit 3, the others done).
int run_flush_pool(const context& ctx, const tube_name& tube, const flush_args& a,
                   flush_options opts, bool ask) {
  if (ask) {
    const std::uint64_t n = jobs_on_each(ctx, tube, flushed_states(opts));
    std::string where;
    for (const auto& s : ctx.addresses()) where += (where.empty() ? "" : ", ") + s;
    if (!flush_confirmed(n, a.state, tube, where)) return exit_server_answer;
  }
  signal_watch signals;
  progress bar("flush", 0);
  opts.on_progress = [&](const flush_progress& p) { bar.update(p.deleted, p.deleted); };
  opts.stop_requested = [] { return signal_watch::stop_signal() != 0; };
  const auto parts = flush_on_each(ctx, tube, opts);
  std::uint64_t deleted = 0;
  bool stopped = false;
  json servers = json::object();
  std::vector<std::string> errors;
  for (const auto& p : parts) {
    deleted += p.result.deleted;
    stopped = stopped || p.result.stopped;
    json one{{"deleted", p.result.deleted}};
    if (p.result.ec) {
      errors.push_back(failure_of(p, tube));
      one["error"] = errors.back();
    }
    servers[p.server] = std::move(one);
  }
  bar.finish(deleted);
  print_count(ctx, "deleted", deleted, json{{"servers", servers}});
  if (stopped) {
    die_of(signal_watch::stop_signal(), fmt::format("flush interrupted after {} jobs", deleted));
  }
  if (errors.empty()) return exit_ok;
  for (const auto& e : errors) print_error(e);
  print_error(
      fmt::format("flush: not completed on {} (done on the other servers)", failed_servers(parts)));
  return exit_failure;
}

int run_flush(const context& ctx, const flush_args& a) {
  const tube_name tube = parse_tube(a.tube);
  flush_options opts;
  if (a.state != "all") opts.states = {*parse_job_state(a.state)};  // CLI11 checked the word
  const bool ask = !a.yes;
  if (ask && !is_terminal(STDIN_FILENO)) {
    throw usage_error("flush: --yes is required when stdin is not a terminal; nothing deleted");
  }
  validate_servers(ctx);
  if (ctx.several()) return run_flush_pool(ctx, tube, a, std::move(opts), ask);
  client c = ctx.connect();
  if (ask && !flush_confirmed(jobs_in(c, tube, flushed_states(opts)), a.state, tube,
                              ctx.server().to_string())) {
    return exit_server_answer;
  }
  signal_watch signals;
  progress bar("flush", 0);
  opts.on_progress = [&](const flush_progress& p) { bar.update(p.deleted, p.deleted); };
  opts.stop_requested = [] { return signal_watch::stop_signal() != 0; };
  const flush_result r = flush_tube(c, tube, opts);
  bar.finish(r.deleted);
  print_count(ctx, "deleted", r.deleted);
  if (r.stopped) {
    die_of(signal_watch::stop_signal(), fmt::format("flush interrupted after {} jobs", r.deleted));
  }
  if (r.ec) {
    print_error(
        describe(r.ec, fmt::format("flush {} stopped after {} jobs", tube.str(), r.deleted)));
    return exit_status_of(r.ec);
  }
  return exit_ok;
}

}  // namespace

void add_admin_commands(CLI::App& app, context& ctx) {
  {
    auto a = std::make_shared<move_args>();
    auto* cmd = app.add_subcommand("move", "Move jobs from one tube to another");
    cmd->group(group_bulk);
    cmd->footer(
        "Moves the jobs of --state (default ready) from --from to --to, one at a time,\n"
        "keeping body, priority and TTR; a delayed job keeps its remaining delay, a buried\n"
        "job stays buried. Each job is reserved by id (reserve-job, beanstalkd 1.12+) so no\n"
        "worker takes it mid-move, put into --to, and deleted from --from only once the\n"
        "put was acknowledged: an interrupted move never loses a job. Prints the number\n"
        "moved (with --json: {\"moved\":N}).\n"
        "If a put's reply is lost, the move stops with exit 3 and names both jobs: the\n"
        "source (still in --from) and its copy (id unknown: it may exist in --to).\n"
        "Jobs reserved by workers are left alone. Ctrl-C stops between two jobs.\n"
        "With several servers (-a A,B), the jobs of each server move within it, --limit\n"
        "counts over all of them and the total is printed (--json adds \"servers\"); jobs\n"
        "are named ADDR/ID, and a server that failed is named, exit 3, the others done.");
    cmd->add_option("--from", a->from, "Tube to take the jobs from")->type_name("TUBE")->required();
    cmd->add_option("--to", a->to, "Tube to put them into")->type_name("TUBE")->required();
    cmd->add_option("--state", a->state, "Which jobs: ready (default), delayed or buried")
        ->type_name("STATE")
        ->check(CLI::IsMember({"ready", "delayed", "buried"}));
    cmd->add_option("--limit", a->limit, "Move at most N jobs")->type_name("N");
    cmd->callback([&ctx, a] { ctx.run = [&ctx, a] { return run_move(ctx, *a); }; });
  }
  {
    auto a = std::make_shared<flush_args>();
    auto* cmd = app.add_subcommand("flush", "Delete the jobs of a tube");
    cmd->group(group_bulk);
    cmd->footer(
        "Deletes the jobs of TUBE in --state: ready, delayed, buried, or all (default: all\n"
        "three; jobs reserved by workers are left alone). Prints how many were deleted\n"
        "(with --json: {\"deleted\":N}).\n"
        "On a terminal it first asks for confirmation, unless --yes; an answer other than\n"
        "y deletes nothing (exit 1). When stdin is not a terminal, --yes is required: without\n"
        "it nothing is deleted and the exit status is 2.\n"
        "Ctrl-C stops between two jobs.\n"
        "With several servers (-a A,B), every server is flushed and the total is printed\n"
        "(--json adds \"servers\"); a server that failed is named, exit 3, the others done.");
    cmd->add_option("TUBE", a->tube, "Tube to empty")->type_name("")->required();
    cmd->add_option("--state", a->state, "Which jobs: ready, delayed, buried or all (default)")
        ->type_name("STATE")
        ->check(CLI::IsMember({"ready", "delayed", "buried", "all"}));
    cmd->add_flag("-y,--yes", a->yes, "Do not ask for confirmation");
    cmd->callback([&ctx, a] { ctx.run = [&ctx, a] { return run_flush(ctx, *a); }; });
  }
}

}  // namespace beanpole::cli
