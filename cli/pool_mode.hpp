// Several servers given (-a repeated or a comma list): the pool behind the commands, job ids
// written ADDR/ID, and the rules for servers that failed (issue 14's CLI contract).
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <beanpole/client.hpp>
#include <beanpole/pool.hpp>

#include "context.hpp"
#include "errors.hpp"
#include "json_body.hpp"

namespace beanpole::cli {

/// The servers of the context as pool members, each named exactly as given. usage_error for an
/// invalid address or one given twice.
std::vector<pool_server> pool_servers(const context& ctx);

/// Checks the global options before anything is sent: each address with several servers (as
/// `pool_servers`), else as `context::validate`. usage_error.
void validate_servers(const context& ctx);

/// Parses --placement (round-robin or tube). usage_error otherwise.
placement_policy parse_placement(const std::string& text);

/// Connects a blocking pool; throws `command_failure` ("connect to A, B: ...", exit 3) when no
/// server is reachable.
std::unique_ptr<pool> open_pool(const context& ctx,
                                placement_policy placement = placement_policy::round_robin);

/// A job given on the command line: with one server a bare id, with several `ADDR/ID` where ADDR
/// is one of them (usage_error otherwise, before anything is sent).
struct job_ref {
  job_id id;
  std::string server;  ///< empty with one server
};
job_ref parse_job_ref(const context& ctx, const std::string& text);

/// A blocking client connected to the job's server (the context's one server, or ADDR).
client connect_for(const context& ctx, const job_ref& ref);

/// "ADDR/ID" with several servers, else the bare id.
std::string job_text(const job_ref& ref);

/// Runs `f` (a call of the blocking pool); a failure of every server becomes a
/// `command_failure` of `what`, reported like the single-server commands'.
template <class F>
auto pool_call(const std::string& what, F f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::system_error& e) {
    throw command_failure(e.code(), what);
  }
}

/// Names the servers that failed on stderr ("ADDR: message"); returns whether any did.
template <class T>
bool report_failed(const std::vector<server_reply<T>>& replies, const std::string& what);

/// A command sent to every server (kick, pause-tube): after applying it to the others, exit 3
/// naming the servers that failed (throws `plain_failure`).
template <class T>
void fail_if_any_failed(const std::vector<server_reply<T>>& replies, const std::string& what);

}  // namespace beanpole::cli
