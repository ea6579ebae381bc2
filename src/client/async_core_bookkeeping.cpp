// The async client's bookkeeping: completing and failing commands, remembering why a connection
// failed, telling the user of events. See async_core_impl.hpp for the whole design.
#include <asio/post.hpp>
#include <mutex>

#include "client/async_core_impl.hpp"

namespace beanpole::detail {

void async_core::fail(op_base* op, bool counted_on_main, std::error_code ec) {
  const bool counted = counted_on_main && !op->internal;
  op->complete(ec, nullptr);
  if (counted && pipeline_.answered()) wake_producers();
}

void async_core::fail_all(op_queue& ops, std::error_code ec) {
  while (op_base* op = ops.pop_front()) fail(op, true, ec);
}

void async_core::complete_later(op_base* op, std::error_code ec) {
  asio::post(strand_, [self = shared_from_this(), op, ec] { op->complete(ec, nullptr); });
}

void async_core::answer_later(op_base* op, proto::reply reply) {
  asio::post(strand_, [self = shared_from_this(), op, r = std::move(reply)]() mutable {
    op->complete({}, &r);
  });
}

void async_core::remember_failure(std::error_code cause, const std::string& received,
                                  const std::string& tls_detail) {
  if (!cause || cause == asio::error::operation_aborted) return;
  std::lock_guard lock(mu_);
  last_failure_.cause = cause;
  last_failure_.received = received;
  last_failure_.detail = tls_detail;
}

void async_core::emit(const client_event& e) const {
  if (options_.on_event) options_.on_event(e);
}

}  // namespace beanpole::detail
