#include "admin_pool.hpp"

#include <fmt/format.h>

#include <beanpole/error.hpp>

#include "errors.hpp"
#include "pool_mode.hpp"

namespace beanpole::cli {
namespace {

std::uint64_t count_of(const move_result& r) {
  return r.moved;
}
std::uint64_t count_of(const flush_result& r) {
  return r.deleted;
}

/// Runs `op(client, remaining_limit, done_before)` on each server while the limit and stop
/// requests allow; a server that cannot be reached gets the connect error as its result's `ec`.
template <class Part, class Options, class Op>
std::vector<Part> on_each(const context& ctx, const Options& opts, Op op) {
  std::vector<Part> parts;
  std::uint64_t done = 0;
  bool stop = false;
  for (const auto& server : ctx.addresses()) {
    Part part;
    part.server = server;
    const bool limit_left = !opts.limit || done < *opts.limit;
    if (!stop && limit_left) {
      part.asked = true;
      try {
        client c = connect_for(ctx, job_ref{{}, server});
        part.connected = true;
        Options mine = opts;
        if (opts.limit) mine.limit = *opts.limit - done;
        part.result = op(c, mine, done);
      } catch (const command_failure& e) {
        part.result.ec = e.ec;
      }
      stop = part.result.stopped;
    }
    parts.push_back(std::move(part));
    done += count_of(parts.back().result);
  }
  return parts;
}

}  // namespace

std::vector<server_move> move_on_each(const context& ctx, const tube_name& from,
                                      const tube_name& to, const move_options& opts) {
  return on_each<server_move>(ctx, opts, [&](client& c, move_options mine, std::uint64_t before) {
    if (opts.on_progress) {
      mine.on_progress = [&opts, before](const move_progress& p) {
        move_progress total = p;
        total.moved += before;
        opts.on_progress(total);
      };
    }
    return move_jobs(c, from, to, mine);
  });
}

std::vector<server_flush> flush_on_each(const context& ctx, const tube_name& tube,
                                        const flush_options& opts) {
  return on_each<server_flush>(ctx, opts, [&](client& c, flush_options mine, std::uint64_t before) {
    if (opts.on_progress) {
      mine.on_progress = [&opts, before](const flush_progress& p) {
        flush_progress total = p;
        total.deleted += before;
        opts.on_progress(total);
      };
    }
    return flush_tube(c, tube, mine);
  });
}

std::string failure_of(const server_move& part, const tube_name& from, const tube_name& to) {
  if (!part.connected) return describe(part.result.ec, "move: cannot connect to " + part.server);
  return move_failure(part.result, from, to, part.server);
}

std::string failure_of(const server_flush& part, const tube_name& tube) {
  if (!part.connected) return describe(part.result.ec, "flush: cannot connect to " + part.server);
  return describe(part.result.ec, fmt::format("flush {} on {} stopped after {} jobs", tube.str(),
                                              part.server, part.result.deleted));
}

std::string move_failure(const move_result& r, const tube_name& from, const tube_name& to,
                         const std::string& server) {
  const std::string after = server.empty()
                                ? fmt::format("move stopped after {} jobs", r.moved)
                                : fmt::format("move on {} stopped after {} jobs", server, r.moved);
  if (!r.source) return describe(r.ec, after);
  const std::string prefix = server.empty() ? "" : server + "/";
  const std::string src = prefix + std::to_string(r.source->value);
  if (r.ec == errc::outcome_unknown) {
    return fmt::format(
        "{}: the put of job {}'s copy into {} was sent but its reply was lost: source job {} is "
        "still in {}, copy job unknown (it may exist in {}{}: check for a duplicate)",
        after, src, to.str(), src, from.str(), to.str(), server.empty() ? "" : " on " + server);
  }
  if (r.duplicate && r.copy) {
    return describe(r.ec,
                    fmt::format("{}: job {} is in both tubes: source job {} in {}, copy "
                                "job {}{} in {}",
                                after, src, src, from.str(), prefix, r.copy->value, to.str()));
  }
  return describe(
      r.ec, fmt::format("{}: job {} was not copied and is still in {}", after, src, from.str()));
}

}  // namespace beanpole::cli
