#include "net/tls_probe.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <array>
#include <memory>

#include "conn/rules.hpp"
#include "net/blocking_socket.hpp"
#include "net/tls.hpp"

namespace beanpole::detail {

std::string tls_client_hello(const std::string& host) {
  const std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                              &SSL_CTX_free);
  if (!ctx) return {};
  const std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), &SSL_free);
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  if (!ssl || in == nullptr || out == nullptr) {
    BIO_free(in);
    BIO_free(out);
    ERR_clear_error();
    return {};
  }
  SSL_set_bio(ssl.get(), in, out);  // the session owns both
  endpoint ep;
  ep.host = host;
  prepare_tls_session(ssl.get(), ep);
  SSL_connect(ssl.get());  // writes the ClientHello into `out`, then wants the server's answer
  ERR_clear_error();
  char* data = nullptr;
  const long size = BIO_get_mem_data(out, &data);
  return size > 0 ? std::string(data, static_cast<std::size_t>(size)) : std::string();
}

bool answers_in_tls(const endpoint& ep, std::chrono::milliseconds timeout) {
  if (timeout.count() == 0) timeout = std::chrono::seconds{5};
  const auto start = coarse_clock::now();
  const std::string hello = tls_client_hello(ep.host);
  if (hello.empty()) return false;
  endpoint plain = ep;
  plain.tls.reset();
  blocking_socket socket;
  if (socket.connect(plain, timeout)) return false;
  if (socket.write_all(hello, timeout, start)) return false;
  std::array<char, 8> answer{};
  std::size_t got = 0;
  while (got < 3) {
    const auto left = time_left(start + timeout);
    if (left->count() == 0) return false;
    std::size_t n = 0;
    if (socket.read_some(answer.data() + got, answer.size() - got, *left, n)) return false;
    got += n;
  }
  return conn::begins_like_tls_record({answer.data(), got});
}

}  // namespace beanpole::detail
