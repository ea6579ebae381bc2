// put: one job from an argument or stdin, or one job per stdin line (--lines).
#include <poll.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include <beanpole/error.hpp>

#include "args.hpp"
#include "bulk_put.hpp"
#include "commands.hpp"
#include "errors.hpp"
#include "io.hpp"
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
};

/// How a job's id is printed: `ADDR/ID` when it came from a pool of servers.
std::string id_text(const bulk_result& r) {
  if (r.server.empty()) return std::to_string(r.id.value);
  return r.server + "/" + std::to_string(r.id.value);
}

/// Whether more input can be read without blocking: when it cannot, `--lines` sends what it has
/// so that ids come back while someone is still typing.
bool input_waiting(int fd) {
  pollfd pfd{fd, POLLIN, 0};
  return ::poll(&pfd, 1, 0) > 0;
}

/// Sends a batch and prints its ids; returns the exit status so far (the worst one).
int flush_batch(bulk_putter& putter, std::vector<bulk_job>& batch, std::uint64_t first_line,
                bool as_json, json& ids) {
  int status = exit_ok;
  const auto results = putter.put(batch);
  std::string out;
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    // BURIED comes with an id: the job exists, so its id is printed like any other.
    if (!r.ec || r.ec == errc::buried) {
      if (as_json) {
        if (r.server.empty()) {
          ids.push_back(r.id.value);
        } else {
          ids.push_back(id_text(r));
        }
      } else {
        out += id_text(r) + '\n';
      }
    }
    if (r.ec) {
      if (r.ec == errc::not_connected && status == exit_failure) continue;  // said once
      print_error(describe(r.ec, fmt::format("put (line {})", first_line + i)));
      status = std::max(status, exit_status_of(r.ec));
    }
  }
  batch.clear();
  if (!out.empty()) write_stdout(out);
  return status;
}

int run_put_lines(const context& ctx, const tube_name& tube, const put_options& opts,
                  placement_policy placement) {
  constexpr std::size_t max_jobs = 512;
  constexpr std::size_t max_bytes = 1 << 20;
  bulk_putter putter(ctx, placement);
  line_reader reader(STDIN_FILENO, "stdin");
  std::vector<bulk_job> batch;
  std::size_t batch_bytes = 0;
  std::uint64_t line_no = 0;
  std::uint64_t first_line = 1;
  json ids = json::array();
  int status = exit_ok;
  std::string line;
  while (status != exit_failure && reader.next(line)) {
    ++line_no;
    batch_bytes += line.size();
    batch.push_back({tube, std::move(line), opts});
    if (batch.size() >= max_jobs || batch_bytes >= max_bytes || !input_waiting(STDIN_FILENO)) {
      status = std::max(status, flush_batch(putter, batch, first_line, ctx.json, ids));
      first_line = line_no + 1;
      batch_bytes = 0;
    }
  }
  if (!batch.empty() && status != exit_failure) {
    status = std::max(status, flush_batch(putter, batch, first_line, ctx.json, ids));
  }
  if (ctx.json) print_json(json{{"ids", ids}});
  return status;
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
  if (a.lines) return run_put_lines(ctx, tube, opts, placement);

  // Read all of the body before connecting: a failed read then sends nothing.
  const std::string body = a.body && *a.body != "-" ? *a.body : read_all(STDIN_FILENO, "stdin");
  if (ctx.several()) {
    bulk_putter putter(ctx, placement);
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
      "--lines: every stdin line (without its newline) is one job, sent pipelined; one id is\n"
      "printed per line. With --json: {\"id\":N}, or {\"ids\":[N,...]} with --lines.\n"
      "A job the server buried (BURIED, it ran out of memory) still has its id printed; the\n"
      "exit status is then 1.\n"
      "With several servers, ids are printed ADDR/ID; --json gives {\"id\":N,\"server\":\"ADDR\",\n"
      "\"job\":\"ADDR/ID\"}, or {\"ids\":[\"ADDR/ID\",...]} with --lines. A put whose reply was "
      "lost\n"
      "is never sent again to another server (exit 3, naming the server).");
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
  cmd->add_option("BODY", a->body, "The job's body (default: stdin)")->type_name("");
  cmd->callback([&ctx, a] { ctx.run = [&ctx, a] { return run_put(ctx, *a); }; });
}

}  // namespace beanpole::cli
