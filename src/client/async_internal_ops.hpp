// The commands the async client sends on its own, not on a user's behalf (a use/watch/ignore that
// brings a connection to the tube record, a stats-job that probes a held job), and the small
// helpers the core's files share. Internal to src/client.
#pragma once

#include <asio/any_io_executor.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <variant>

#include "beanpole/async_client.hpp"
#include "beanpole/proto/commands.hpp"
#include "client/async_op.hpp"
#include "conn/tube_state.hpp"

namespace beanpole::detail {

/// A use/watch/ignore the client sends on its own to bring a connection to its tube record. Its
/// reply is read by the codec's own command; any error fails the connection.
class tube_op final : public op_base {
 public:
  explicit tube_op(conn::tube_command cmd) : cmd_(std::move(cmd)) {
    internal = true;
    if (const auto* use = std::get_if<proto::use_command>(&cmd_)) {  // see expire_waiting
      effect = tube_effect::use;
      tube = &use->tube;
    }
  }
  std::error_code encode_request(std::string& out, std::string_view& body) const override;
  asio::cancellation_slot cancellation_slot() const noexcept override { return {}; }
  std::error_code complete(std::error_code ec, proto::reply* reply) override;

 private:
  ~tube_op() = default;  // `complete` deletes it
  conn::tube_command cmd_;
};

/// A `stats-job` the client sends on its own to learn whether a held job is still reserved;
/// `done` gets the job's state ("reserved", ...), or nothing when the job or the connection is
/// gone.
class probe_op final : public op_base {
 public:
  probe_op(job_id id, std::function<void(std::optional<std::string>)> done);
  std::error_code encode_request(std::string& out, std::string_view& body) const override;
  asio::cancellation_slot cancellation_slot() const noexcept override { return {}; }
  std::error_code complete(std::error_code ec, proto::reply* reply) override;

 private:
  ~probe_op() = default;  // `complete` deletes it
  proto::stats_job_command cmd_;
  std::function<void(std::optional<std::string>)> done_;
};

/// Whether the calling thread runs the client's executor, where blocking would deadlock. Not
/// `runs_here` (detail/async_completion.hpp), which asks whether a handler may run inline: for a
/// strand that means "inside the strand", while here any thread of the strand's context would stall
/// it.
bool on_executor_thread(const asio::any_io_executor& ex);

/// The event the client reports to `async_client_options::on_event`.
client_event make_client_event(client_event::kind what, std::error_code ec = {}, job_id job = {},
                               unsigned attempt = 0, std::chrono::milliseconds backoff = {});

/// Whether a reply to a job's action means the connection no longer holds the job.
inline bool ends_holding(proto::reply_kind kind) {
  return kind == proto::reply_kind::not_found || kind == proto::reply_kind::deleted ||
         kind == proto::reply_kind::released || kind == proto::reply_kind::buried;
}

}  // namespace beanpole::detail
