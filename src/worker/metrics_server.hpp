// The worker's Prometheus endpoint: `GET /metrics` on 127.0.0.1 only, served by cpp-httplib
// (Debian's libcpp-httplib-dev), the HTTP library the CLI's exporter and console use, on a
// thread of its own. One request per connection, read and write timeouts and a bounded request,
// so that a slow or hostile client cannot hold it up for long.
#pragma once

#include <asio/any_io_executor.hpp>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

namespace httplib {
class Server;
}

namespace beanpole::detail {

/// Thread safety: `start` and `close` from one thread (the worker's strand); `body` is called on
/// the server's threads, so it must be thread-safe.
class metrics_server {
 public:
  /// Binds 127.0.0.1:`port` (0: a free port). `strand` is where `start` and `close` are called
  /// (kept for the worker's engine; the server has its own thread). Throws `std::system_error`
  /// when the port cannot be bound.
  metrics_server(asio::any_io_executor strand, std::uint16_t port,
                 std::function<std::string()> body);
  ~metrics_server();
  metrics_server(const metrics_server&) = delete;
  metrics_server& operator=(const metrics_server&) = delete;

  /// The bound port.
  std::uint16_t port() const noexcept { return port_; }
  /// Starts serving, on a thread of its own.
  void start();
  /// Stops serving: the port is closed once this returns (a request being read may hold it for
  /// up to the read timeout, 2 s).
  void close();

 private:
  std::unique_ptr<httplib::Server> server_;
  std::uint16_t port_ = 0;
  std::thread listener_;
  std::atomic<bool> listen_returned_{false};
  bool closed_ = false;
};

}  // namespace beanpole::detail
