// The async client's own commands and shared helpers (see async_internal_ops.hpp).
#include "client/async_internal_ops.hpp"

#include <asio/io_context.hpp>
#include <asio/strand.hpp>
#include <asio/thread_pool.hpp>
#include <variant>

namespace beanpole::detail {

std::error_code tube_op::encode_request(std::string& out, std::string_view& /*body*/) const {
  return std::visit([&](const auto& c) { return c.encode(out); }, cmd_);
}

std::error_code tube_op::complete(std::error_code ec, proto::reply* reply) {
  if (!ec && reply == nullptr) ec = errc::unexpected_reply;
  if (!ec) {
    std::visit([&](const auto& c) { (void)c.interpret(std::move(*reply), ec); }, cmd_);
  }
  delete this;
  return ec;
}

probe_op::probe_op(job_id id, std::function<void(std::optional<std::string>)> done)
    : cmd_{id}, done_(std::move(done)) {
  internal = true;
  job = id;
}

std::error_code probe_op::encode_request(std::string& out, std::string_view& /*body*/) const {
  return cmd_.encode(out);
}

std::error_code probe_op::complete(std::error_code ec, proto::reply* reply) {
  std::optional<std::string> state;
  if (!ec && reply != nullptr) {
    std::error_code rec;
    auto stats = cmd_.interpret(std::move(*reply), rec);
    if (!rec) state = std::move(stats.state);
    if (rec == errc::not_found) state = "gone";
  }
  auto done = std::move(done_);
  delete this;
  done(std::move(state));
  return {};
}

bool on_executor_thread(const asio::any_io_executor& ex) {
  using io_ex = asio::io_context::executor_type;
  using pool_ex = asio::thread_pool::executor_type;
  if (const auto* io = ex.target<io_ex>()) return io->running_in_this_thread();
  if (const auto* s = ex.target<asio::strand<io_ex>>()) {
    return s->get_inner_executor().running_in_this_thread();
  }
  if (const auto* pool = ex.target<pool_ex>()) return pool->running_in_this_thread();
  if (const auto* s = ex.target<asio::strand<pool_ex>>()) {
    return s->get_inner_executor().running_in_this_thread();
  }
  return true;  // an executor of another kind: never block, to be safe
}

client_event make_client_event(client_event::kind what, std::error_code ec, job_id job,
                               unsigned attempt, std::chrono::milliseconds backoff) {
  client_event e;
  e.what = what;
  e.error = ec;
  e.job = job;
  e.attempt = attempt;
  e.backoff = backoff;
  return e;
}

}  // namespace beanpole::detail
