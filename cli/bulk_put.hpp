// Putting many jobs at once, pipelined, for `put --lines` and `import`.
#pragma once

#include <asio/io_context.hpp>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include <beanpole/async_client.hpp>
#include <beanpole/options.hpp>
#include <beanpole/pool.hpp>
#include <beanpole/types.hpp>
#include <memory>

namespace beanpole::cli {

struct context;

/// A job to put: its tube, body and options.
struct bulk_job {
  tube_name tube;
  std::string body;
  put_options opts;
};

/// What became of one job: its id, or the error it got. A server answer (JOB_TOO_BIG,
/// DRAINING, ...) concerns that job alone; `errc::buried` comes with an id (the job exists,
/// buried). When the connection drops, a put already written gets `errc::outcome_unknown` (it may
/// exist) and the rest `errc::not_connected` or `errc::connection_lost` (not put).
struct bulk_result {
  job_id id;
  std::error_code ec;
  std::string server;  ///< with several servers: the one that took (or may hold) the job
};

/// One async client of its own, driven from the calling thread: every batch goes out pipelined
/// (commands written together, replies matched in order) and `put` returns when every job of the
/// batch has its answer.
class bulk_putter {
 public:
  /// Connects with the global options; throws `command_failure` ("connect to ...") on failure.
  /// With several servers, puts go through a pool with `placement`.
  explicit bulk_putter(const context& ctx,
                       placement_policy placement = placement_policy::round_robin);

  /// Puts `jobs` in order, each into its own tube, and returns one result per job, in order.
  std::vector<bulk_result> put(std::span<const bulk_job> jobs);

 private:
  /// Runs the I/O until `done` reaches `count`.
  void run_until(const std::size_t& done, std::size_t count);

  asio::io_context io_{1};
  std::unique_ptr<async_client> client_;  // one server
  std::unique_ptr<async_pool> pool_;      // several
};

}  // namespace beanpole::cli
