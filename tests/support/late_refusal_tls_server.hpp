// A TLS 1.3 server for tests of the wait for a server's verdict on a client certificate: it asks
// for a client certificate, trusts only the test certificates' *other* CA, and takes `delay` to
// refuse each certificate it is shown (an alert), as a terminator on a loaded machine may. Under
// TLS 1.3 the client's handshake has ended by then, so only a client that waits long enough for
// the verdict fails its connect rather than its first command.
//
// Loopback only, on a port the kernel chose; one thread serves connections one at a time and
// stops in the destructor.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

#include "beanpole/endpoint.hpp"
#include "tls_terminator.hpp"

namespace beanpole::testing {

class late_refusal_tls_server {
 public:
  /// Listens at once; throws `std::runtime_error` when the socket or the TLS context fails.
  late_refusal_tls_server(const test_certificates& certs, std::chrono::milliseconds delay);
  ~late_refusal_tls_server();
  late_refusal_tls_server(const late_refusal_tls_server&) = delete;
  late_refusal_tls_server& operator=(const late_refusal_tls_server&) = delete;

  /// `tls://127.0.0.1:port` with `opts`.
  endpoint tls_endpoint(tls_options opts) const;
  /// How many certificates it refused so far.
  int refusals() const { return refusals_.load(); }
  /// Waits its delay and counts a refusal (from OpenSSL's verify callback, on its thread).
  void refuse_now();

 private:
  void serve();

  int listener_ = -1;
  std::uint16_t port_ = 0;
  void* context_ = nullptr;  // SSL_CTX; OpenSSL stays out of the tests' includes
  std::chrono::milliseconds delay_;
  std::atomic<bool> stop_{false};
  std::atomic<int> refusals_{0};
  std::thread thread_;
};

}  // namespace beanpole::testing
