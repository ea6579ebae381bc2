#include "late_refusal_tls_server.hpp"

#include <netinet/in.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>
#include <utility>

namespace beanpole::testing {

namespace {

SSL_CTX* ctx_of(void* p) {
  return static_cast<SSL_CTX*>(p);
}

// OpenSSL calls this for each certificate of the chain the client presented; a chain the
// server's CA did not sign is refused, `delay` late.
int refuse_late(int preverify_ok, X509_STORE_CTX* store) {
  if (preverify_ok == 1) return 1;
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* server = static_cast<late_refusal_tls_server*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  server->refuse_now();
  return 0;
}

}  // namespace

late_refusal_tls_server::late_refusal_tls_server(const test_certificates& certs,
                                                 std::chrono::milliseconds delay)
    : delay_(delay) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  context_ = ctx;
  if (ctx == nullptr || SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
      SSL_CTX_use_certificate_chain_file(ctx, certs.file("server.pem").c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, certs.file("server.key").c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_load_verify_locations(ctx, certs.file("other-ca.pem").c_str(), nullptr) != 1) {
    SSL_CTX_free(ctx);
    throw std::runtime_error("late_refusal_tls_server: cannot set up its TLS context");
  }
  SSL_CTX_set_app_data(ctx, this);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, refuse_late);

  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      ::listen(listener_, 16) != 0 ||
      ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (listener_ >= 0) ::close(listener_);
    SSL_CTX_free(ctx);
    throw std::runtime_error("late_refusal_tls_server: cannot listen on loopback");
  }
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { serve(); });
}

late_refusal_tls_server::~late_refusal_tls_server() {
  stop_.store(true);
  thread_.join();
  ::close(listener_);
  SSL_CTX_free(ctx_of(context_));
}

endpoint late_refusal_tls_server::tls_endpoint(tls_options opts) const {
  return endpoint::tcp_tls("127.0.0.1", port_, std::move(opts));
}

void late_refusal_tls_server::refuse_now() {
  std::this_thread::sleep_for(delay_);
  ++refusals_;
}

void late_refusal_tls_server::serve() {
  while (!stop_.load()) {
    pollfd p{listener_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    SSL* ssl = SSL_new(ctx_of(context_));
    SSL_set_fd(ssl, fd);
    SSL_accept(ssl);  // fails: every certificate is refused (the alert goes out from in here)
    SSL_free(ssl);
    ::close(fd);
  }
}

}  // namespace beanpole::testing
