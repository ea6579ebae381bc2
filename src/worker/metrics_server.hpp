// A tiny HTTP/1.x responder for Prometheus scrapes: `GET /metrics` on 127.0.0.1 only. One
// request per connection (the reply closes it), a bounded request size and a read deadline, so a
// slow or hostile client cannot hold it up. Everything runs on the executor it is given (a
// strand); `close` must be called there too.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace beanpole::detail {

/// What the responder answers to one request (status line and body), from its head. Pure, so
/// that it is tested without sockets. `head` is everything up to (excluding) the blank line.
struct http_answer {
  int status = 200;
  std::string reason;
  std::string content_type;
  std::string body;
};
http_answer answer_http(std::string_view head, const std::function<std::string()>& metrics_body);

class metrics_server : public std::enable_shared_from_this<metrics_server> {
 public:
  /// Binds 127.0.0.1:`port` (0: a free port) and listens. Throws `std::system_error`.
  metrics_server(asio::any_io_executor strand, std::uint16_t port,
                 std::function<std::string()> body);

  /// The bound port.
  std::uint16_t port() const noexcept { return port_; }
  /// Starts accepting (on the strand).
  void start();
  /// Closes the acceptor and every open connection (on the strand).
  void close();

 private:
  class session;
  void accept();

  asio::any_io_executor strand_;
  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer retry_timer_;  // after an accept error (out of descriptors, say)
  std::function<std::string()> body_;
  std::uint16_t port_ = 0;
  bool closed_ = false;
  std::vector<std::weak_ptr<session>> sessions_;
};

}  // namespace beanpole::detail
