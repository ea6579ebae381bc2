// Putting many jobs at once, for `put --lines` and `import`. One small function, so that the
// blocking loop behind it can become a pipelined one without touching its callers.
#pragma once

#include <span>
#include <string>
#include <system_error>
#include <vector>

#include <beanpole/client.hpp>
#include <beanpole/options.hpp>
#include <beanpole/types.hpp>

namespace beanpole::cli {

/// A job to put: its tube, body and options.
struct bulk_job {
  tube_name tube;
  std::string body;
  put_options opts;
};

/// What became of one job: its id, or the error it got. A server answer (JOB_TOO_BIG,
/// DRAINING, ...) concerns that job alone; `errc::buried` comes with an id (the job exists,
/// buried). After a connection failure every later job gets `errc::not_connected` (not sent).
struct bulk_result {
  job_id id;
  std::error_code ec;
};

/// Puts `jobs` in order, each into its own tube, and returns one result per job in the same
/// order. The caller need not know which tube `c` uses; the function changes it as needed.
std::vector<bulk_result> bulk_put(client& c, std::span<const bulk_job> jobs);

}  // namespace beanpole::cli
