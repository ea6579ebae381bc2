#include "bulk_put.hpp"

#include <optional>

#include <beanpole/error.hpp>

namespace beanpole::cli {

// pipelined via async_client: pending
//
// Until then this is the blocking client, one round trip per command. The pipelined version
// keeps the same contract: write `use` (when the tube changes) and `put` commands for the whole
// batch, then read the replies in order; results map one to one onto `jobs`.
std::vector<bulk_result> bulk_put(client& c, std::span<const bulk_job> jobs) {
  std::vector<bulk_result> results;
  results.reserve(jobs.size());
  std::optional<tube_name> used;  // the batch starts with a `use`: the caller's state is unknown
  std::error_code broken;         // a connection failure: nothing more is sent
  for (const bulk_job& j : jobs) {
    if (broken) {
      results.push_back({{}, make_error_code(errc::not_connected)});
      continue;
    }
    bulk_result r;
    if (!used || *used != j.tube) {
      c.use(j.tube, r.ec);
      if (!r.ec) used = j.tube;
    }
    if (!r.ec) r.id = c.put(j.body, j.opts, r.ec);
    if (r.ec && r.ec != condition::server_answer) broken = r.ec;
    results.push_back(r);
  }
  return results;
}

}  // namespace beanpole::cli
