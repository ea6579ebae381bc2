// work: the worker loop as a command. A thin layer over `beanpole::worker` (worker.hpp): one
// plain-function handler per watched tube runs CMD (no shell) for each job, with the body on its
// stdin, and CMD's exit status settles the job. Reservation, touches, retries with backoff,
// burying, graceful shutdown, reconnection and the counters are the library's.
#include <sys/resource.h>

#include <algorithm>
#include <asio/io_context.hpp>
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include <beanpole/error.hpp>
#include <beanpole/worker.hpp>

#include "args.hpp"
#include "commands.hpp"
#include "errors.hpp"
#include "exec.hpp"
#include "io.hpp"
#include "pool_mode.hpp"

namespace beanpole::cli {
namespace {

/// How long an abandoned CMD has between SIGTERM and SIGKILL.
constexpr std::chrono::seconds kill_after{3};

/// The most jobs run at once: each holds a thread, a connection (a file descriptor) and a
/// process. Documented in --help.
constexpr std::uint32_t max_concurrency = 1000;
/// File descriptors beyond one per slot: stdio, the main connection, pipes, metrics.
constexpr rlim_t spare_files = 64;

struct work_args {
  std::vector<std::string> watch;
  std::string concurrency = "1";
  std::string max_attempts = "5";
  std::string backoff = "1";
  std::string backoff_max = "300";
  std::string grace = "30";
  std::optional<std::string> metrics_port;
  std::vector<std::string> command;
};

/// What the handlers share. Owned jointly by the handlers (a handler abandoned at the end of the
/// grace period may outlive the command's own stack frame) and by run_work.
struct work_state {
  std::vector<std::string> argv;
  std::atomic<int> running{0};
};

/// Runs CMD for one job: exit 0 succeeds (the job is deleted); anything else fails it.
void run_job(work_state& state, job_context& job) {
  struct running_guard {
    std::atomic<int>& n;
    explicit running_guard(std::atomic<int>& counter) : n(counter) { ++n; }
    ~running_guard() { --n; }
    running_guard(const running_guard&) = delete;
    running_guard& operator=(const running_guard&) = delete;
  } guard(state.running);

  // With several servers a job is ADDR/ID, as everywhere else in the CLI.
  const std::string id = job.server().empty() ? std::to_string(job.id().value)
                                              : job.server() + "/" + std::to_string(job.id().value);
  const std::string& tube = job.tube().str();
  int status = 0;
  try {
    status =
        run_argv(state.argv, job.body(),
                 {{"BEANPOLE_JOB_ID", id}, {"BEANPOLE_TUBE", tube}, {"BEANPOLE_JOB_TUBE", tube}},
                 job.stop_token(), kill_after);
  } catch (const command_failure& e) {
    print_error(fmt::format("work: job {}: {}", id, describe(e.ec, e.what())));
    job.fail(describe(e.ec, e.what()));
    return;
  } catch (const std::system_error& e) {
    print_error(fmt::format("work: job {}: {}", id, e.what()));
    job.fail(e.what());
    return;
  }
  if (status != 0) job.fail(fmt::format("command exited with status {}", status));
}

/// What the log remembers between events.
struct log_state {
  std::string address;   ///< the server, or with several servers the list of them
  bool several = false;  ///< several servers: each line names the one concerned
  bool started = false;  ///< the worker is up (connected, watching)
  bool waited = false;   ///< the server was not up at start: "connected" is said once it is
};

/// A job as the log writes it: ID, or ADDR/ID with several servers.
std::string event_job(const worker_event& e) {
  return e.server.empty() ? std::to_string(e.job.value)
                          : e.server + "/" + std::to_string(e.job.value);
}

/// " (ADDR)" after a connection message with several servers, else nothing.
std::string which(const worker_event& e, const log_state& log) {
  return log.several && !e.server.empty() ? " (" + e.server + ")" : std::string();
}

/// Worker events worth a line on stderr: what happened to failed jobs, and to the connection.
void log_event(const worker_event& e, log_state& log) {
  using kind = worker_event::kind;
  switch (e.what) {
    case kind::started:
      log.started = true;
      if (log.waited) print_error(fmt::format("work: connected to {}", log.address));
      break;
    case kind::lost:
      if (!e.message.empty()) {  // the stop left a final command unanswered
        print_error(fmt::format("work: job {} ({}): {} ({})", event_job(e),
                                e.tube.empty() ? "?" : e.tube, e.message, e.error.message()));
      } else {
        print_error(fmt::format("work: job {} ({}) lost: {}; the server has it back", event_job(e),
                                e.tube.empty() ? "?" : e.tube, e.error.message()));
      }
      break;
    case kind::retried:
      print_error(fmt::format("work: job {} ({}) failed, attempt {}: released, ready in {} s",
                              event_job(e), e.tube, e.attempt, e.delay.count()));
      break;
    case kind::buried:
      if (e.error == errc::corrupt_job) {
        print_error(fmt::format(
            "work: job {} ({}) is corrupt (its body was torn by a server crash): buried without "
            "running CMD; delete it with `beanpole delete {}`",
            event_job(e), e.tube.empty() ? "?" : e.tube, event_job(e)));
        break;
      }
      print_error(fmt::format("work: job {} ({}) buried after {} attempts", event_job(e), e.tube,
                              e.attempt));
      break;
    case kind::abandoned:
      print_error(
          fmt::format("work: job {} ({}) still running at the end of the grace period: "
                      "released, command terminated",
                      event_job(e), e.tube));
      break;
    case kind::command_failed:
      print_error(fmt::format("work: {}: {}", e.message, e.error.message()));
      break;
    case kind::connection:
      if (!log.started && e.client.what == client_event::kind::reconnecting) {
        log.waited = true;
        print_error(fmt::format("work: waiting for the server at {} ({}); retry {} in {:.1f} s",
                                log.several ? e.server : log.address, e.client.error.message(),
                                e.client.attempt,
                                static_cast<double>(e.client.backoff.count()) / 1000.0));
      } else if (e.client.what == client_event::kind::disconnected) {
        print_error(fmt::format("work: connection lost{} ({}); reconnecting", which(e, log),
                                e.client.error.message()));
      } else if (e.client.what == client_event::kind::reconnected) {
        print_error("work: reconnected" + which(e, log));
      }
      break;
    default:
      break;
  }
}

/// Each slot holds a connection: raises the soft limit on open files to what `concurrency`
/// needs (within the hard limit), or says why it cannot (exit 3) before anything starts.
void ensure_open_files(std::size_t concurrency) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  const rlim_t needed = static_cast<rlim_t>(concurrency) + spare_files;
  if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= needed) return;
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < needed) {
    throw command_failure(std::make_error_code(std::errc::too_many_files_open),
                          fmt::format("work: --concurrency {} needs {} open files; the limit is "
                                      "{} (ulimit -n)",
                                      concurrency, needed, limit.rlim_max));
  }
  limit.rlim_cur = needed;
  if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) throw_errno("work: raise the open-file limit");
}

int run_work(const context& ctx, const work_args& a) {
  if (a.watch.empty()) throw usage_error("work: at least one -w/--watch TUBE is required");
  std::vector<tube_name> tubes;
  for (const auto& t : a.watch) tubes.push_back(parse_tube(t));
  if (a.command.empty()) throw usage_error("work: missing CMD (work -w TUBE -- CMD ARGS...)");
  worker_options opts;
  opts.concurrency = parse_u32(a.concurrency, "concurrency");
  if (opts.concurrency == 0) throw usage_error("work: --concurrency must be at least 1");
  if (opts.concurrency > max_concurrency) {
    throw usage_error(fmt::format("work: --concurrency {} exceeds the maximum, {}",
                                  opts.concurrency, max_concurrency));
  }
  opts.max_attempts = parse_u32(a.max_attempts, "max-attempts");
  // Whole seconds, as beanstalkd delays are (the worker rounds its backoff to them anyway).
  const std::chrono::seconds backoff_first(parse_u32(a.backoff, "backoff"));
  const std::chrono::seconds backoff_max(parse_u32(a.backoff_max, "backoff-max"));
  if (backoff_first > backoff_max) {
    throw usage_error(fmt::format("work: --backoff ({} s) exceeds --backoff-max ({} s)",
                                  backoff_first.count(), backoff_max.count()));
  }
  opts.backoff.initial = backoff_first;
  opts.backoff.max = backoff_max;
  opts.grace = std::chrono::seconds(parse_u32(a.grace, "grace"));
  if (a.metrics_port) {
    const std::uint32_t port = parse_u32(*a.metrics_port, "metrics port");
    if (port > 65535) throw usage_error(fmt::format("invalid metrics port '{}'", port));
    opts.metrics_port = static_cast<std::uint16_t>(port);
  }
  // One server, or several used as one queue (a pool: each server's name is its address as
  // given, so jobs are logged as ADDR/ID).
  std::vector<pool_server> servers;
  std::optional<endpoint> ep;
  auto log = std::make_shared<log_state>();
  if (ctx.several()) {
    servers = pool_servers(ctx);
    log->several = true;
    for (const auto& s : servers) log->address += (log->address.empty() ? "" : ", ") + s.name;
  } else {
    ctx.validate();
    ep = ctx.server();
    log->address = ep->to_string();
  }
  static_cast<connection_options&>(opts.client) = ctx.connection();
  opts.handle_signals = true;
  opts.wait_for_server = true;  // with the client's reconnect backoff, as after a drop
  opts.on_event = [log](const worker_event& e) { log_event(e, *log); };
  // A slot may keep a reserve connection open on each server.
  ensure_open_files(opts.concurrency * std::max<std::size_t>(servers.size(), 1));

  auto state = std::make_shared<work_state>();
  state->argv = a.command;

  asio::io_context io;
  std::optional<worker> w;
  try {
    if (ep) {
      w.emplace(io.get_executor(), *ep, opts);
    } else {
      w.emplace(io.get_executor(), std::move(servers), opts);
    }
  } catch (const std::system_error& e) {
    throw command_failure(e.code(), fmt::format("work: metrics port {}", *a.metrics_port));
  }
  for (const auto& t : tubes) {
    w->handle(t, [state](job_context& job) { run_job(*state, job); });
  }
  if (opts.metrics_port) {
    print_error(fmt::format("work: metrics on http://127.0.0.1:{}/metrics", w->metrics_port()));
  }

  std::error_code result;
  w->async_run([&result](std::error_code ec) { result = ec; });
  io.run();

  // Commands of abandoned jobs got SIGTERM (then SIGKILL): let them go before we exit.
  const auto give_up = std::chrono::steady_clock::now() + kill_after + std::chrono::seconds(1);
  while (state->running.load() > 0 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const worker_metrics m = w->metrics();
  if (result == std::errc::resource_unavailable_try_again) {
    throw command_failure(result, fmt::format("work: cannot create {} handler threads "
                                              "(--concurrency)",
                                              opts.concurrency));
  }
  check(result, "work: connect to " + log->address);
  write_all(2, format_metrics(m), "stderr");
  return exit_ok;
}

}  // namespace

void add_work_command(CLI::App& app, context& ctx) {
  auto a = std::make_shared<work_args>();
  auto* cmd = app.add_subcommand("work", "Run CMD for every job of the tubes: a worker");
  cmd->group(group_consume);
  cmd->footer(
      "Synopsis: beanpole [-a HOST:PORT]... work -w TUBE... [OPTIONS] -- CMD ARGS...\n"
      "\n"
      "Reserves jobs from the watched tubes (only those) and runs CMD with ARGS once per job,\n"
      "without a shell, up to --concurrency at once. CMD gets the body byte for byte on stdin,\n"
      "the job id in $BEANPOLE_JOB_ID and its tube in $BEANPOLE_TUBE; its stdout and stderr are\n"
      "beanpole's. The job is touched while CMD runs, so it may outlive its TTR.\n"
      "  exit 0      the job is deleted\n"
      "  otherwise   (a non-zero status, death by a signal, CMD not found) the job is released\n"
      "              with a delay of --backoff seconds, doubling (with jitter) up to\n"
      "              --backoff-max; once the server has reserved it --max-attempts times (its\n"
      "              `reserves`, so restarts do not reset it), it is buried instead.\n"
      "A corrupt job (its body torn by a server crash) is buried without running CMD and\n"
      "logged with its id.\n"
      "SIGINT or SIGTERM stops it: no new job is reserved, running commands may finish within\n"
      "--grace seconds (CMD runs in a process group of its own, so a ^C does not reach it); the\n"
      "jobs of commands still running then are released and the commands get SIGTERM, SIGKILL\n"
      "3 s later. A second signal stops at once. --grace bounds the whole stop: a job whose\n"
      "delete (or release) cannot be sent by then, the server being down, is reported on\n"
      "stderr and left to the server, which takes it back when the connection closes (so it\n"
      "may run again). Then the counters go to stderr and it exits 0.\n"
      "A server not up yet at start is waited for, and a lost connection re-established, both\n"
      "with the same backoff (0.1 s doubling up to 5 s, with jitter), each attempt logged\n"
      "while waiting at start; jobs whose commands still run are kept track of.\n"
      "With several servers (-a A -a B, or -a A,B), jobs are reserved from every server in\n"
      "turn, never more than --concurrency at once in all; $BEANPOLE_JOB_ID and the log write\n"
      "a job ADDR/ID. It starts once one server is up, keeps working while others are down\n"
      "(each is retried with the backoff above and served again once it is back; the jobs it\n"
      "had reserved go back to it when it goes down, and may run again).\n"
      "--concurrency is at most 1000: each job in progress holds a thread, a connection and a\n"
      "process (the open-file limit is raised to match, within its hard limit).\n"
      "With --metrics-port, GET http://127.0.0.1:PORT/metrics serves the counters in the\n"
      "Prometheus text format (0 picks a free port; the address is printed to stderr).");
  cmd->add_option("-w,--watch", a->watch, "Tube to take jobs from (repeatable; required)")
      ->type_name("TUBE")
      ->allow_extra_args(false);
  cmd->add_option("--concurrency", a->concurrency, "Jobs run at once (at most 1000)")
      ->type_name("N")
      ->capture_default_str();
  cmd->add_option("--max-attempts", a->max_attempts,
                  "Bury a failing job once reserved K times (0: never)")
      ->type_name("K")
      ->capture_default_str();
  cmd->add_option("--backoff", a->backoff, "First release delay of a failed job")
      ->type_name("SECONDS")
      ->capture_default_str();
  cmd->add_option("--backoff-max", a->backoff_max, "Longest release delay")
      ->type_name("SECONDS")
      ->capture_default_str();
  cmd->add_option("--grace", a->grace, "Time running commands get to finish on stop")
      ->type_name("SECONDS")
      ->capture_default_str();
  cmd->add_option("--metrics-port", a->metrics_port, "Serve Prometheus metrics on 127.0.0.1")
      ->type_name("PORT");
  // After "--", everything is CMD and its arguments, untouched, even when it looks like an
  // option. Global options go before the command (no fallthrough), so that they cannot be
  // confused with CMD's.
  cmd->add_option("CMD", a->command, "The command to run and its arguments, after --")
      ->type_name("");
  cmd->fallthrough(false);
  cmd->callback([&ctx, a] { ctx.run = [&ctx, a] { return run_work(ctx, *a); }; });
}

}  // namespace beanpole::cli
