// put: one job from an argument or stdin, or one job per stdin line (--lines).
#include <poll.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <beanpole/error.hpp>

#include "args.hpp"
#include "bulk_put.hpp"
#include "commands.hpp"
#include "errors.hpp"
#include "io.hpp"
#include "line_tally.hpp"
#include "output.hpp"
#include "pool_mode.hpp"

namespace beanpole::cli {
namespace {

struct put_args {
  std::string tube = "default";
  std::string pri = "1024";
  std::string delay = "0";
  std::string ttr = "60";
  std::optional<std::string> body;
  bool lines = false;
  std::string placement = "round-robin";
  std::string retries = "5";
};

/// Whether more input can be read without blocking: when it cannot, `--lines` sends what it has
/// so that ids come back while someone is still typing.
bool input_waiting(int fd) {
  pollfd pfd{fd, POLLIN, 0};
  return ::poll(&pfd, 1, 0) > 0;
}

int run_put_lines(const context& ctx, const tube_name& tube, const put_options& opts,
                  unsigned retries, placement_policy placement) {
  constexpr std::size_t max_jobs = 512;
  constexpr std::size_t max_bytes = 1 << 20;
  bulk_putter putter(ctx, retries, placement);
  line_reader reader(STDIN_FILENO, "stdin");
  line_tally tally({.command = "put --lines", .input = "INPUT"}, ctx.json);
  std::vector<bulk_job> batch;
  std::vector<std::uint64_t> batch_lines;
  std::size_t batch_bytes = 0;
  std::uint64_t line_no = 0;

  const auto flush = [&] {
    const auto results = putter.put_resending(batch);
    std::string out;
    for (std::size_t i = 0; i < batch.size(); ++i) tally.record(batch_lines[i], results[i], &out);
    batch.clear();
    batch_lines.clear();
    batch_bytes = 0;
    if (!out.empty()) write_stdout(out);
  };

  std::string line;
  bool at_end = false;
  while (!putter.down_for_good() && !(at_end = !reader.next(line))) {
    ++line_no;
    batch_bytes += line.size();
    batch.push_back(bulk_job{.tube = tube, .body = std::move(line), .opts = opts});
    batch_lines.push_back(line_no);
    if (batch.size() >= max_jobs || batch_bytes >= max_bytes ||
        (!reader.line_buffered() && !input_waiting(STDIN_FILENO))) {
      flush();
    }
  }
  if (!batch.empty()) flush();
  // The input was not read to its end: whatever follows was not sent either (it is not read
  // now, which could wait for a producer that is not done).
  if (!at_end && putter.down_for_good()) tally.stopped_at(line_no + 1);
  tally.print_summary(line_no);
  return tally.status();
}

int run_put(const context& ctx, const put_args& a) {
  const tube_name tube = parse_tube(a.tube);
  put_options opts;
  opts.pri = parse_u32(a.pri, "priority");
  opts.delay = std::chrono::seconds(parse_u32(a.delay, "delay"));
  opts.ttr = std::chrono::seconds(parse_u32(a.ttr, "ttr"));
  if (a.lines && a.body && *a.body != "-") {
    throw usage_error("put --lines reads its jobs from stdin and takes no BODY");
  }
  const placement_policy placement = parse_placement(a.placement);
  if (ctx.several()) {
    (void)pool_servers(ctx);
    (void)ctx.connection();
  } else {
    ctx.validate();
  }
  const unsigned retries = parse_u32(a.retries, "retries");
  if (a.lines) return run_put_lines(ctx, tube, opts, retries, placement);

  // Read all of the body before connecting: a failed read then sends nothing.
  const std::string body = a.body && *a.body != "-" ? *a.body : read_all(STDIN_FILENO, "stdin");
  if (ctx.several()) {
    bulk_putter putter(ctx, 0, placement);
    const bulk_job one{tube, body, opts};
    const auto r = putter.put(std::span<const bulk_job>(&one, 1)).front();
    // BURIED and a lost reply still name the job's server: the job is (or may be) there.
    if (!r.ec || r.ec == errc::buried) {
      if (ctx.json) {
        print_json(json{{"id", r.id.value}, {"server", r.server}, {"job", id_text(r)}});
      } else {
        print_line(id_text(r));
      }
    }
    if (r.ec == errc::outcome_unknown) {
      check(r.ec, "put (on " + r.server + "; not sent again elsewhere)");
    }
    check(r.ec, "put");
    return exit_ok;
  }
  client c = ctx.connect();
  std::error_code ec;
  if (tube.view() != "default") {
    c.use(tube, ec);
    check(ec, "use " + tube.str());
  }
  const job_id id = c.put(body, opts, ec);
  if (!ec || ec == errc::buried) {
    if (ctx.json) {
      print_json(json{{"id", id.value}});
    } else {
      print_line(std::to_string(id.value));
    }
  }
  check(ec, "put");
  return exit_ok;
}

}  // namespace

void add_put_command(CLI::App& app, context& ctx) {
  auto a = std::make_shared<put_args>();
  auto* cmd = app.add_subcommand("put", "Put a job into a tube and print its id");
  cmd->group(group_produce);
  cmd->footer(
      "The body is BODY, else stdin read to end of file, byte for byte (\"-\" also means "
      "stdin).\n"
      "With --json: {\"id\":N}.\n"
      "A job the server buried (BURIED, it ran out of memory) still has its id printed; the\n"
      "exit status is then 1.\n"
      "\n"
      "--lines: every stdin line (without its newline) is one job, sent pipelined. One output\n"
      "line per input line, as they are answered: the job's id, or an empty line when the line\n"
      "got none. With --json, one object per input line instead:\n"
      "  {\"line\":N,\"outcome\":\"put\",\"id\":ID}       (\"buried\" when the server buried it)\n"
      "  {\"line\":N,\"outcome\":\"refused\",\"error\":\"JOB_TOO_BIG\"}\n"
      "  {\"line\":N,\"outcome\":\"unknown\"}   sent, reply lost: it may or may not exist\n"
      "  {\"line\":N,\"outcome\":\"not_sent\"}  never written: safe to send again\n"
      "A lost connection is re-established (--retries attempts in a row, within --timeout) and\n"
      "the lines never written are sent on it; a line whose outcome is unknown is never sent\n"
      "again. When the connection cannot come back, reading stops. Unless every line was put,\n"
      "a summary on stderr gives the lines refused (and why), unknown and not sent, and how to\n"
      "resume with the lines not sent. Exit status: 3 when a line is unknown or not sent, else\n"
      "1 when one was refused, else 0.\n"
      "With several servers, ids are printed ADDR/ID, and --json adds \"server\":\"ADDR\" and\n"
      "\"job\":\"ADDR/ID\". A put whose reply was lost is never sent again to another server\n"
      "(exit 3, naming the server).");
  cmd->add_option("-t,--tube", a->tube, "Tube to put the job into")
      ->type_name("TUBE")
      ->capture_default_str();
  cmd->add_option("-p,--pri", a->pri, "Priority, 0 (most urgent) to 4294967295")
      ->type_name("PRI")
      ->capture_default_str();
  cmd->add_option("-d,--delay", a->delay, "Seconds before the job becomes ready")
      ->type_name("SECONDS")
      ->capture_default_str();
  cmd->add_option("-r,--ttr", a->ttr, "Time to run: seconds a worker may hold the job")
      ->type_name("SECONDS")
      ->capture_default_str();
  cmd->add_flag("--lines", a->lines, "One job per line of stdin; print one id per line");
  cmd->add_option("--placement", a->placement,
                  "With several servers: round-robin, or tube (a tube's jobs on one server)")
      ->type_name("POLICY")
      ->capture_default_str();
  cmd->add_option("--retries", a->retries,
                  "--lines: reconnect attempts in a row after a lost connection (0: none)")
      ->type_name("N")
      ->capture_default_str();
  cmd->add_option("BODY", a->body, "The job's body (default: stdin)")->type_name("");
  cmd->callback([&ctx, a] { ctx.run = [&ctx, a] { return run_put(ctx, *a); }; });
}

}  // namespace beanpole::cli
