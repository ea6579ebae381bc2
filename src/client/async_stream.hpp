// The async client's transport: a stream socket (TCP or Unix) that speaks plain bytes or, for a
// tls:// endpoint, TLS through Asio's SSL stream over the same socket. The connection drives it
// the same way either way: connect the socket, `start_tls` and `async_handshake` for TLS, then
// `async_read_some`, `async_write` and `close`. Strand-only.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/buffer.hpp>
#include <asio/generic/stream_protocol.hpp>
#include <asio/post.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include "beanpole/endpoint.hpp"
#include "net/tls.hpp"

namespace beanpole::detail {

class async_stream {
 public:
  using socket_type = asio::generic::stream_protocol::socket;

  explicit async_stream(const asio::any_io_executor& ex) : socket_(ex), verdict_timer_(ex) {}

  /// The socket under it: open, connect, options, native handle.
  socket_type& socket() noexcept { return socket_; }

  /// Makes the stream speak TLS for `ep` (after the socket connected, before the handshake).
  /// `errc::tls_files_invalid` (see `tls_detail`) when a file of `ep.tls` cannot be loaded.
  std::error_code start_tls(const endpoint& ep);

  /// The client handshake, then, when the server asked for a client certificate under TLS 1.3,
  /// its verdict on it (see `handshake_watch`), so that a refused certificate fails the connect
  /// as it does in the blocking client. `done` gets the beanpole TLS error (see net/tls.hpp) on
  /// failure; what `done` captures keeps this stream alive. The wait for the verdict ends within
  /// half of what is left until `connect_deadline` (a server still silent then is taken as having
  /// accepted, as the blocking client does at its deadline), so that it never turns a finished
  /// handshake into a connect timeout.
  void async_handshake(std::chrono::steady_clock::time_point connect_deadline,
                       std::function<void(std::error_code)> done);

  /// Reads some bytes: `handler(std::error_code, std::size_t)`.
  template <class Buffer, class Handler>
  void async_read_some(const Buffer& buffer, Handler&& handler) {
    if (tls_) {
      if (has_early_byte_) {  // read while waiting for the verdict: the server spoke first
        has_early_byte_ = false;
        const std::size_t n = asio::buffer_copy(buffer, asio::buffer(&early_byte_, 1));
        asio::post(socket_.get_executor(), [h = std::forward<Handler>(handler), n]() mutable {
          std::move(h)(std::error_code{}, n);
        });
        return;
      }
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
    verdict_timer_.cancel();
  }

  /// What TLS said about the last TLS failure; empty when there was none.
  const std::string& tls_detail() const noexcept { return tls_detail_; }

 private:
  /// What one wait for the verdict shares between its timer and its reads.
  struct verdict_wait_state {
    std::function<void(std::error_code)> done;  ///< null once the wait ended
    bool expired = false;                       ///< the wait's time is up
  };
  /// Waits until the server's verdict comes (an alert fails `done`; a ticket, data, the end of
  /// `wait` succeed it).
  void await_verdict(std::chrono::nanoseconds wait, std::function<void(std::error_code)> done);
  /// Takes in what the server sent so far, then ends the wait or waits for more.
  void poll_verdict(const std::shared_ptr<verdict_wait_state>& v);
  void end_verdict(const std::shared_ptr<verdict_wait_state>& v, std::error_code ec);
  /// The beanpole error for `ec`, a failure of the handshake or of the verdict's read.
  std::error_code handshake_failure(std::error_code ec);

  socket_type socket_;
  // Declared before the stream that uses it.
  std::optional<asio::ssl::context> context_;
  std::optional<asio::ssl::stream<socket_type&>> tls_;
  std::string tls_detail_;
  handshake_watch watch_;
  asio::steady_timer verdict_timer_;
  char early_byte_ = 0;  // what the verdict's read got, if the server sent data at once
  bool has_early_byte_ = false;
};

}  // namespace beanpole::detail
