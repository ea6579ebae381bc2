// A loopback TCP proxy that breaks a connection on purpose, for tests of what a client does when
// a reply never comes (an "outcome unknown" put, a connection lost mid-operation).
//
// It listens on 127.0.0.1 on a port the kernel chose, forwards every accepted connection to
// `upstream_port` on 127.0.0.1, and watches what clients send. Once armed with `cut_on(prefix)`,
// the first client write that starts with `prefix` (e.g. "put ") is forwarded to the server and
// then both sides of that connection are closed before the server's reply is passed on: the
// command took effect, the client never hears so. The proxy thread stops in the destructor.
//
// Thread safety: `cut_on`, `cuts` and `endpoint` may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "beanpole/endpoint.hpp"

namespace beanpole::testing {

class fault_proxy {
 public:
  explicit fault_proxy(std::uint16_t upstream_port);
  ~fault_proxy();
  fault_proxy(const fault_proxy&) = delete;
  fault_proxy& operator=(const fault_proxy&) = delete;

  /// Where clients connect: 127.0.0.1 and the proxy's port.
  beanpole::endpoint endpoint() const;
  /// Arms the fault: the next client write starting with `prefix` reaches the server, then the
  /// connection is cut. Once only; call again to re-arm.
  void cut_on(std::string prefix);
  /// How many connections were cut so far.
  int cuts() const { return cuts_.load(); }

 private:
  void run();

  int listen_fd_ = -1;
  int wake_fds_[2] = {-1, -1};
  std::uint16_t port_ = 0;
  std::uint16_t upstream_port_ = 0;
  std::mutex mutex_;
  std::string prefix_;
  bool armed_ = false;
  std::atomic<int> cuts_{0};
  std::thread thread_;
};

}  // namespace beanpole::testing
