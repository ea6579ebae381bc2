// A TLS 1.3 server for tests of the wait for a server's verdict on a client certificate, which
// under TLS 1.3 comes after the client's handshake has ended. It asks for a client certificate
// and gives one of two verdicts a real terminator can give:
// - `refuse_late`: trusts only the test certificates' *other* CA and takes `delay` to refuse each
//   certificate (an alert), as a terminator on a loaded machine may: only a client that waits
//   long enough fails its connect rather than its first command;
// - `accept_without_ticket`: trusts the test CA and accepts, but sends no session ticket (the
//   sign of acceptance that ends the wait), as a terminator with tickets turned off: the client
//   waits its full verdict wait, then takes the silence as acceptance. It then holds the
//   connection open, silent, until the client closes it.
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

class verdict_tls_server {
 public:
  enum class verdict : std::uint8_t { refuse_late, accept_without_ticket };

  /// Listens at once; throws `std::runtime_error` when the socket or the TLS context fails.
  verdict_tls_server(const test_certificates& certs, verdict v,
                     std::chrono::milliseconds delay = {});
  ~verdict_tls_server();
  verdict_tls_server(const verdict_tls_server&) = delete;
  verdict_tls_server& operator=(const verdict_tls_server&) = delete;

  /// `tls://127.0.0.1:port` with `opts`.
  endpoint tls_endpoint(tls_options opts) const;
  /// How many certificates it refused so far.
  int refusals() const { return refusals_.load(); }
  /// How many handshakes it completed so far (accepted certificates).
  int accepted() const { return accepted_.load(); }
  /// Waits the refusal delay and counts a refusal (from OpenSSL's verify callback, on its thread).
  void refuse_now();

 private:
  void serve();
  void hold_until_closed(int fd);

  int listener_ = -1;
  std::uint16_t port_ = 0;
  void* context_ = nullptr;  // SSL_CTX; OpenSSL stays out of the tests' includes
  std::chrono::milliseconds delay_;
  std::atomic<bool> stop_{false};
  std::atomic<int> refusals_{0};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

}  // namespace beanpole::testing
