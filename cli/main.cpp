// beanpole: a command-line client for the beanstalkd work queue. The contract of its commands,
// options, outputs and exit codes is issue 5; scripts depend on it.
#include <csignal>
#include <exception>
#include <string>
#include <system_error>

#include <CLI/CLI.hpp>
#include <beanpole/version.hpp>

#include "commands.hpp"
#include "context.hpp"
#include "errors.hpp"

namespace {

constexpr const char* footer =
    R"(Global options go before the command. Every command takes -h/--help.
The server is --addr, else $BEANSTALKD_ADDR, else 127.0.0.1:11300. --timeout 0 means
no limit; it never cuts short the wait of a reserve.

Several servers (-a repeated, or a comma list in -a or $BEANSTALKD_ADDR) are one queue:
puts are spread over them (put --placement round-robin|tube) and print ADDR/ID; commands
on a job take ADDR/ID; reserve takes a job from any server; kick, pause-tube, peek-*,
stats, stats-tube and list-tubes act on every server. A read-only command exits 0 if one
server answered (the others are named on stderr); kick and pause-tube exit 3 if any
server failed, after applying to the others.

Exit status:
  0  success
  1  the server answered with a negative status (NOT_FOUND, TIMED_OUT, JOB_TOO_BIG,
     BURIED, DRAINING, ...); the status word ends the message on stderr
  2  usage error, found before anything was sent: bad arguments, an invalid tube
     name, a number that does not fit 32 bits unsigned, an invalid address
  3  connection or protocol failure (refused, reset, timeout, malformed or unexpected
     reply), or failure to read or write a local file; stderr says which
  4  reserve --exec only: CMD failed, and the job was released

TLS (a beanstalkd behind a TLS terminator such as stunnel):
  -a tls://HOST:PORT speaks TLS; the server's certificate is always verified (chain
  and name), against --tls-ca FILE or else the system's CAs, for --tls-server-name
  or else HOST. --tls-cert and --tls-key present a client certificate (mutual TLS).
  A failed handshake or verification exits 3, saying why; an unreadable TLS file
  exits 2.

Reserved jobs (release, bury, touch):
  beanstalkd lets only the connection that reserved a job release, bury or touch it,
  and every beanpole command is a connection of its own. So they are actions of
  reserve: the job is released when reserve ends (unless --delete, --bury or --exec
  settle it), --bury buries it, and --exec touches it while CMD runs. Any ready,
  delayed or buried job can be reserved by id first: reserve --job ID --bury.

Environment:
  BEANSTALKD_ADDR    the default server address (HOST:PORT, [IPV6]:PORT, tls://HOST:PORT
                     or unix:PATH)
  NO_COLOR           when set and not empty, top uses no colour
  BEANPOLE_JOB_ID    set for the CMD of reserve --exec and work: the job's id
  BEANPOLE_TUBE      set for the CMD of work: the job's tube
  BEANPOLE_JOB_TUBE  set for the CMD of reserve --exec and work: the job's tube

Examples:
  beanpole put -t emails 'hello'              put a job, print its id
  seq 100 | beanpole put -t numbers --lines   one job per line
  beanpole reserve -w emails --wait 5 --delete
  beanpole reserve -w emails --exec ./send-email.sh
  beanpole work -w emails --concurrency 4 -- ./send-email.sh
  beanpole --json stats-tube emails
  beanpole export -t emails > emails.ndjson && beanpole -a other:11300 import emails.ndjson
  beanpole move --from emails --to emails.retry --state buried
  beanpole flush emails.test --state ready --yes)";

int run(int argc, char** argv) {
  using namespace beanpole::cli;
  context ctx;
  CLI::App app{"beanpole: a command-line client for the beanstalkd work queue.", "beanpole"};
  app.footer(footer);
  app.fallthrough();  // global options are also accepted after the command
  app.set_version_flag("--version", std::string("beanpole ") + beanpole::version,
                       "Print the version and exit");
  app.get_formatter()->label("SUBCOMMAND", "COMMAND");
  app.get_formatter()->label("SUBCOMMANDS", "COMMANDS");
  app.get_formatter()->column_width(26);
  app.add_option("-a,--addr", ctx.addr_args,
                 "Server: HOST:PORT, [IPV6]:PORT, tls://HOST:PORT or unix:PATH; repeat it, or give "
                 "a comma list, for a pool of servers")
      ->type_name("ADDR")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_flag("--json", ctx.json, "Machine-readable output on stdout");
  app.add_option("--timeout", ctx.timeout, "Seconds to connect and for each reply (default 10)")
      ->type_name("SECONDS")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--tls-ca", ctx.tls_ca, "CA bundle (PEM) that signs a tls:// server's certificate")
      ->type_name("FILE");
  app.add_option("--tls-cert", ctx.tls_cert, "Client certificate (PEM) for mutual TLS")
      ->type_name("FILE");
  app.add_option("--tls-key", ctx.tls_key, "Private key (PEM) of --tls-cert")->type_name("FILE");
  app.add_option("--tls-server-name", ctx.tls_server_name,
                 "Name to verify in a tls:// server's certificate and send as SNI (default: the "
                 "host)")
      ->type_name("NAME");

  add_put_command(app, ctx);
  add_reserve_command(app, ctx);
  add_work_command(app, ctx);
  add_job_commands(app, ctx);
  add_info_commands(app, ctx);
  add_top_command(app, ctx);
  add_transfer_commands(app, ctx);
  add_admin_commands(app, ctx);
  add_exporter_command(app, ctx);
  add_console_command(app, ctx);
  app.require_subcommand(0, 1);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version: stdout, status 0
    print_error(std::string(e.what()) + " (see beanpole --help)");
    return exit_usage;
  }
  if (!ctx.run) {
    print_error("no command given (see beanpole --help)");
    return exit_usage;
  }

  try {
    return ctx.run();
  } catch (const usage_error& e) {
    print_error(std::string(e.what()) + " (see beanpole --help)");
    return exit_usage;
  } catch (const command_failure& e) {
    print_error(describe(e.ec, e.what()));
    return exit_status_of(e.ec);
  } catch (const plain_failure& e) {
    print_error(e.what());
    return e.status;
  } catch (const std::system_error& e) {
    print_error(e.what());
    return exit_status_of(e.code());
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Broken pipes become EPIPE errors that the code checks (a job is never deleted after a
  // failed write) instead of a silent death.
  std::signal(SIGPIPE, SIG_IGN);
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    beanpole::cli::print_error(std::string("internal error: ") + e.what());
    return beanpole::cli::exit_failure;
  }
}
