// An operation of the async client inside the library: its command, where it goes, its deadline
// and queue link, and the type-erased completion that ends it. The core moves nodes between
// queues, writes them and completes them; the public templates never see this layout.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

#include "beanpole/detail/async_completion.hpp"
#include "beanpole/proto/commands.hpp"
#include "beanpole/proto/reply.hpp"

namespace beanpole::detail {

/// A command with no wire form, used to complete `async_connect` through the same operation queue.
struct connect_request {
  using result_type = void;
  static constexpr proto::command_traits traits{.has_reply = false};
  std::error_code encode(std::string&) const { return {}; }
  void interpret(proto::reply&&, std::error_code&) const {}
};

/// How a command changes the tube state the client keeps for every connection. `use_first`: the
/// command must run in `tube`, so the core sends `use` right before it when the client's used tube
/// differs (a put into a tube, from any thread, with nothing between the two).
enum class tube_effect : std::uint8_t { none, use, watch, ignore, use_first };

/// One command in flight. The core owns it from `submit` until it calls `complete` (exactly once),
/// which interprets the reply, frees the node and hands the result to the completion.
class op_base {
 public:
  op_base(const op_base&) = delete;
  op_base& operator=(const op_base&) = delete;

  /// Appends the request to `out`; a local-misuse error means nothing may be sent. A command may
  /// leave out a large body it owns: `body` is then set to it, and the request is what was
  /// appended, then `body` (written from where it is), then CRLF.
  virtual std::error_code encode_request(std::string& out, std::string_view& body) const = 0;
  /// Appends the whole request to `out`, a body left out by `encode_request` included.
  std::error_code encode(std::string& out) const {
    std::string_view body;
    auto ec = encode_request(out, body);
    if (!ec && !body.empty()) {
      out += body;
      out += "\r\n";
    }
    return ec;
  }
  /// Completes with `reply` (or, when `reply` is null, with `ec`) and destroys the node. Returns
  /// the error the handler gets, so the core can tell a protocol violation in the reply.
  virtual std::error_code complete(std::error_code ec, proto::reply* reply) = 0;
  /// The handler's cancellation slot (unconnected when the handler has none).
  virtual asio::cancellation_slot cancellation_slot() const noexcept = 0;

  proto::command_traits traits;
  proto::server_wait wait;
  op_route route = op_route::main;
  bool is_put = false;    ///< a lost reply means "outcome unknown", never "failed"
  bool internal = false;  ///< sent by the client itself (state restore, a `use` before a command
                          ///< in a tube): no user handler, not counted in the window
  job_id job;             ///< for job actions: the job acted on
  /// Reply deadline, set when written; while the command waits unwritten for a connection, the
  /// time it stops waiting. Zero: none.
  std::chrono::steady_clock::time_point deadline{};
  std::size_t wire_size = 0;  ///< bytes of its request in the client's unwritten buffer
  std::uint64_t serial = 0;   ///< unique per core: lets a cancellation find its op safely
  tube_effect effect = tube_effect::none;  ///< use / watch / ignore / use_first
  /// Their tube: in the node's command, or for `use_first` the caller's, read only in `submit`.
  const tube_name* tube = nullptr;
  op_base* next = nullptr;  ///< intrusive queue link (owned by whichever queue holds the op)

 protected:
  op_base() = default;
  ~op_base() = default;
};

/// The node for one command; its user's handler is behind `done`.
template <class Command>
class op final : public op_base {
 public:
  using completion_type = completion<signature_t<Command>>;

  std::error_code encode_request(std::string& out, std::string_view& body) const override {
    if constexpr (requires { cmd_.encode(out, body); }) {
      return cmd_.encode(out, body);
    } else {
      return cmd_.encode(out);
    }
  }

  /// A node for `cmd`, in the spare room of `done`'s block when it fits there.
  static op* make(Command&& cmd, completion_type* done) {
    if (void* room = done->spare_room(sizeof(op), alignof(op))) {
      auto* node = ::new (room) op(std::move(cmd), done);
      node->in_completion_block_ = true;
      return node;
    }
    return ::new (allocate_op(sizeof(op))) op(std::move(cmd), done);
  }

  asio::cancellation_slot cancellation_slot() const noexcept override {
    return done_->cancellation_slot();
  }

  /// Interprets the reply, frees the node, then completes (which frees the completion too).
  std::error_code complete(std::error_code ec, proto::reply* reply) override {
    using result = typename Command::result_type;
    completion_type* done = done_;
    if constexpr (std::is_void_v<result>) {
      if (reply != nullptr) cmd_.interpret(std::move(*reply), ec);
      destroy();
      done->complete(ec);
    } else {
      result value{};
      if (reply != nullptr) value = cmd_.interpret(std::move(*reply), ec);
      destroy();
      done->complete(ec, std::move(value));
    }
    return ec;
  }

 private:
  op(Command&& cmd, completion_type* done) : cmd_(std::move(cmd)), done_(done) { init(); }
  /// What the core reads of the command, set once it is in place.
  void init() {
    traits = Command::traits;
    wait = proto::wait_of(cmd_);
    if constexpr (std::is_same_v<Command, proto::use_command>) {
      effect = tube_effect::use;
    } else if constexpr (std::is_same_v<Command, proto::watch_command>) {
      effect = tube_effect::watch;
    } else if constexpr (std::is_same_v<Command, proto::ignore_command>) {
      effect = tube_effect::ignore;
    }
    if constexpr (requires { cmd_.tube; }) tube = &cmd_.tube;
  }
  ~op() = default;

  /// Ends the node; its memory goes back with the completion's block when it lives there.
  void destroy() noexcept {
    const bool in_block = in_completion_block_;
    this->~op();
    if (!in_block) deallocate_op(this, sizeof(op));
  }

  Command cmd_;
  completion_type* done_;
  bool in_completion_block_ = false;
};

class async_core;

// The core's entry points for nodes (submit_op in async_core_pipeline.cpp, connect_op in
// async_core_entry.cpp); the public ones (detail/async_core.hpp) build a node around the user's
// completion and call these.
void submit_op(async_core& core, op_base* op);
void connect_op(async_core& core, op_base* op);

}  // namespace beanpole::detail
