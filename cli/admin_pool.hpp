// move and flush on several servers: the library's admin operations run on each server in turn
// (a job's copy stays on its server), their results kept per server so that a server that failed
// is named while the others are still done. The CLI and the console both use these.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <beanpole/admin/jobs.hpp>

#include "context.hpp"

namespace beanpole::cli {

/// One server's part of a move on several servers. A server that could not be reached has
/// `result.ec` set and no `result.source`; one not asked (the limit or a stop came first) has
/// `asked` false.
struct server_move {
  std::string server;  ///< as given with -a
  bool asked = false;
  bool connected = false;  ///< false with `result.ec` set: the connect failed
  move_result result;
};

/// `move_jobs` on each server of the context, one after another. `opts.limit` is a total over
/// the servers; `opts.on_progress` sees the running total. A stop request ends the whole move.
std::vector<server_move> move_on_each(const context& ctx, const tube_name& from,
                                      const tube_name& to, const move_options& opts);

/// One server's part of a flush on several servers (as `server_move`).
struct server_flush {
  std::string server;
  bool asked = false;
  bool connected = false;
  flush_result result;
};

/// `flush_tube` on each server of the context (as `move_on_each`).
std::vector<server_flush> flush_on_each(const context& ctx, const tube_name& tube,
                                        const flush_options& opts);

/// Why this server's part failed (its `result.ec` is set), naming the server and any job as
/// `ADDR/ID`.
std::string failure_of(const server_move& part, const tube_name& from, const tube_name& to);
std::string failure_of(const server_flush& part, const tube_name& tube);

/// Why a move stopped (`r.ec` set), naming the jobs in hand: as `ADDR/ID` when `server` is
/// given (several servers), as bare ids when it is empty (one server). The CLI prints it; the
/// console shows it.
std::string move_failure(const move_result& r, const tube_name& from, const tube_name& to,
                         const std::string& server);

}  // namespace beanpole::cli
