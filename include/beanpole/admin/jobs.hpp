// Bulk operations the protocol lacks, built on the blocking client: moving jobs from one tube to
// another, and emptying a tube. The CLI (`beanpole move`, `beanpole flush`) and the web console
// call these, so that they never disagree.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <system_error>
#include <vector>

#include "beanpole/client.hpp"
#include "beanpole/proto/commands.hpp"
#include "beanpole/types.hpp"

namespace beanpole {

/// The states of a job that the admin operations act on: `proto::job_state` (ready, delayed,
/// buried). Reserved jobs belong to their worker and are never touched.
using job_state = proto::job_state;

/// The state's name as the server writes it ("ready", "delayed", "buried").
std::string_view to_string(job_state s) noexcept;
/// Reads "ready", "delayed" or "buried"; empty for anything else.
std::optional<job_state> parse_job_state(std::string_view text) noexcept;

/// One job moved, as `move_options::on_progress` sees it.
struct move_progress {
  std::uint64_t moved = 0;  ///< Jobs moved so far, this one included.
  job_id source;            ///< The job's id in the source tube (now deleted).
  job_id copy;              ///< The id of its copy in the destination tube.
};

/// How `move_jobs` runs.
struct move_options {
  /// Which jobs of the source tube are moved. Default: ready.
  job_state state = job_state::ready;
  /// At most this many jobs. Empty (the default): until the source has none left in `state`.
  std::optional<std::uint64_t> limit;
  /// Called after each job moved (its copy acknowledged, the source deleted). May be empty.
  std::function<void(const move_progress&)> on_progress;
  /// Asked before each job; returning true stops the move there (no job is in hand then).
  /// May be empty (never stops).
  std::function<bool()> stop_requested;
};

/// What `move_jobs` did. When it stopped on an error, `ec` says why and `source` / `copy` name
/// the job that was in hand, so that nothing is lost track of:
///
/// - `ec == errc::outcome_unknown`: the copy's put was written but its reply was lost. `source`
///   is set, `copy` is empty: the copy may or may not exist. The source job is still in its tube
///   (the server released it when the connection closed; a delayed or buried job comes back
///   ready).
/// - `duplicate`: the copy exists (`copy` is set) but the source could not be deleted, or the
///   copy of a buried job could not be buried (it stays delayed for up to an hour, or ready),
///   or the server buried the copy on its own (`ec == errc::buried`): the job is in both tubes.
/// - any other error with `source` set: the copy was not made and the source job was put back
///   as it was (same state, priority and remaining delay) when the connection allowed it.
/// - `source` empty: the error came before any job was taken.
struct move_result {
  std::uint64_t moved = 0;       ///< Jobs moved (copy acknowledged, source deleted).
  bool stopped = false;          ///< `stop_requested` answered true.
  std::error_code ec;            ///< The error that ended the move; empty when it finished.
  std::optional<job_id> source;  ///< The job in hand when `ec` was set.
  std::optional<job_id> copy;    ///< Its copy, when the server acknowledged it.
  bool duplicate = false;        ///< The job is in both tubes (see above).
};

/// Moves jobs of `opts.state` from tube `from` to tube `to`, one at a time, keeping body,
/// priority and time to run; a delayed job keeps its remaining delay (from `stats-job`'s
/// `time-left`). Each job goes through these steps, each checked before the next:
///
/// 1. `peek-<state>` in `from` and `stats-job` (priority, TTR, time left);
/// 2. `reserve-job` (beanstalkd 1.12+): no other worker can take the job mid-move;
/// 3. `put` of the copy into `to`; the copy of a buried job is put with a delay of an hour (no
///    worker can take it), then reserved by id and buried with the source's priority;
/// 4. `delete` of the source, only once the copy was acknowledged (and buried).
///
/// An interruption at any step leaves the job in at least one tube, never in neither: before
/// step 4 the source is still there (a lost connection makes the server release it), after it
/// the copy is. At worst, a job is in both tubes, and the result says which (see
/// `move_result`). The client's used tube changes; its watch list does not.
///
/// `from == to` is refused with `errc::value_out_of_range` (it would never end).
/// Errors are values (see `move_result`): the partial progress is part of the answer.
///
/// Thread safety: uses `c` for the whole call; other threads may use `c` in between, but should
/// not change its used tube.
move_result move_jobs(client& c, const tube_name& from, const tube_name& to,
                      const move_options& opts = {});

/// One job deleted, as `flush_options::on_progress` sees it.
struct flush_progress {
  std::uint64_t deleted = 0;  ///< Jobs deleted so far, this one included.
  job_id id;                  ///< The job just deleted.
  job_state state;            ///< The state it was in.
};

/// How `flush_tube` runs.
struct flush_options {
  /// The states to empty, in this order. Empty (the default): buried, delayed, ready, that is
  /// every job that no worker holds.
  std::vector<job_state> states;
  /// At most this many jobs in all. Empty (the default): until none is left.
  std::optional<std::uint64_t> limit;
  /// Called after each job deleted. May be empty.
  std::function<void(const flush_progress&)> on_progress;
  /// Asked before each job; returning true stops there. May be empty (never stops).
  std::function<bool()> stop_requested;
};

/// What `flush_tube` did.
struct flush_result {
  std::uint64_t deleted = 0;  ///< Jobs deleted.
  bool stopped = false;       ///< `stop_requested` answered true.
  std::error_code ec;         ///< The error that ended the flush; empty when it finished.
};

/// Deletes the jobs of `tube` that are in one of `opts.states` (`peek-<state>` then `delete`,
/// job by job). Jobs reserved by workers are left alone; a job that a worker reserves between the
/// peek and the delete is skipped. The client's used tube changes. Errors are values.
///
/// Thread safety: as `move_jobs`.
flush_result flush_tube(client& c, const tube_name& tube, const flush_options& opts = {});

}  // namespace beanpole
