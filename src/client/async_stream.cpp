#include "client/async_stream.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <asio/ssl/error.hpp>
#include <chrono>
#include <memory>
#include <utility>

#include "beanpole/error.hpp"
#include "net/tls.hpp"

namespace beanpole::detail {

std::error_code async_stream::start_tls(const endpoint& ep) {
  tls_.reset();
  context_.reset();
  tls_detail_.clear();
  std::error_code ec;
  SSL_CTX* ctx = make_tls_context(*ep.tls, ec, tls_detail_);
  if (ctx == nullptr) return ec;
  context_.emplace(ctx);  // takes ownership
  tls_.emplace(socket_, *context_);
  if (!prepare_tls_session(tls_->native_handle(), ep)) {
    tls_.reset();
    tls_detail_ = "cannot set up a TLS session for the name to verify";
    return errc::tls_files_invalid;
  }
  return {};
}

void async_stream::async_handshake(std::chrono::steady_clock::time_point connect_deadline,
                                   std::function<void(std::error_code)> done) {
  watch_ = {};
  has_early_byte_ = false;
  watch_handshake(tls_->native_handle(), &watch_);
  tls_->async_handshake(
      asio::ssl::stream_base::client,
      [this, connect_deadline, done = std::move(done)](std::error_code ec) mutable {
        if (!ec && verdict_pending(tls_->native_handle(), watch_)) {
          const auto now = std::chrono::steady_clock::now();
          std::chrono::nanoseconds wait = verdict_wait;
          if (connect_deadline != std::chrono::steady_clock::time_point::max()) {
            wait = std::min<std::chrono::nanoseconds>(wait, (connect_deadline - now) / 2);
          }
          await_verdict(std::max<std::chrono::nanoseconds>(wait, {}), std::move(done));
          return;
        }
        watch_handshake(tls_->native_handle(), nullptr);
        if (ec && ec != asio::error::operation_aborted) {
          ec = handshake_failure(ec);
        }
        done(ec);
      });
}

void async_stream::await_verdict(std::chrono::nanoseconds wait,
                                 std::function<void(std::error_code)> done) {
  auto v = std::make_shared<verdict_wait_state>();
  v->done = std::move(done);
  std::error_code ec;
  socket_.non_blocking(true, ec);  // the verdict's reads must never block the strand
  if (ec) return end_verdict(v, ec);
  verdict_timer_.expires_after(wait);
  verdict_timer_.async_wait([this, v](std::error_code timer_ec) {
    if (timer_ec == asio::error::operation_aborted || v->done == nullptr) return;
    // Silence until now counts as "accepted", as in the blocking client. The readiness wait
    // below is cancelled, or, if its completion is already queued, sees `expired` and ends.
    v->expired = true;
    std::error_code ignored;
    socket_.cancel(ignored);
  });
  poll_verdict(v);
}

void async_stream::poll_verdict(const std::shared_ptr<verdict_wait_state>& v) {
  // Reads without blocking: what arrived is a ticket (accepted), an alert (refused) or the first
  // byte of the server's speech. A readiness wait, not an async read, waits for more: a pending
  // wait is always cancellable, whereas an SSL read re-arms socket reads of its own that a
  // cancel made between two of them would miss (and the connect would hang until its timeout).
  std::error_code ec;
  const std::size_t n = tls_->read_some(asio::buffer(&early_byte_, 1), ec);
  if (n == 1) {
    has_early_byte_ = true;
    return end_verdict(v, {});
  }
  if (ec != asio::error::would_block) return end_verdict(v, handshake_failure(ec));
  if (watch_.ticket || v->expired) return end_verdict(v, {});
  socket_.async_wait(socket_type::wait_read, [this, v](std::error_code wait_ec) {
    if (v->done == nullptr) return;  // closed meanwhile
    if (wait_ec && wait_ec != asio::error::operation_aborted) {
      return end_verdict(v, handshake_failure(wait_ec));
    }
    poll_verdict(v);  // after a cancel too: it ends at once on `expired` or a closed socket
  });
}

void async_stream::end_verdict(const std::shared_ptr<verdict_wait_state>& v, std::error_code ec) {
  verdict_timer_.cancel();
  watch_handshake(tls_->native_handle(), nullptr);
  std::error_code ignored;
  socket_.non_blocking(false, ignored);
  std::exchange(v->done, nullptr)(ec);
}

std::error_code async_stream::handshake_failure(std::error_code ec) {
  // A close without an alert (eof, a truncated stream) counts as no OpenSSL error.
  const unsigned long e =
      ec.category() == asio::error::get_ssl_category() ? static_cast<unsigned long>(ec.value()) : 0;
  return classify_tls_failure(tls_->native_handle(), e, tls_detail_);
}

std::error_code async_stream::timeout_error() {
  if (!tls_) return errc::connect_timeout;
  return tls_handshake_timeout(tls_->native_handle(), tls_detail_);
}

std::error_code async_stream::io_error(std::error_code ec) {
  if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
    return make_error_code(errc::connection_lost);
  }
  if (tls_ && ec.category() == asio::error::get_ssl_category()) {
    return classify_tls_failure(tls_->native_handle(), static_cast<unsigned long>(ec.value()),
                                tls_detail_);
  }
  return ec;
}

}  // namespace beanpole::detail
