#include "bulk_put.hpp"

#include "context.hpp"
#include "errors.hpp"
#include "pool_mode.hpp"

namespace beanpole::cli {
namespace {

async_client_options options_of(const context& ctx) {
  async_client_options o;
  static_cast<connection_options&>(o) = ctx.connection();
  return o;
}

}  // namespace

bulk_putter::bulk_putter(const context& ctx, placement_policy placement) {
  std::error_code ec;
  std::size_t done = 0;
  auto on_connect = [&](std::error_code e) {
    ec = e;
    ++done;
  };
  if (ctx.several()) {
    pool_options o;
    o.placement = placement;
    o.client = options_of(ctx);
    pool_ = std::make_unique<async_pool>(io_.get_executor(), pool_servers(ctx), std::move(o));
    pool_->async_connect(on_connect);
    run_until(done, 1);
    std::string names;
    for (const auto& s : ctx.addresses()) names += (names.empty() ? "" : ", ") + s;
    check(ec, "connect to " + names);
    return;
  }
  client_ = std::make_unique<async_client>(io_.get_executor(), ctx.server(), options_of(ctx));
  client_->async_connect(on_connect);
  run_until(done, 1);
  check(ec, "connect to " + ctx.server().to_string());
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
                         results[i] = bulk_result{id.id, ec, std::move(id.server)};
                         ++done;
                       });
    }
    run_until(done, jobs.size());
    return results;
  }
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    // The client sends `use` only when the tube changes, in order with the puts.
    client_->async_use(jobs[i].tube, [](std::error_code) {});
    client_->async_put(jobs[i].body, jobs[i].opts, [&, i](std::error_code ec, job_id id) {
      results[i] = bulk_result{id, ec, {}};
      ++done;
    });
  }
  run_until(done, jobs.size());
  return results;
}

}  // namespace beanpole::cli
