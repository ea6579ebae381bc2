#include "client/async_stream.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <asio/ssl/error.hpp>

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

void async_stream::async_handshake(std::function<void(std::error_code)> done) {
  tls_->async_handshake(
      asio::ssl::stream_base::client, [this, done = std::move(done)](std::error_code ec) {
        if (ec && ec != asio::error::operation_aborted) {
          const unsigned long e = ec.category() == asio::error::get_ssl_category() ? ec.value() : 0;
          ec = classify_tls_failure(tls_->native_handle(), e, tls_detail_);
        }
        done(ec);
      });
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
