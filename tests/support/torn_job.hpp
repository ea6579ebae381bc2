// A job as beanstalkd 1.12 replays one that a SIGKILL tore: made for real, by tearing a job in
// the server's binlog and restarting the server on it. What the server then sends for that job
// (RESERVED or FOUND with the announced length, then that many zero bytes and two more, none of
// them the closing CRLF) is what it sends after a real crash; no scripted server can imitate it
// more faithfully, and every other command on the job (bury, delete, stats-job) is the server's.
#pragma once

#include <string_view>

#include "beanstalkd_server.hpp"

namespace beanpole::testing {

/// Kills `server` (SIGKILL, like a crash), overwrites the body `body` of a job it logged, and the
/// CRLF after it, with zeros in its binlog, and restarts it on the same address and binlog. The
/// server must run with a binlog (`server_options::with_binlog`) and `body` must occur once in
/// it. Throws `std::runtime_error` when it cannot.
void tear_job_body(beanstalkd_server& server, std::string_view body);

}  // namespace beanpole::testing
