// Commands on jobs and tubes by id or name: delete, kick, kick-job, pause-tube and the peeks.
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>

#include <beanpole/error.hpp>

#include "args.hpp"
#include "commands.hpp"
#include "errors.hpp"
#include "io.hpp"
#include "output.hpp"
#include "pool_mode.hpp"

namespace beanpole::cli {
namespace {

struct id_args {
  std::string id;
};

struct kick_args {
  std::string bound;
  std::string tube = "default";
};

struct pause_args {
  std::string tube;
  std::string seconds;
};

struct peek_args {
  std::string id;
  std::string tube = "default";
};

enum class peek_kind { id, ready, delayed, buried };

void use_tube(client& c, const tube_name& tube) {
  if (tube.view() == "default") return;  // every connection starts on it
  std::error_code ec;
  c.use(tube, ec);
  check(ec, "use " + tube.str());
}

/// The global options, checked before anything is sent (with several servers, each address).
void validate(const context& ctx) {
  if (ctx.several()) {
    (void)pool_servers(ctx);
    (void)ctx.connection();
  } else {
    ctx.validate();
  }
}

/// `{"id":N, ...}`, plus `"server":"ADDR"` for a job of a pool.
json with_server(json obj, const job_ref& ref) {
  if (!ref.server.empty()) obj["server"] = ref.server;
  return obj;
}

int run_delete(const context& ctx, const id_args& a) {
  const job_ref ref = parse_job_ref(ctx, a.id);
  const job_id id = ref.id;
  validate(ctx);
  client c = connect_for(ctx, ref);
  std::error_code ec;
  c.remove(id, ec);
  check(ec, "delete " + job_text(ref));
  if (ctx.json) print_json(with_server(json{{"id", id.value}, {"deleted", true}}, ref));
  return exit_ok;
}

int run_kick_pool(const context& ctx, const tube_name& tube, std::uint32_t bound) {
  auto p = open_pool(ctx);
  const auto replies = pool_call("kick", [&] { return p->kick(tube, bound); });
  std::uint64_t total = 0;
  json servers = json::object();
  for (const auto& r : replies) {
    total += r.value;
    if (r.error) {
      servers[r.server] = json{{"error", describe(r.error, "kick")}};
    } else {
      servers[r.server] = r.value;
    }
  }
  if (ctx.json) {
    print_json(json{{"tube", tube.str()}, {"kicked", total}, {"servers", servers}});
  } else {
    print_line(std::to_string(total));
  }
  fail_if_any_failed(replies, fmt::format("kick {}", bound));
  return exit_ok;
}

int run_kick(const context& ctx, const kick_args& a) {
  const std::uint32_t bound = parse_u32(a.bound, "bound");
  const tube_name tube = parse_tube(a.tube);
  validate(ctx);
  if (ctx.several()) return run_kick_pool(ctx, tube, bound);
  client c = ctx.connect();
  use_tube(c, tube);
  std::error_code ec;
  const std::uint64_t kicked = c.kick(bound, ec);
  check(ec, fmt::format("kick {}", bound));
  if (ctx.json) {
    print_json(json{{"tube", tube.str()}, {"kicked", kicked}});
  } else {
    print_line(std::to_string(kicked));
  }
  return exit_ok;
}

int run_kick_job(const context& ctx, const id_args& a) {
  const job_ref ref = parse_job_ref(ctx, a.id);
  const job_id id = ref.id;
  validate(ctx);
  client c = connect_for(ctx, ref);
  std::error_code ec;
  c.kick_job(id, ec);
  check(ec, "kick-job " + job_text(ref));
  if (ctx.json) print_json(with_server(json{{"id", id.value}, {"kicked", true}}, ref));
  return exit_ok;
}

int run_pause(const context& ctx, const pause_args& a) {
  const tube_name tube = parse_tube(a.tube);
  const std::uint32_t seconds = parse_u32(a.seconds, "seconds");
  validate(ctx);
  if (ctx.several()) {
    auto p = open_pool(ctx);
    const auto replies = pool_call("pause-tube " + tube.str(), [&] {
      return p->pause_tube(tube, std::chrono::seconds(seconds));
    });
    if (ctx.json) print_json(json{{"tube", tube.str()}, {"paused", seconds}});
    // A server where the tube does not exist answers NOT_FOUND: not a failure while another
    // server paused it (if none did, the pool call above failed with NOT_FOUND: exit 1).
    std::vector<server_reply<bool>> failed;
    for (const auto& r : replies) {
      if (r.error != errc::not_found) failed.push_back(r);
    }
    fail_if_any_failed(failed, fmt::format("pause-tube {}", tube.str()));
    return exit_ok;
  }
  client c = ctx.connect();
  std::error_code ec;
  c.pause_tube(tube, std::chrono::seconds(seconds), ec);
  check(ec, fmt::format("pause-tube {}", tube.str()));
  if (ctx.json) print_json(json{{"tube", tube.str()}, {"paused", seconds}});
  return exit_ok;
}

/// peek-ready, -delayed, -buried on every server: the first job found, in the order the
/// servers were given; NOT_FOUND when no server has one.
int run_peek_pool(const context& ctx, const tube_name& tube, peek_kind kind) {
  const auto state = kind == peek_kind::ready     ? proto::job_state::ready
                     : kind == peek_kind::delayed ? proto::job_state::delayed
                                                  : proto::job_state::buried;
  const char* name = kind == peek_kind::ready     ? "peek-ready"
                     : kind == peek_kind::delayed ? "peek-delayed"
                                                  : "peek-buried";
  const std::string what = fmt::format("{} in {}", name, tube.str());
  auto p = open_pool(ctx);
  const auto replies = pool_call(what, [&] { return p->peek_state(tube, state); });
  report_failed(replies, what);
  for (const auto& r : replies) {
    if (r.error || !r.value) continue;
    if (ctx.json) {
      json obj = job_json(r.value->id, {}, r.value->body);
      obj["server"] = r.server;
      print_json(obj);
    } else {
      write_stdout(r.value->body);
    }
    return exit_ok;
  }
  check(make_error_code(errc::not_found), what);
  return exit_ok;
}

int run_peek(const context& ctx, const peek_args& a, peek_kind kind) {
  std::optional<job_id> id;
  job_ref ref{};
  if (kind == peek_kind::id) {
    ref = parse_job_ref(ctx, a.id);
    id = ref.id;
  }
  const tube_name tube = parse_tube(a.tube);
  validate(ctx);
  if (ctx.several() && kind != peek_kind::id) return run_peek_pool(ctx, tube, kind);
  client c = connect_for(ctx, ref);
  std::error_code ec;
  std::optional<job> found;
  std::string what;
  switch (kind) {
    case peek_kind::id:
      found = c.peek(*id, ec);
      what = "peek " + job_text(ref);
      break;
    case peek_kind::ready:
      use_tube(c, tube);
      found = c.peek_ready(ec);
      what = "peek-ready in " + tube.str();
      break;
    case peek_kind::delayed:
      use_tube(c, tube);
      found = c.peek_delayed(ec);
      what = "peek-delayed in " + tube.str();
      break;
    case peek_kind::buried:
      use_tube(c, tube);
      found = c.peek_buried(ec);
      what = "peek-buried in " + tube.str();
      break;
  }
  check(ec, what);
  // Nothing there is a value for the library, but NOT_FOUND for a command that must print one.
  if (!found) check(make_error_code(errc::not_found), what);
  if (ctx.json) {
    print_json(with_server(job_json(found->id, {}, found->body), ref));
  } else {
    write_stdout(found->body);
  }
  return exit_ok;
}

}  // namespace

void add_job_commands(CLI::App& app, context& ctx) {
  {
    auto a = std::make_shared<id_args>();
    auto* cmd = app.add_subcommand("delete", "Delete a job (ready, delayed or buried)");
    cmd->group(group_jobs);
    cmd->footer("Prints nothing; with --json: {\"id\":N,\"deleted\":true}.");
    cmd->add_option("ID", a->id, "The job's id")->type_name("")->required();
    cmd->callback([&ctx, a] { ctx.run = [&ctx, a] { return run_delete(ctx, *a); }; });
  }
  {
    auto a = std::make_shared<kick_args>();
    auto* cmd = app.add_subcommand("kick", "Kick up to BOUND buried (else delayed) jobs to ready");
    cmd->group(group_jobs);
    cmd->footer(
        "If the tube has buried jobs, only buried ones are kicked; otherwise delayed ones.\n"
        "Prints how many were kicked; with --json: {\"tube\":\"...\",\"kicked\":N}.");
    cmd->add_option("BOUND", a->bound, "Most jobs to kick")->type_name("")->required();
    cmd->add_option("-t,--tube", a->tube, "Tube to kick in")
        ->type_name("TUBE")
        ->capture_default_str();
    cmd->callback([&ctx, a] { ctx.run = [&ctx, a] { return run_kick(ctx, *a); }; });
  }
  {
    auto a = std::make_shared<id_args>();
    auto* cmd = app.add_subcommand("kick-job", "Kick one buried or delayed job to ready");
    cmd->group(group_jobs);
    cmd->footer("Prints nothing; with --json: {\"id\":N,\"kicked\":true}.");
    cmd->add_option("ID", a->id, "The job's id")->type_name("")->required();
    cmd->callback([&ctx, a] { ctx.run = [&ctx, a] { return run_kick_job(ctx, *a); }; });
  }
  {
    auto a = std::make_shared<pause_args>();
    auto* cmd = app.add_subcommand("pause-tube", "Hold back reserves from a tube for SECONDS");
    cmd->group(group_jobs);
    cmd->footer(
        "No job is reserved from TUBE for SECONDS (0 ends a pause). Prints nothing; with "
        "--json:\n{\"tube\":\"...\",\"paused\":SECONDS}.");
    cmd->add_option("TUBE", a->tube, "The tube")->type_name("")->required();
    cmd->add_option("SECONDS", a->seconds, "How long")->type_name("")->required();
    cmd->callback([&ctx, a] { ctx.run = [&ctx, a] { return run_pause(ctx, *a); }; });
  }
  {
    auto a = std::make_shared<peek_args>();
    auto* cmd = app.add_subcommand("peek", "Print a job's body, by id");
    cmd->group(group_inspect);
    cmd->footer(
        "Prints the body byte for byte; with --json: {\"id\":N,\"body\":\"...\"}, or\n"
        "\"body_base64\" when the body is not valid UTF-8. NOT_FOUND (exit 1) if no such job.");
    cmd->add_option("ID", a->id, "The job's id")->type_name("")->required();
    cmd->callback([&ctx, a] { ctx.run = [&ctx, a] { return run_peek(ctx, *a, peek_kind::id); }; });
  }
  const struct {
    const char* name;
    const char* help;
    peek_kind kind;
  } peeks[] = {
      {"peek-ready", "Print the next ready job of a tube", peek_kind::ready},
      {"peek-delayed", "Print the delayed job of a tube that is due first", peek_kind::delayed},
      {"peek-buried", "Print the next buried job of a tube", peek_kind::buried},
  };
  for (const auto& p : peeks) {
    auto a = std::make_shared<peek_args>();
    auto* cmd = app.add_subcommand(p.name, p.help);
    cmd->group(group_inspect);
    cmd->footer(
        "Prints the body byte for byte; with --json: {\"id\":N,\"body\":\"...\"}, or\n"
        "\"body_base64\" when the body is not valid UTF-8. NOT_FOUND (exit 1) if there is "
        "none.");
    cmd->add_option("-t,--tube", a->tube, "Tube to look in")
        ->type_name("TUBE")
        ->capture_default_str();
    const peek_kind kind = p.kind;
    cmd->callback(
        [&ctx, a, kind] { ctx.run = [&ctx, a, kind] { return run_peek(ctx, *a, kind); }; });
  }
}

}  // namespace beanpole::cli
