// The non-template heart of the async client, behind a narrow interface so that the public
// header stays small. Internal: no stability promise.
#pragma once

#include <asio/any_io_executor.hpp>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "beanpole/detail/async_op.hpp"
#include "beanpole/endpoint.hpp"
#include "beanpole/error.hpp"
#include "beanpole/put_body.hpp"

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

/// Hands an operation to the core; the core completes it exactly once. Safe from any thread.
/// May block the calling thread for back-pressure (see `async_client_options::max_in_flight`).
void submit(async_core& core, op_base* op);

/// Starts connecting (if not connected or connecting) and completes `op` once connected or failed.
void connect(async_core& core, op_base* op);

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

/// A command with no wire form, used to complete `async_connect` through the same op machinery.
struct connect_request {
  using result_type = void;
  static constexpr proto::command_traits traits{.has_reply = false};
  std::error_code encode(std::string&) const { return {}; }
  void interpret(proto::reply&&, std::error_code&) const {}
};

}  // namespace beanpole::detail
