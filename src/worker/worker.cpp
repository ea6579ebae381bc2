// The public `worker`: a handle on the engine (`detail::worker_impl`), plus the blocking `run`.
#include <future>
#include <stdexcept>

#include "worker/worker_impl.hpp"

namespace beanpole {

worker::worker(executor_type ex, endpoint ep, worker_options options)
    : executor_(std::move(ex)),
      impl_(detail::make_worker_impl(executor_, std::move(ep), std::move(options))) {}

worker::worker(endpoint ep, worker_options options)
    : own_io_(std::make_unique<asio::io_context>(1)),
      executor_(own_io_->get_executor()),
      impl_(detail::make_worker_impl(executor_, std::move(ep), std::move(options))) {}

worker::worker(executor_type ex, std::vector<pool_server> servers, worker_options options)
    : executor_(std::move(ex)),
      impl_(detail::make_worker_impl(executor_, std::move(servers), std::move(options))) {}

worker::worker(std::vector<pool_server> servers, worker_options options)
    : own_io_(std::make_unique<asio::io_context>(1)),
      executor_(own_io_->get_executor()),
      impl_(detail::make_worker_impl(executor_, std::move(servers), std::move(options))) {}

worker::~worker() {
  impl_->destroy();
  impl_.reset();
  if (own_io_) {
    // Let the worker close what it holds before the context goes.
    own_io_->restart();
    own_io_->poll();
  }
}

void worker::handle_plain(const tube_name& tube, job_handler handler) {
  if (!handler) throw std::invalid_argument("beanpole::worker: empty handler");
  detail::handler_slot slot;
  slot.plain = std::make_shared<const job_handler>(std::move(handler));
  impl_->add_handler(tube, std::move(slot));
}

void worker::handle_coroutine(const tube_name& tube, coroutine_job_handler handler) {
  if (!handler) throw std::invalid_argument("beanpole::worker: empty handler");
  detail::handler_slot slot;
  slot.coroutine = std::make_shared<const coroutine_job_handler>(std::move(handler));
  impl_->add_handler(tube, std::move(slot));
}

void worker::run() {
  if (own_io_) {
    std::optional<std::error_code> result;
    async_run([&result](std::error_code ec) { result = ec; });
    own_io_->restart();
    while (!result && own_io_->run_one() > 0) {
    }
    own_io_->poll();  // what the end of the run left to do (closing sockets)
    if (!result) throw std::logic_error("beanpole::worker: the run did not complete");
    if (*result) throw error(*result, "beanpole::worker");
    return;
  }
  // The error code crosses threads, and the exception is made here, on the caller's thread.
  auto done = std::make_shared<std::promise<std::error_code>>();
  auto result = done->get_future();
  async_run([done](std::error_code ec) { done->set_value(ec); });
  if (const std::error_code ec = result.get()) throw error(ec, "beanpole::worker");
}

void worker::run_until_signal() {
  impl_->set_handle_signals(true);
  run();
}

void worker::stop() {
  impl_->request_stop(false);
}
void worker::stop_now() {
  impl_->request_stop(true);
}

worker_metrics worker::metrics() const {
  return impl_->metrics();
}
std::uint16_t worker::metrics_port() const noexcept {
  return impl_->metrics_port();
}

}  // namespace beanpole
