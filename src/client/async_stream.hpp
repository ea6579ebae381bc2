// The async client's transport: a stream socket (TCP or Unix) that speaks plain bytes or, for a
// tls:// endpoint, TLS through Asio's SSL stream over the same socket. The connection drives it
// the same way either way: connect the socket, `start_tls` and `async_handshake` for TLS, then
// `async_read_some`, `async_write` and `close`. Strand-only.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/generic/stream_protocol.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/write.hpp>
#include <functional>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include "beanpole/endpoint.hpp"

namespace beanpole::detail {

class async_stream {
 public:
  using socket_type = asio::generic::stream_protocol::socket;

  explicit async_stream(const asio::any_io_executor& ex) : socket_(ex) {}

  /// The socket under it: open, connect, options, native handle.
  socket_type& socket() noexcept { return socket_; }

  /// Makes the stream speak TLS for `ep` (after the socket connected, before the handshake).
  /// `errc::tls_files_invalid` (see `tls_detail`) when a file of `ep.tls` cannot be loaded.
  std::error_code start_tls(const endpoint& ep);

  /// The client handshake. `done` gets the beanpole TLS error (see net/tls.hpp) on failure.
  void async_handshake(std::function<void(std::error_code)> done);

  /// Reads some bytes: `handler(std::error_code, std::size_t)`.
  template <class Buffer, class Handler>
  void async_read_some(const Buffer& buffer, Handler&& handler) {
    if (tls_) {
      tls_->async_read_some(buffer, std::forward<Handler>(handler));
    } else {
      socket_.async_read_some(buffer, std::forward<Handler>(handler));
    }
  }

  /// Writes all of `buffer`: `handler(std::error_code, std::size_t)`.
  template <class Buffer, class Handler>
  void async_write(const Buffer& buffer, Handler&& handler) {
    if (tls_) {
      asio::async_write(*tls_, buffer, std::forward<Handler>(handler));
    } else {
      asio::async_write(socket_, buffer, std::forward<Handler>(handler));
    }
  }

  /// The beanpole error for a failed read or write: a TLS alert or broken record becomes a TLS
  /// error (a server that refuses a client certificate after a TLS 1.3 handshake says so here);
  /// a peer gone without close_notify, `errc::connection_lost`; anything else stays as it is.
  std::error_code io_error(std::error_code ec);

  /// The error for a connect that its timeout cut short: `connect_timeout`, or during a TLS
  /// handshake the one net/tls.hpp's `tls_handshake_timeout` gives.
  std::error_code timeout_error();

  /// Closes the socket (no close_notify: the connection is dropped, as a plain one is).
  void close() noexcept {
    std::error_code ignored;
    socket_.close(ignored);
  }

  /// What TLS said about the last TLS failure; empty when there was none.
  const std::string& tls_detail() const noexcept { return tls_detail_; }

 private:
  socket_type socket_;
  // Declared before the stream that uses it.
  std::optional<asio::ssl::context> context_;
  std::optional<asio::ssl::stream<socket_type&>> tls_;
  std::string tls_detail_;
};

}  // namespace beanpole::detail
