// Putting many jobs at once, pipelined, for `put --lines` and `import`.
#pragma once

#include <asio/io_context.hpp>
#include <chrono>
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
  /// Bury the job once it is put (import of a buried job): it is put parked (delayed by
  /// `parking_delay`, out of every worker's reach), reserved by id and buried with `opts.pri`.
  bool bury = false;
};

/// How long a job to be buried stays delayed between its put and its bury.
inline constexpr std::chrono::seconds parking_delay{3600};

/// What became of one job: its id, or the error it got. A server answer (JOB_TOO_BIG,
/// DRAINING, ...) concerns that job alone; `errc::buried` comes with an id (the job exists,
/// buried). When the connection drops, a put already written gets `errc::outcome_unknown` (it may
/// exist); a put never written gets another connection error (`errc::not_connected`, the
/// connect error, ...): it was not put.
struct bulk_result {
  job_id id;
  std::error_code ec;
  std::string server;  ///< with several servers: the one that took (or may hold) the job
  /// For a job to bury whose put succeeded: why reserving it by id or burying it failed (the
  /// job then stays parked, delayed); empty when it was buried.
  std::error_code bury_ec;
};

/// The three ways a put can end for the one who reads its result.
enum class put_outcome {
  acknowledged,  ///< the server answered with an id (also BURIED: the job exists)
  refused,       ///< the server (or the client's validation) refused it: not put
  unknown,       ///< written, but the reply was lost: the job may exist
  not_sent,      ///< never written: not put, safe to send again
};
/// Which of the four `r` is.
put_outcome outcome_of(const bulk_result& r) noexcept;
/// How a job's id is printed: `ADDR/ID` when it came from a pool of servers, else `ID`.
std::string id_text(const bulk_result& r);

/// One async client of its own, driven from the calling thread: every batch goes out pipelined
/// (commands written together, replies matched in order) and `put` returns when every job of the
/// batch has its answer.
class bulk_putter {
 public:
  /// Connects with the global options; throws `command_failure` ("connect to ...") on failure.
  /// With `retries` > 0, a lost connection is re-established, up to `retries` attempts in a
  /// row and for no longer than --timeout (when not zero), with the client's backoff; a put
  /// that was never written waits for the new connection (within --timeout). With several
  /// servers, puts go through a pool with `placement` (jobs to bury are not supported there).
  /// `command` names the command in the messages about the connection ("import: reconnected").
  explicit bulk_putter(const context& ctx, unsigned retries = 0,
                       placement_policy placement = placement_policy::round_robin,
                       std::string command = "put");

  /// Puts `jobs` in order, each into its own tube, and returns one result per job, in order.
  /// If the connection dropped meanwhile, returns once it is back or given up.
  std::vector<bulk_result> put(std::span<const bulk_job> jobs);

  /// Like `put`, but a job never written (`put_outcome::not_sent`) is sent again once the
  /// connection is back, for as long as it can come back (up to `retries` rounds); a job whose
  /// outcome is unknown never is (it may exist). What is still not sent at the end stays so.
  std::vector<bulk_result> put_resending(std::span<const bulk_job> jobs);

  /// Whether the connection is gone for good (reconnecting gave up, or is off): nothing more
  /// can be sent.
  bool down_for_good() const noexcept { return down_for_good_; }

 private:
  /// Runs the I/O until `done` reaches `count`.
  void run_until(const std::size_t& done, std::size_t count);
  void on_event(const client_event& e);

  std::string command_;
  unsigned retries_ = 0;
  bool reconnect_ = false;
  bool down_ = false;  ///< the connection dropped and is not back yet
  bool down_for_good_ = false;
  asio::io_context io_{1};
  std::unique_ptr<async_client> client_;  // one server
  std::unique_ptr<async_pool> pool_;      // several
};

}  // namespace beanpole::cli
