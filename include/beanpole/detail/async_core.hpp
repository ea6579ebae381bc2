// The non-template heart of the async client, behind a narrow interface so that the public
// header stays small. Internal: no stability promise.
#pragma once

#include <asio/any_io_executor.hpp>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "beanpole/detail/async_completion.hpp"
#include "beanpole/endpoint.hpp"
#include "beanpole/error.hpp"
#include "beanpole/proto/commands.hpp"
#include "beanpole/put_body.hpp"
#include "beanpole/types.hpp"

namespace beanpole {
struct async_client_options;
}

namespace beanpole::detail {

class async_core;

/// Creates the core; it lives as long as the client or any operation still needs it.
std::shared_ptr<async_core> make_async_core(const asio::any_io_executor& ex, endpoint ep,
                                            async_client_options options);

/// The executor of the client: handlers without one of their own run on it. Valid as long as
/// the core, which outlives every operation it completes.
const asio::any_io_executor& executor_of(const async_core& core) noexcept;

/// Issues `cmd` (routed by `route`; `job` is the job a job action acts on; `is_put` when a lost
/// reply means "outcome unknown"); the core calls `done` exactly once. Safe from any thread. May
/// block the calling thread for back-pressure (see `async_client_options::max_in_flight`).
/// Defined in the library for every command the client issues (src/client/async_submit.cpp).
template <class Command>
void submit(async_core& core, Command&& cmd, completion<signature_t<Command>>* done, op_route route,
            job_id job, bool is_put);

/// Issues `cmd` on the main connection in `tube`: a `use` goes out right before it when the
/// client's used tube is another (`tube` is read before this returns). Otherwise as `submit`.
/// A function of its own, so that a plain put's path has no branch for it. Defined for a put,
/// kick and peek-ready/-delayed/-buried.
template <class Command>
void submit_in_tube(async_core& core, Command&& cmd, completion<signature_t<Command>>* done,
                    bool is_put, const tube_name& tube);

/// Starts connecting (if not connected or connecting) and calls `done` once connected or failed.
void connect(async_core& core, completion<void(std::error_code)>* done);

/// Closes every connection; pending operations complete with `asio::error::operation_aborted`.
void shutdown(async_core& core);

/// Operations in flight (written or waiting to be written) on the main connection.
std::size_t in_flight(async_core& core);

/// Why the client's connection last failed (see `async_client::last_failure`).
failure_info last_failure(async_core& core);

/// Bodies from this size on, when the operation owns them in a string of their own, are written
/// from where they are (a gather write) rather than copied into the write buffer.
inline constexpr std::size_t gather_min_body = std::size_t{16} * 1024;

/// A `put` that owns its body, so that the body outlives the call whatever the completion token
/// does (a deferred operation may start long after `async_put` returned).
struct owned_put_command {
  using result_type = job_id;
  static constexpr proto::command_traits traits = proto::put_command::traits;
  priority pri = default_priority;
  std::chrono::seconds delay{0};
  std::chrono::seconds ttr{60};
  put_body body;

  /// The request; a large body is left out, for a gather write (see `op_base::encode_request`).
  std::error_code encode(std::string& out, std::string_view& gathered) const {
    const proto::put_command cmd{pri, delay, ttr, body.view()};
    if (body.size() < gather_min_body || !body.stands_alone()) return cmd.encode(out);
    gathered = body.view();
    return cmd.encode_line(out);
  }
  result_type interpret(proto::reply&& r, std::error_code& ec) const {
    return proto::put_command{}.interpret(std::move(r), ec);
  }
};

}  // namespace beanpole::detail
