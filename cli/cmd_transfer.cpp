// export and import: jobs as NDJSON, one job a line, so that a tube can be backed up or moved
// to another server.
//
// export takes each job by id (peek, then reserve-job), which works in paused tubes too and
// leaves buried jobs out of other workers' reach while they are moved; it deletes a job only
// after its line has been written, so an interrupted export loses nothing. A lost connection is
// re-established and the export goes on: a job it held unwritten went back to the server, which
// gives it again; a job written whose delete went unanswered is recognized when it comes back
// (by id and body) and deleted without being written twice.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include <beanpole/backoff.hpp>
#include <beanpole/error.hpp>

#include "args.hpp"
#include "bulk_put.hpp"
#include "commands.hpp"
#include "errors.hpp"
#include "export_line.hpp"
#include "io.hpp"
#include "line_tally.hpp"
#include "output.hpp"
#include "progress.hpp"
#include "terminal.hpp"

namespace beanpole::cli {
namespace {

struct export_args {
  std::vector<std::string> tubes;
  bool all = false;
  bool buried = false;
  bool delayed = false;
  std::string output;
  std::string retries = "5";
};

/// The connection to the server failed under export (it is closed): reconnect and go on.
struct connection_drop {
  std::error_code ec;
  std::string what;
};

/// Whether `ec` ended the connection: lost, timed out, or closed after a reply that broke the
/// protocol. Local I/O errors are not (they are thrown as `command_failure` by the writers).
bool ends_connection(std::error_code ec) noexcept {
  return ec == condition::connection_failure || ec == condition::protocol_violation;
}

/// `check` for the export's commands: a connection that ended is `connection_drop`.
void check_command(std::error_code ec, std::string_view what) {
  if (ec && ends_connection(ec)) throw connection_drop{ec, std::string(what)};
  check(ec, what);
}

/// The jobs written to the output, by id, with a hash of their body: one that comes back (its
/// delete was lost with the connection, or another worker had it) is deleted, not written again.
/// The body tells it from a new job under the same id on a server restarted without a binlog.
class written_jobs {
 public:
  void add(const job& j) { ids_[j.id.value] = std::hash<std::string>{}(j.body); }
  bool contains(const job& j) const {
    const auto it = ids_.find(j.id.value);
    return it != ids_.end() && it->second == std::hash<std::string>{}(j.body);
  }

 private:
  std::unordered_map<std::uint64_t, std::size_t> ids_;
};

/// Re-establishes the export's connection after `why`: up to `retries` attempts with the
/// client's backoff, for no longer than --timeout (when not zero). When it cannot, exit 3 with
/// what was written.
void reconnect(client& c, const endpoint& ep, unsigned retries, std::error_code why,
               std::uint64_t written, const std::string& output) {
  const auto give_up = [&](std::error_code ec) {
    throw plain_failure(
        exit_failure,
        fmt::format("export: connection lost ({}); {} jobs written to {}: the output is "
                    "incomplete, the other jobs are still on the server (export again to move "
                    "them)",
                    ec.message(), written, output));
  };
  if (retries == 0) give_up(why);
  print_error(fmt::format("export: connection lost ({}); reconnecting", why.message()));
  const auto limit = c.options().reply_timeout;
  const auto start = std::chrono::steady_clock::now();
  std::minstd_rand rng(std::random_device{}());
  const backoff rule;
  for (unsigned attempt = 1; attempt <= retries; ++attempt) {
    const auto pause = rule.delay(attempt, std::uniform_real_distribution<double>(0, 1)(rng));
    if (limit.count() > 0 && std::chrono::steady_clock::now() + pause - start > limit) break;
    std::this_thread::sleep_for(pause);
    if (signal_watch::stop_signal() != 0) return;  // the loop reports the interruption
    std::error_code ec;
    c.connect(ep, ec);
    if (!ec) {
      print_error("export: reconnected");
      return;
    }
    why = ec;
  }
  give_up(why);
}

struct import_args {
  std::string input;
  std::optional<std::string> tube;
  std::string retries = "5";
};

/// Writes one job's line (counting it in `exported` and `written`), then deletes the job. Returns
/// false when the delete found the job gone (its TTR ran out and another worker took it): it is
/// then in the output all the same. `delay_left` is set for a delayed job: the seconds it still had
/// to wait (from a stats-job taken before it was reserved, since a reserved job's time-left counts
/// down its TTR).
bool export_one(client& c, const file_arg& out, const job& j, const char* state,
                std::optional<std::uint64_t> delay_left, written_jobs& written,
                std::uint64_t& exported) {
  std::error_code ec;
  const proto::job_stats st = c.stats_job(j.id, ec);
  check_command(ec, fmt::format("stats-job {}", j.id.value));
  json line = {{"id", j.id.value},
               {"tube", st.tube},
               {"pri", st.pri},
               {"ttr", st.ttr},
               {"delay", delay_left ? *delay_left : st.delay},
               {"state", state}};
  set_body(line, j.body);
  try {
    write_all(out.fd(), dump(line) + '\n', out.name());
  } catch (const command_failure&) {
    // Back where it was: buried again, or released (a delayed job with what it had left).
    std::error_code ignored;
    if (std::string_view(state) == "buried") {
      c.bury(j.id, st.pri, ignored);
    } else {
      c.release(j.id, st.pri, std::chrono::seconds(delay_left ? *delay_left : 0), ignored);
    }
    throw;
  }
  written.add(j);
  ++exported;  // counted now: the delete may be lost with the connection
  c.remove(j.id, ec);
  if (ec == condition::server_answer) {
    print_error(describe(
        ec, fmt::format("export: delete {} (exported, but still on the server)", j.id.value)));
    return false;
  }
  check_command(ec, fmt::format("delete {}", j.id.value));
  return true;
}

int run_export(const context& ctx, const export_args& a) {
  std::vector<tube_name> tubes;
  for (const auto& t : a.tubes) tubes.push_back(parse_tube(t));
  if (a.all && !tubes.empty()) throw usage_error("export: --all and --tube exclude each other");
  if (!a.all && tubes.empty()) tubes.emplace_back();  // "default"
  const unsigned retries = parse_u32(a.retries, "retries");
  ctx.validate();
  client c = ctx.connect();
  // Opened only once the server answers, so that a failed connection never truncates an
  // earlier export of the same name.
  const file_arg out(a.output, file_arg::mode::write);
  std::error_code ec;
  if (a.all) {
    for (const auto& name : c.list_tubes(ec)) {
      tube_name t;
      if (!tube_name::make(name, t)) tubes.push_back(t);
    }
    check(ec, "list-tubes");
  }

  std::uint64_t total = 0;
  if (is_terminal(STDERR_FILENO)) {
    for (const auto& t : tubes) {
      const auto st = c.stats_tube(t, ec);
      if (ec == errc::not_found) continue;
      check(ec, "stats-tube " + t.str());
      total += st.current_jobs_ready + (a.buried ? st.current_jobs_buried : 0) +
               (a.delayed ? st.current_jobs_delayed : 0);
    }
  }
  progress bar("export", total);
  signal_watch signals;
  std::uint64_t exported = 0;
  bool all_deleted = true;

  const endpoint ep = ctx.server();
  written_jobs written;
  // One job: false when the state has no job left. A job that was written already (its delete
  // was lost) is deleted, not written again.
  const auto export_next = [&](const tube_name& t, std::string_view which, const char* state) {
    const auto found = which == "buried"    ? c.peek_buried(ec)
                       : which == "delayed" ? c.peek_delayed(ec)
                                            : c.peek_ready(ec);
    check_command(ec, fmt::format("peek-{} in {}", state, t.str()));
    if (!found) return false;
    std::optional<std::uint64_t> delay_left;
    std::chrono::steady_clock::time_point due;
    if (which == "delayed") {
      const auto st = c.stats_job(found->id, ec);
      if (ec == errc::not_found) return true;  // gone meanwhile
      check_command(ec, fmt::format("stats-job {}", found->id.value));
      due = std::chrono::steady_clock::now() + std::chrono::seconds(st.time_left);
    }
    auto h = c.reserve_job(found->id, ec);
    check_command(ec, fmt::format("reserve-job {}", found->id.value));
    if (!h) return true;  // another worker took it between the peek and here
    if (written.contains(h->job())) {
      c.remove(found->id, ec);
      if (ec != condition::server_answer) {
        check_command(ec, fmt::format("delete {}", found->id.value));
      }
      return true;
    }
    if (which == "delayed") {
      const auto left =
          std::chrono::ceil<std::chrono::seconds>(due - std::chrono::steady_clock::now());
      delay_left = static_cast<std::uint64_t>(std::max<std::int64_t>(left.count(), 0));
    }
    all_deleted = export_one(c, out, h->job(), state, delay_left, written, exported) && all_deleted;
    bar.update(exported, exported);
    return true;
  };

  for (const auto& t : tubes) {
    bool in_use = false;
    for (const char* state : {"buried", "delayed", "ready"}) {
      const std::string_view which(state);
      if ((which == "buried" && !a.buried) || (which == "delayed" && !a.delayed)) continue;
      while (signal_watch::stop_signal() == 0) {
        try {
          if (!in_use) {
            c.use(t, ec);
            check_command(ec, "use " + t.str());
            in_use = true;
          }
          if (!export_next(t, which, state)) break;
        } catch (const connection_drop& drop) {
          // The server took back the job this connection held; a new connection uses the
          // default tube.
          reconnect(c, ep, retries, drop.ec, exported, out.name());
          in_use = false;
        }
      }
    }
  }
  bar.finish(exported);
  if (const int sig = signal_watch::stop_signal(); sig != 0) {
    die_of(sig, fmt::format("export interrupted after {} jobs; the others are still on the server",
                            exported));
  }
  return all_deleted ? exit_ok : exit_server_answer;
}

int run_import(const context& ctx, const import_args& a) {
  std::optional<tube_name> tube_override;
  if (a.tube) tube_override = parse_tube(*a.tube);
  const unsigned retries = parse_u32(a.retries, "retries");
  ctx.validate();
  const file_arg in(a.input, file_arg::mode::read);

  bulk_putter putter(ctx, retries, placement_policy::round_robin, "import");
  line_reader reader(in.fd(), in.name());
  line_tally tally(
      {.command = "import", .input = a.input.empty() || a.input == "-" ? "INPUT" : a.input}, false);
  progress bar("import", in.size());
  signal_watch signals;
  std::vector<bulk_job> batch;
  std::vector<std::uint64_t> batch_lines;
  std::size_t batch_bytes = 0;
  std::uint64_t line_no = 0;
  int bury_status = exit_ok;

  const auto flush = [&] {
    const auto results = putter.put_resending(batch);
    for (std::size_t i = 0; i < results.size(); ++i) {
      const auto& r = results[i];
      tally.record(batch_lines[i], r, nullptr);
      if (!r.ec && r.bury_ec) {
        print_error(describe(
            r.bury_ec, fmt::format("import: {} line {}: put as job {}, but not buried "
                                   "again (it stays delayed {} s)",
                                   in.name(), batch_lines[i], r.id.value, parking_delay.count())));
        bury_status = std::max(bury_status, exit_status_of(r.bury_ec));
      }
    }
    batch.clear();
    batch_lines.clear();
    batch_bytes = 0;
    bar.update(tally.acknowledged(), reader.bytes_read());
  };

  std::string text;
  std::optional<std::string> bad;
  bool at_end = false;
  while (!putter.down_for_good() && signal_watch::stop_signal() == 0 &&
         !(at_end = !reader.next(text))) {
    ++line_no;
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    export_line line;
    if ((bad = parse_export_line(text, tube_override, line))) break;
    bulk_job job{std::move(line.tube), std::move(line.body), line.opts};
    job.bury = line.bury;
    batch_bytes += job.body.size();
    batch.push_back(std::move(job));
    batch_lines.push_back(line_no);
    if (batch.size() >= 512 || batch_bytes >= (1u << 20)) flush();
  }
  if (!batch.empty()) flush();
  // The connection is gone for good: the rest of the input was neither read nor sent.
  if (!at_end && !bad && putter.down_for_good()) tally.stopped_at(line_no + 1);
  bar.finish(tally.acknowledged());
  tally.print_summary(line_no);
  if (ctx.json) print_json(json{{"imported", tally.acknowledged()}});
  if (bad) {
    throw usage_error(fmt::format(
        "import: {} line {}: {}; the {} jobs before it were imported (resume with tail -n +{})",
        in.name(), line_no, *bad, tally.acknowledged(), line_no));
  }
  if (const int sig = signal_watch::stop_signal(); sig != 0) {
    die_of(sig, fmt::format("import interrupted after {} jobs (at {} line {})",
                            tally.acknowledged(), in.name(), line_no));
  }
  return std::max(tally.status(), bury_status);
}

}  // namespace

void add_transfer_commands(CLI::App& app, context& ctx) {
  {
    auto a = std::make_shared<export_args>();
    auto* cmd = app.add_subcommand("export", "Move jobs out of tubes into NDJSON");
    cmd->group(group_bulk);
    cmd->footer(
        "Writes one JSON object a line for each ready job of the tubes (and each buried one\n"
        "with --buried), then deletes the job, only once its line is written and flushed:\n"
        "  "
        "{\"id\":N,\"tube\":\"...\",\"pri\":N,\"ttr\":N,\"delay\":N,\"state\":\"ready\",\"body\":"
        "\"...\"}\n"
        "\"body\" is a JSON string when the body is valid UTF-8, else \"body_base64\".\n"
        "\"state\" is \"ready\", \"buried\" (with --buried) or \"delayed\" (with --delayed); "
        "\"delay\"\n"
        "is, for a delayed job, the seconds it still had to wait, else the delay it was put\n"
        "with. Delayed jobs (without --delayed) and jobs reserved by others stay on the server.\n"
        "Paused tubes are exported too.\n"
        "Buried jobs are taken out of the buried list by reserving them by id (reserve-job,\n"
        "beanstalkd 1.12+), so that no worker can take them as they are moved.\n"
        "Ctrl-C stops after the current job: nothing is lost. A job whose delete fails (its\n"
        "TTR ran out and another worker took it) is reported, and the exit status is 1.\n"
        "A lost connection is re-established (--retries attempts in a row, within --timeout)\n"
        "and the export goes on: no job is written twice or lost (a job written whose delete\n"
        "went unanswered is deleted when it comes back). If it cannot be, exit 3 with the\n"
        "number of jobs written on stderr: the output is then incomplete, the rest is still\n"
        "on the server.\n"
        "A progress bar with rate and ETA is drawn on stderr when it is a terminal.");
    cmd->add_option("-t,--tube", a->tubes, "Tube to export (repeatable; default: default)")
        ->type_name("TUBE")
        ->allow_extra_args(false);
    cmd->add_flag("--all", a->all, "Export every tube");
    cmd->add_flag("--buried", a->buried, "Export buried jobs too");
    cmd->add_flag("--delayed", a->delayed,
                  "Export delayed jobs too (import gives them the delay they had left)");
    cmd->add_option("-o,--output", a->output, "Write to FILE instead of stdout")->type_name("FILE");
    cmd->add_option("--retries", a->retries,
                    "Reconnect attempts in a row after a lost connection (0: none)")
        ->type_name("N")
        ->capture_default_str();
    cmd->callback([&ctx, a] { ctx.run = [&ctx, a] { return run_export(ctx, *a); }; });
  }
  {
    auto a = std::make_shared<import_args>();
    auto* cmd = app.add_subcommand("import", "Put jobs back from export's NDJSON");
    cmd->group(group_bulk);
    cmd->footer(
        "Reads export's lines from FILE (default: stdin) and puts every job, pipelined, into\n"
        "its tube with its priority and TTR, under a new id (\"id\" is ignored), in its state:\n"
        "  \"ready\" (or no \"state\")  ready (the \"delay\" it was once put with is ignored)\n"
        "  \"delayed\"              delayed by \"delay\", the seconds it had left\n"
        "  \"buried\"               put parked (delayed an hour, out of every worker's reach),\n"
        "                         reserved by id and buried again with its priority\n"
        "Blank lines are skipped.\n"
        "A line that is not such an object stops the import with exit 2; the lines before it\n"
        "were imported, and stderr says how to resume. A job the server refuses (JOB_TOO_BIG,\n"
        "...) is reported with its line number and the import goes on; the exit status is\n"
        "then 1. A lost connection is re-established (--retries attempts in a row, within\n"
        "--timeout) and the lines never written are sent on it; a line whose outcome is\n"
        "unknown is never sent again. Unless every line was put, a summary on stderr gives the\n"
        "lines refused, unknown and not sent, and how to resume, as put --lines does; exit 3\n"
        "when a line is unknown or not sent. Prints nothing; with --json: {\"imported\":N}.\n"
        "A progress bar with rate and ETA is drawn on stderr when it is a terminal.");
    cmd->add_option("FILE", a->input, "NDJSON input (default: stdin)")->type_name("");
    cmd->add_option("-t,--tube", a->tube, "Put every job into TUBE instead of its own")
        ->type_name("TUBE");
    cmd->add_option("--retries", a->retries,
                    "Reconnect attempts in a row after a lost connection (0: none)")
        ->type_name("N")
        ->capture_default_str();
    cmd->callback([&ctx, a] { ctx.run = [&ctx, a] { return run_import(ctx, *a); }; });
  }
}

}  // namespace beanpole::cli
