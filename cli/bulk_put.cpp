#include "bulk_put.hpp"

#include <beanpole/error.hpp>

#include "context.hpp"
#include "errors.hpp"
#include "pool_mode.hpp"

namespace beanpole::cli {
namespace {

async_client_options options_of(const context& ctx, unsigned retries) {
  async_client_options o;
  static_cast<connection_options&>(o) = ctx.connection();
  if (retries > 0) {
    o.reconnect.enabled = true;
    o.reconnect.max_attempts = retries;
    o.reconnect.give_up_after = o.reply_timeout;  // zero (no --timeout): only the attempts
  }
  return o;
}

}  // namespace

put_outcome outcome_of(const bulk_result& r) noexcept {
  if (!r.ec || r.ec == errc::buried) return put_outcome::acknowledged;
  if (r.ec == errc::outcome_unknown) return put_outcome::unknown;
  if (r.ec == condition::server_answer || r.ec == condition::local_misuse) {
    return put_outcome::refused;
  }
  // Any other connection failure of a put means it was never written (the client reports a
  // written put whose reply was lost as outcome_unknown, never otherwise).
  return put_outcome::not_sent;
}

std::string id_text(const bulk_result& r) {
  if (r.server.empty()) return std::to_string(r.id.value);
  return r.server + "/" + std::to_string(r.id.value);
}

bulk_putter::bulk_putter(const context& ctx, unsigned retries, placement_policy placement,
                         std::string command)
    : command_(std::move(command)), retries_(retries), reconnect_(retries > 0) {
  std::error_code ec;
  std::size_t done = 0;
  auto on_connect = [&](std::error_code e) {
    ec = e;
    ++done;
  };
  if (ctx.several()) {
    pool_options o;
    o.placement = placement;
    o.client = options_of(ctx, 0);  // the pool keeps its servers connected itself
    pool_ = std::make_unique<async_pool>(io_.get_executor(), pool_servers(ctx), std::move(o));
    pool_->async_connect(on_connect);
    run_until(done, 1);
    std::string names;
    for (const auto& s : ctx.addresses()) names += (names.empty() ? "" : ", ") + s;
    check(ec, "connect to " + names);
    return;
  }
  auto options = options_of(ctx, retries);
  options.on_event = [this](const client_event& e) { on_event(e); };
  client_ = std::make_unique<async_client>(io_.get_executor(), ctx.server(), std::move(options));
  client_->async_connect(on_connect);
  run_until(done, 1);
  check(ec, "connect to " + ctx.server().to_string());
}

void bulk_putter::on_event(const client_event& e) {
  // On the client's strand, which runs on the calling thread inside run_until.
  using kind = client_event::kind;
  if (e.what == kind::gave_up || (e.what == kind::disconnected && !reconnect_)) {
    down_for_good_ = true;
  } else if (e.what == kind::disconnected) {
    down_ = true;
    print_error(command_ + ": connection lost (" + e.error.message() + "); reconnecting");
  } else if (e.what == kind::reconnected) {
    down_ = false;
    print_error(command_ + ": reconnected");
  }
}

void bulk_putter::run_until(const std::size_t& done, std::size_t count) {
  // The client keeps a read outstanding, so the loop never runs out of work: run it one
  // handler at a time until the batch is answered.
  io_.restart();
  while (done < count && io_.run_one() > 0) {
  }
}

std::vector<bulk_result> bulk_putter::put(std::span<const bulk_job> jobs) {
  std::vector<bulk_result> results(jobs.size());
  std::size_t done = 0;
  if (pool_) {
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      pool_->async_put(jobs[i].tube, jobs[i].body, jobs[i].opts,
                       [&, i](std::error_code ec, pool_job_id id) {
                         results[i].id = id.id;
                         results[i].ec = ec;
                         results[i].server = std::move(id.server);
                         ++done;
                       });
    }
    run_until(done, jobs.size());
    return results;
  }
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    const bulk_job& j = jobs[i];
    // The client sends `use` only when the tube changes, in order with the puts.
    client_->async_use(j.tube, [](std::error_code) {});
    put_options opts = j.opts;
    if (j.bury) opts.delay = parking_delay;
    client_->async_put(
        j.body, opts, [&, i, bury = j.bury, pri = j.opts.pri](std::error_code ec, job_id id) {
          results[i].id = id;
          results[i].ec = ec;
          if (ec || !bury) {
            ++done;
            return;
          }
          // Parked: no worker can take it between here and its bury.
          client_->async_reserve_job(id, [&, i, id, pri](std::error_code rec, auto held) {
            if (!rec && !held) rec = make_error_code(errc::not_found);
            if (rec) {
              results[i].bury_ec = rec;
              ++done;
              return;
            }
            client_->async_bury(id, pri, [&, i](std::error_code bec) {
              results[i].bury_ec = bec;
              ++done;
            });
          });
        });
  }
  run_until(done, jobs.size());
  // The connection dropped meanwhile: wait until it is back or given up (within the client's
  // reconnect bounds), so that the caller knows which before it reads more input.
  io_.restart();
  while (down_ && !down_for_good_ && io_.run_one() > 0) {
  }
  return results;
}

std::vector<bulk_result> bulk_putter::put_resending(std::span<const bulk_job> jobs) {
  std::vector<bulk_result> settled(jobs.size());
  std::vector<std::size_t> todo(jobs.size());
  for (std::size_t i = 0; i < todo.size(); ++i) todo[i] = i;
  for (unsigned round = 0; !todo.empty(); ++round) {
    std::vector<bulk_job> batch;
    batch.reserve(todo.size());
    for (const std::size_t i : todo) batch.push_back(jobs[i]);
    const auto results = put(batch);
    std::vector<std::size_t> again;
    for (std::size_t k = 0; k < results.size(); ++k) {
      settled[todo[k]] = results[k];
      if (outcome_of(results[k]) == put_outcome::not_sent) again.push_back(todo[k]);
    }
    if (down_for_good_ || round >= retries_) break;
    todo = std::move(again);
  }
  return settled;
}

}  // namespace beanpole::cli
