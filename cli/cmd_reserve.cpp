// reserve, and what becomes of the reserved job: released (the default), deleted, buried, or
// handed to a command (--exec). release, bury and touch exist only as these actions, because
// only the connection that reserved a job may use them; the commands of those names explain
// that and point here.
#include <algorithm>
#include <csignal>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <beanpole/error.hpp>

#include "args.hpp"
#include "commands.hpp"
#include "errors.hpp"
#include "exec.hpp"
#include "io.hpp"
#include "output.hpp"
#include "pool_mode.hpp"

namespace beanpole::cli {
namespace {

const char* signal_name(int sig) {
  switch (sig) {
    case SIGINT:
      return "SIGINT";
    case SIGQUIT:
      return "SIGQUIT";
    case SIGTERM:
      return "SIGTERM";
    case SIGHUP:
      return "SIGHUP";
    default:
      return "a signal";
  }
}

struct reserve_args {
  std::vector<std::string> watch;
  std::optional<std::string> wait;
  std::optional<std::string> job;
  bool remove = false;
  bool bury = false;
  bool release = false;
  std::optional<std::string> exec;
  std::optional<std::string> pri;
  std::string delay = "0";
};

/// What can be done with the reserved job: through the one client (one server), or through the
/// pool, which routes it to the job's server and its reserving connection.
struct job_actions {
  std::function<void(std::error_code&)> touch;
  std::function<void(std::error_code&)> remove;
  std::function<void(priority, std::chrono::seconds, std::error_code&)> release;
  std::function<void(priority, std::error_code&)> bury;
  std::string name;    ///< the job as printed in messages: ID, or ADDR/ID
  std::string server;  ///< empty with one server; else added to --json output
};

job_actions actions_of(client& c, job_id id) {
  return {[&c, id](std::error_code& ec) { c.touch(id, ec); },
          [&c, id](std::error_code& ec) { c.remove(id, ec); },
          [&c, id](priority p, std::chrono::seconds d, std::error_code& ec) {
            c.release(id, p, d, ec);
          },
          [&c, id](priority p, std::error_code& ec) { c.bury(id, p, ec); },
          std::to_string(id.value),
          {}};
}

job_actions actions_of(pool& p, const pool_job_id& id) {
  auto call = [](std::error_code& ec, auto f) {
    try {
      ec = {};
      f();
    } catch (const std::system_error& e) {
      ec = e.code();
    }
  };
  return {[&p, id, call](std::error_code& ec) { call(ec, [&] { p.touch(id); }); },
          [&p, id, call](std::error_code& ec) { call(ec, [&] { p.remove(id); }); },
          [&p, id, call](priority pr, std::chrono::seconds d, std::error_code& ec) {
            call(ec, [&] { p.release(id, pr, d); });
          },
          [&p, id, call](priority pr, std::error_code& ec) { call(ec, [&] { p.bury(id, pr); }); },
          id.to_string(),
          id.server};
}

int run_exec(const context& ctx, job_actions& c, const job& j, const proto::job_stats& st,
             const std::string& command, priority pri, std::chrono::seconds delay) {
  // Touch at half the TTR: the server keeps the last second as a safety margin, so half leaves
  // room even for short TTRs, and a long-running CMD keeps the job.
  const auto ttr = std::chrono::seconds(std::max<std::uint64_t>(st.ttr, 1));
  const auto every = std::chrono::duration_cast<std::chrono::milliseconds>(ttr) / 2;
  std::error_code touch_ec;
  const command_result run = run_command(
      command, j.body, {{"BEANPOLE_JOB_ID", c.name}, {"BEANPOLE_JOB_TUBE", st.tube}}, every, [&] {
        if (!touch_ec) c.touch(touch_ec);
      });
  const int status = run.status;
  // A failed touch is reported once CMD is done; if the connection is gone, so is the job.
  if (touch_ec && touch_ec != condition::server_answer) {
    check(touch_ec, "touch " + c.name);
  }

  std::error_code ec;
  if (status == 0) {
    c.remove(ec);
    check(ec, "delete " + c.name);
  } else {
    c.release(pri, delay, ec);
    check(ec, "release " + c.name);
  }
  if (ctx.json) {
    json out{{"id", j.id.value},
             {"tube", st.tube},
             {"exit_status", status},
             {"action", status == 0 ? "deleted" : "released"}};
    if (!c.server.empty()) out["server"] = c.server;
    if (run.signal != 0) out["interrupted_by"] = signal_name(run.signal);
    print_json(out);
  }
  if (run.signal != 0) {
    // Settled like any other run, now that the command is over; then end as the signal would
    // have ended us.
    die_of(
        run.signal,
        fmt::format("reserve --exec: {} passed on to the command, which exited with status "
                    "{}; job {} {}",
                    signal_name(run.signal), status, c.name, status == 0 ? "deleted" : "released"));
  }
  if (status != 0) {
    throw plain_failure(exit_exec_failed,
                        fmt::format("reserve --exec: command exited with status {}; job {} "
                                    "released",
                                    status, c.name));
  }
  return exit_ok;
}

/// A corrupt job (errc::corrupt_job) cannot be printed or run: exit naming it and how to remove
/// it. The connection that reserved it closes on exit, so the server has it back at once.
[[noreturn]] void corrupt_job_failure(const std::string& name) {
  throw plain_failure(
      exit_server_answer,
      fmt::format("reserve: job {} is corrupt: the server sent its body without the closing CRLF "
                  "(a put torn by a server crash and replayed from the binlog), so no client can "
                  "read it; it is back in the queue. Remove it with `beanpole delete {}`",
                  name, name));
}

/// Fails as `corrupt_job_failure` when the reserve got a corrupt job, else as `check`.
void check_reserve(std::error_code ec, const job_handle* h, const std::string& name,
                   std::string_view context) {
  if (ec == errc::corrupt_job && h != nullptr) {
    corrupt_job_failure(name.empty() ? std::to_string(h->job().id.value) : name);
  }
  check(ec, context);
}

/// Prints the job, then settles it as asked (release by default).
int settle(const context& ctx, const reserve_args& a, job_actions& c, const job& j,
           const proto::job_stats& st, priority p, std::chrono::seconds delay) {
  if (a.exec) return run_exec(ctx, c, j, st, *a.exec, p, delay);

  // The job is settled only after its body is out: if stdout fails, it goes back to the queue.
  try {
    if (ctx.json) {
      json out = job_json(j.id, st.tube, j.body);
      if (!c.server.empty()) out["server"] = c.server;
      print_json(out);
    } else {
      write_stdout(j.body);
    }
  } catch (const command_failure&) {
    std::error_code ignored;
    c.release(p, delay, ignored);
    throw;
  }
  std::error_code ec;
  if (a.remove) {
    c.remove(ec);
    check(ec, "delete " + c.name);
  } else if (a.bury) {
    c.bury(p, ec);
    check(ec, "bury " + c.name);
  } else {
    c.release(p, delay, ec);
    check(ec, "release " + c.name);
  }
  return exit_ok;
}

/// reserve with several servers: a job from whichever server has one (see the pool's cross-server
/// reserve), settled through the pool on its server.
int run_reserve_pool(const context& ctx, const reserve_args& a, const std::vector<tube_name>& tubes,
                     std::optional<std::uint32_t> wait, std::optional<priority> pri,
                     std::chrono::seconds delay) {
  auto p = open_pool(ctx);
  const bool keep_default =
      tubes.empty() || std::find(tubes.begin(), tubes.end(), tube_name("default")) != tubes.end();
  for (const auto& t : tubes) pool_call("watch " + t.str(), [&] { p->watch(t); });
  if (!keep_default) pool_call("ignore default", [&] { p->ignore(tube_name("default")); });
  std::optional<pool_job> got;
  try {
    if (wait) {
      got = p->reserve_with_timeout(std::chrono::seconds(*wait));
    } else {
      got = p->reserve();
    }
  } catch (const error& e) {
    // The pool names the job "reserve: job ADDR/ID: ...".
    const std::string_view what = e.what();
    const auto from = what.find("job ");
    const auto to = what.find(':', what.find('/', from));
    if (e.code() == errc::corrupt_job && from != what.npos && to != what.npos) {
      corrupt_job_failure(std::string(what.substr(from + 4, to - from - 4)));
    }
    throw command_failure(e.code(), "reserve");
  } catch (const std::system_error& e) {
    throw command_failure(e.code(), "reserve");
  }
  if (!got) check(make_error_code(errc::timed_out), fmt::format("reserve --wait {}", *wait));
  const job j{got->id.id, std::move(got->body)};
  const auto st =
      pool_call("stats-job " + got->id.to_string(), [&] { return p->stats_job(got->id); });
  auto actions = actions_of(*p, got->id);
  return settle(ctx, a, actions, j, st, pri ? *pri : st.pri, delay);
}

/// The combinations that make no sense, refused before anything is sent.
void check_combinations(const reserve_args& a, bool delay_given) {
  const int actions = int{a.remove} + int{a.bury} + int{a.release} + int{a.exec.has_value()};
  if (actions > 1) throw usage_error("reserve: choose one of --delete, --bury, --release, --exec");
  if (a.job && (a.wait || !a.watch.empty())) {
    throw usage_error("reserve: --job takes one job by id; it excludes --wait and --watch");
  }
  if (a.remove && a.pri) throw usage_error("reserve: --pri applies to release and bury only");
  if ((a.remove || a.bury) && delay_given) {
    throw usage_error("reserve: --delay applies to release only");
  }
}

int run_reserve(const context& ctx, const reserve_args& a, bool delay_given) {
  check_combinations(a, delay_given);
  std::vector<tube_name> tubes;
  for (const auto& t : a.watch) tubes.push_back(parse_tube(t));
  std::optional<std::uint32_t> wait;
  if (a.wait) wait = parse_u32(*a.wait, "wait");
  std::optional<job_ref> wanted;
  if (a.job) wanted = parse_job_ref(ctx, *a.job);
  std::optional<priority> pri;
  if (a.pri) pri = parse_u32(*a.pri, "priority");
  const auto delay = std::chrono::seconds(parse_u32(a.delay, "delay"));
  if (ctx.several()) {
    (void)pool_servers(ctx);
    (void)ctx.connection();
  } else {
    ctx.validate();
  }
  if (ctx.several() && !wanted) return run_reserve_pool(ctx, a, tubes, wait, pri, delay);

  client c = wanted ? connect_for(ctx, *wanted) : ctx.connect();
  std::error_code ec;
  std::optional<job_handle> h;
  if (wanted) {
    h = c.reserve_job(wanted->id, ec);
    check_reserve(ec, h ? &*h : nullptr, job_text(*wanted), "reserve-job " + job_text(*wanted));
    if (!h) check(make_error_code(errc::not_found), "reserve-job " + job_text(*wanted));
  } else {
    const bool keep_default =
        tubes.empty() || std::find(tubes.begin(), tubes.end(), tube_name("default")) != tubes.end();
    for (const auto& t : tubes) {
      c.watch(t, ec);
      check(ec, "watch " + t.str());
    }
    if (!keep_default) {
      c.ignore(tube_name("default"), ec);
      check(ec, "ignore default");
    }
    if (wait) {
      h = c.reserve_with_timeout(std::chrono::seconds(*wait), ec);
      check_reserve(ec, h ? &*h : nullptr, {}, "reserve");
      if (!h) {
        check(make_error_code(errc::timed_out), fmt::format("reserve --wait {}", *wait));
      }
    } else {
      h = c.reserve(ec);
      check_reserve(ec, &*h, {}, "reserve");
    }
  }
  const job& j = h->job();

  // The tube (for --json and $BEANPOLE_JOB_TUBE), the priority to release or bury with (the
  // job keeps its own unless --pri says otherwise) and the TTR (for touches) come from here.
  const proto::job_stats st = c.stats_job(j.id, ec);
  check(ec, fmt::format("stats-job {}", j.id.value));
  const priority p = pri ? *pri : st.pri;
  auto actions = actions_of(c, j.id);
  if (wanted) {
    actions.name = job_text(*wanted);
    actions.server = wanted->server;
  }
  return settle(ctx, a, actions, j, st, p, delay);
}

std::vector<std::string>& ignored_args() {
  static std::vector<std::string> args;
  return args;
}

/// release / bury / touch: a new connection cannot act on a job another one reserved, so these
/// say how to do it with reserve instead of failing with a puzzling NOT_FOUND.
void add_note_command(CLI::App& app, context& ctx, const char* name, const char* help,
                      const char* how) {
  auto* cmd = app.add_subcommand(name, help);
  cmd->group(group_consume);
  // Whatever follows is accepted, so that the explanation comes instead of a parse error.
  cmd->add_option("ARGS", ignored_args(), "Ignored")->type_name("");
  const std::string message = fmt::format(
      "{} acts only on a job reserved by the same connection, and each beanpole command is a "
      "connection of its own; {}",
      name, how);
  cmd->footer(message);
  cmd->callback([&ctx, message] { ctx.run = [message]() -> int { throw usage_error(message); }; });
}

}  // namespace

void add_reserve_command(CLI::App& app, context& ctx) {
  auto a = std::make_shared<reserve_args>();
  auto* cmd = app.add_subcommand("reserve", "Reserve a job, print it, then settle it");
  cmd->group(group_consume);
  cmd->footer(
      "Prints the body byte for byte and nothing else; with --json:\n"
      "{\"id\":N,\"tube\":\"...\",\"body\":\"...\"} (\"body_base64\" when the body is not valid "
      "UTF-8).\n"
      "Without --wait, waits as long as it takes (--timeout does not bound this wait); with\n"
      "--wait, TIMED_OUT (exit 1) when no job came in time. --job reserves one job by id\n"
      "(ready, delayed or buried), NOT_FOUND (exit 1) otherwise.\n"
      "\n"
      "Then the job is settled, once its body has been written:\n"
      "  (default), --release  released: back to the queue, ready after --delay\n"
      "  --delete              deleted\n"
      "  --bury                buried, until kicked\n"
      "  --exec CMD            run CMD (with sh -c) with the body on stdin and the job id in\n"
      "                        $BEANPOLE_JOB_ID (its tube in $BEANPOLE_JOB_TUBE); the job is\n"
      "                        touched every half TTR while CMD runs, deleted when CMD exits 0,\n"
      "                        released (after --delay) otherwise, and then beanpole exits 4.\n"
      "                        Nothing is printed but CMD's own output; with --json:\n"
      "                        {\"id\":N,\"tube\":\"...\",\"exit_status\":N,\"action\":\"...\"}.\n"
      "                        CMD runs in a process group of its own: SIGINT, SIGQUIT,\n"
      "                        SIGTERM or SIGHUP sent to beanpole is passed on to it (a second\n"
      "                        one kills it), the job is settled once CMD has ended (deleted\n"
      "                        if it exited 0, else released), then beanpole ends by that\n"
      "                        signal (exit 128+N).\n"
      "Release and bury keep the job's priority unless --pri is given.");
  cmd->add_option("-w,--watch", a->watch, "Tube to take jobs from (repeatable; default: default)")
      ->type_name("TUBE")
      ->allow_extra_args(false);
  // Exclusions are checked in run_reserve rather than by CLI11, which would print them into
  // every option's help line.
  cmd->add_option("--wait", a->wait, "Wait at most SECONDS for a job")->type_name("SECONDS");
  cmd->add_option("--job", a->job, "Reserve the job with this id")->type_name("ID");
  cmd->add_flag("--delete", a->remove, "Delete the job after printing it");
  cmd->add_flag("--bury", a->bury, "Bury the job after printing it");
  cmd->add_flag("--release", a->release, "Release the job after printing it (the default)");
  cmd->add_option("--exec", a->exec, "Run CMD on the job instead of printing it")->type_name("CMD");
  cmd->add_option("--pri", a->pri, "Priority to release or bury with")->type_name("PRI");
  cmd->add_option("--delay", a->delay, "Seconds before a released job is ready again")
      ->type_name("SECONDS")
      ->capture_default_str();
  cmd->callback([&ctx, a, cmd] {
    const bool delay_given = cmd->count("--delay") > 0;
    ctx.run = [&ctx, a, delay_given] { return run_reserve(ctx, *a, delay_given); };
  });

  add_note_command(app, ctx, "release", "Release a reserved job: see reserve",
                   "reserve releases the job it got unless told otherwise (reserve --release "
                   "--delay SECONDS; reserve --job ID --release puts a delayed or buried job "
                   "back to the queue).");
  add_note_command(app, ctx, "bury", "Bury a reserved job: see reserve",
                   "use reserve --bury, or reserve --job ID --bury for a given job.");
  add_note_command(app, ctx, "touch", "Touch a reserved job: see reserve --exec",
                   "reserve --exec CMD touches the job while CMD runs.");
}

}  // namespace beanpole::cli
