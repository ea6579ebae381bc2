#include "verdict_tls_server.hpp"

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
// server's CA did not sign is refused, `delay` late (the refusing server trusts another CA).
int refuse_late(int preverify_ok, X509_STORE_CTX* store) {
  if (preverify_ok == 1) return 1;
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* server = static_cast<verdict_tls_server*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  server->refuse_now();
  return 0;
}

}  // namespace

verdict_tls_server::verdict_tls_server(const test_certificates& certs, verdict v,
                                       std::chrono::milliseconds delay)
    : delay_(delay) {
  const bool refuse = v == verdict::refuse_late;
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  context_ = ctx;
  if (ctx == nullptr || SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
      SSL_CTX_use_certificate_chain_file(ctx, certs.file("server.pem").c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, certs.file("server.key").c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_load_verify_locations(ctx, certs.file(refuse ? "other-ca.pem" : "ca.pem").c_str(),
                                    nullptr) != 1 ||
      SSL_CTX_set_num_tickets(ctx, 0) != 1) {
    SSL_CTX_free(ctx);
    throw std::runtime_error("verdict_tls_server: cannot set up its TLS context");
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
    throw std::runtime_error("verdict_tls_server: cannot listen on loopback");
  }
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { serve(); });
}

verdict_tls_server::~verdict_tls_server() {
  stop_.store(true);
  thread_.join();
  ::close(listener_);
  SSL_CTX_free(ctx_of(context_));
}

endpoint verdict_tls_server::tls_endpoint(tls_options opts) const {
  return endpoint::tcp_tls("127.0.0.1", port_, std::move(opts));
}

void verdict_tls_server::refuse_now() {
  std::this_thread::sleep_for(delay_);
  ++refusals_;
}

void verdict_tls_server::hold_until_closed(int fd) {
  while (!stop_.load()) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    char buf[256];
    if (::read(fd, buf, sizeof buf) <= 0) return;  // closed (what it sent is ignored)
  }
}

void verdict_tls_server::serve() {
  while (!stop_.load()) {
    pollfd p{listener_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    SSL* ssl = SSL_new(ctx_of(context_));
    SSL_set_fd(ssl, fd);
    // A refusal's alert goes out from in here; an acceptance sends no ticket (none configured).
    if (SSL_accept(ssl) == 1) {
      ++accepted_;
      hold_until_closed(fd);
    }
    SSL_free(ssl);
    ::close(fd);
  }
}

}  // namespace beanpole::testing
