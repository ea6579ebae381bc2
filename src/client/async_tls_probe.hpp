// The async client's form of net/tls_probe.hpp: asks the server at `peer` whether it speaks
// TLS (a ClientHello on a new connection; is the answer a TLS record?), after a plain
// connection to it broke off before its first reply. Strand-only.
#pragma once

#include <array>
#include <asio/any_io_executor.hpp>
#include <asio/generic/stream_protocol.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace beanpole::detail {

class async_tls_probe : public std::enable_shared_from_this<async_tls_probe> {
 public:
  using generic_endpoint = asio::generic::stream_protocol::endpoint;

  /// Asks `peer`, named `host` (for SNI), within `timeout` (zero: 5 s). `done(bool)` gets the
  /// answer (false on any failure) on `ex`; the probe keeps itself alive until then.
  static void start(const asio::any_io_executor& ex, const generic_endpoint& peer,
                    const std::string& host, std::chrono::milliseconds timeout,
                    std::function<void(bool)> done);

 private:
  async_tls_probe(const asio::any_io_executor& ex, std::function<void(bool)> done)
      : socket_(ex), timer_(ex), done_(std::move(done)) {}
  void finish(bool speaks_tls);

  asio::generic::stream_protocol::socket socket_;
  asio::steady_timer timer_;
  std::function<void(bool)> done_;
  std::string hello_;
  std::array<char, 8> answer_{};
};

}  // namespace beanpole::detail
