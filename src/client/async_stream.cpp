#include "client/async_stream.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <asio/ssl/error.hpp>
#include <chrono>
#include <memory>

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
  const auto started = std::chrono::steady_clock::now();
  tls_->async_handshake(
      asio::ssl::stream_base::client,
      [this, started, connect_deadline, done = std::move(done)](std::error_code ec) mutable {
        if (!ec && verdict_pending(tls_->native_handle(), watch_)) {
          const auto now = std::chrono::steady_clock::now();
          auto wait = verdict_wait(now - started);
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
  struct verdict {
    std::function<void(std::error_code)> done;
    std::error_code ec;
    int pending = 2;  // the read and the timer
    bool read_ended = false;
  };
  auto v = std::make_shared<verdict>();
  v->done = std::move(done);
  const auto finish = [this, v] {
    if (--v->pending > 0) return;
    watch_handshake(tls_->native_handle(), nullptr);
    v->done(v->ec);
  };
  // A ticket is the verdict "accepted": it ends the wait at once.
  watch_.on_ticket = [](void* timer) { static_cast<asio::steady_timer*>(timer)->cancel(); };
  watch_.on_ticket_arg = &verdict_timer_;
  verdict_timer_.expires_after(wait);
  verdict_timer_.async_wait([this, v, finish](std::error_code) {
    // Expired, or cut short by a ticket or by the end of the read: a read still waiting for
    // the verdict is stopped (the TLS stream stays usable; the next read resumes it).
    if (!v->read_ended) {
      std::error_code ignored;
      socket_.cancel(ignored);
    }
    finish();
  });
  tls_->async_read_some(asio::buffer(&early_byte_, 1),
                        [this, v, finish](std::error_code ec, std::size_t n) {
                          v->read_ended = true;
                          verdict_timer_.cancel();
                          if (n == 1) {
                            has_early_byte_ = true;
                          } else if (ec && ec != asio::error::operation_aborted) {
                            v->ec = handshake_failure(ec);
                          }
                          finish();
                        });
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
