#include "net/tls_session.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>

#include "beanpole/error.hpp"
#include "net/tls.hpp"

namespace beanpole::detail {
namespace {

/// Waits until `fd` is ready for `events` or `until` passes; false on timeout.
bool wait_for(int fd, short events, const deadline& until) {
  for (;;) {
    pollfd pfd{fd, events, 0};
    const auto left = time_left(until);
    const int n =
        ::poll(&pfd, 1, left ? static_cast<int>(std::min<long long>(left->count(), 1 << 30)) : -1);
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return true;  // let the TLS call report the socket's error
  }
}

// The socket BIO writes with write(2), which raises SIGPIPE on a connection the peer closed and
// would kill a program that did not ignore it. This one sends with MSG_NOSIGNAL, as the plain
// path does.
int bio_write(BIO* bio, const char* data, int size) {
  BIO_clear_retry_flags(bio);
  const auto fd = static_cast<int>(reinterpret_cast<std::intptr_t>(BIO_get_data(bio)));
  const ssize_t n = ::send(fd, data, static_cast<std::size_t>(size), MSG_NOSIGNAL);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    BIO_set_retry_write(bio);
  }
  return static_cast<int>(n);
}

int bio_read(BIO* bio, char* buf, int size) {
  BIO_clear_retry_flags(bio);
  const auto fd = static_cast<int>(reinterpret_cast<std::intptr_t>(BIO_get_data(bio)));
  const ssize_t n = ::recv(fd, buf, static_cast<std::size_t>(size), 0);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    BIO_set_retry_read(bio);
  }
  return static_cast<int>(n);
}

long bio_ctrl(BIO* bio, int cmd, long /*num*/, void* ptr) {
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_C_GET_FD:
      if (ptr != nullptr)
        *static_cast<int*>(ptr) =
            static_cast<int>(reinterpret_cast<std::intptr_t>(BIO_get_data(bio)));
      return static_cast<long>(reinterpret_cast<std::intptr_t>(BIO_get_data(bio)));
    default:
      return 0;
  }
}

int bio_create(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

const BIO_METHOD* socket_method() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
                                 "beanpole socket");
    BIO_meth_set_write(m, bio_write);
    BIO_meth_set_read(m, bio_read);
    BIO_meth_set_ctrl(m, bio_ctrl);
    BIO_meth_set_create(m, bio_create);
    return m;
  }();
  return method;
}

/// A BIO of `socket_method` over `fd`; null when OpenSSL is out of memory.
BIO* socket_bio(int fd) {
  BIO* bio = BIO_new(socket_method());
  if (bio != nullptr) BIO_set_data(bio, reinterpret_cast<void*>(static_cast<std::intptr_t>(fd)));
  return bio;
}

}  // namespace

std::unique_ptr<tls_session> tls_session::handshake(int fd, const endpoint& ep,
                                                    const deadline& until, std::error_code& ec,
                                                    std::string& detail) {
  SSL_CTX* ctx = make_tls_context(*ep.tls, ec, detail);
  if (ctx == nullptr) return nullptr;
  SSL* ssl = SSL_new(ctx);
  SSL_CTX_free(ctx);  // the session holds its own reference
  BIO* bio = ssl == nullptr ? nullptr : socket_bio(fd);
  if (ssl == nullptr || bio == nullptr || !prepare_tls_session(ssl, ep)) {
    if (bio != nullptr) BIO_free(bio);
    if (ssl != nullptr) SSL_free(ssl);
    ec = errc::tls_files_invalid;
    detail = "cannot set up a TLS session for the name to verify";
    ERR_clear_error();
    return nullptr;
  }
  SSL_set_bio(ssl, bio, bio);  // the session owns the BIO
  std::unique_ptr<tls_session> session(new tls_session(ssl));
  handshake_watch watch;
  watch_handshake(ssl, &watch);

  const auto failed = [&](std::error_code why) {
    ec = why;
    ERR_clear_error();
    return nullptr;
  };
  // Steps the handshake (or, after it, a peek) until it is done; false with `ec` on failure.
  const auto drive = [&](auto step, const deadline& limit, bool& timed_out) {
    for (;;) {
      ERR_clear_error();
      errno = 0;
      const int rc = step();
      if (rc > 0) return true;
      const int e = SSL_get_error(ssl, rc);
      short events = 0;
      if (e == SSL_ERROR_WANT_READ) events = POLLIN;
      if (e == SSL_ERROR_WANT_WRITE) events = POLLOUT;
      if (events == 0) {
        ec = classify_tls_failure(ssl, e == SSL_ERROR_SSL ? ERR_peek_error() : 0, detail);
        return false;
      }
      if (!wait_for(fd, events, limit)) {
        timed_out = true;
        return false;
      }
    }
  };

  bool timed_out = false;
  if (!drive([&] { return SSL_connect(ssl); }, until, timed_out)) {
    if (timed_out) return failed(tls_handshake_timeout(ssl, detail));
    return failed(ec);
  }

  // The server's verdict on the client certificate (see handshake_watch).
  if (verdict_pending(ssl, watch)) {
    deadline limit = coarse_clock::now() + verdict_wait;
    if (until && *until < *limit) limit = until;
    char byte = 0;
    timed_out = false;
    const bool got_data = drive(
        [&] {
          const int rc = SSL_peek(ssl, &byte, 1);
          // A ticket is all that is wanted: stop as if data had come.
          return rc <= 0 && watch.ticket && SSL_get_error(ssl, rc) == SSL_ERROR_WANT_READ ? 1 : rc;
        },
        limit, timed_out);
    if (!got_data && !timed_out) return failed(ec);
  }
  watch_handshake(ssl, nullptr);
  ec.clear();
  return session;
}

tls_session::~tls_session() {
  SSL_free(ssl_);
}

ssize_t tls_session::send(const char* data, std::size_t size) {
  ERR_clear_error();
  const int rc = SSL_write(ssl_, data, static_cast<int>(std::min<std::size_t>(size, INT_MAX)));
  return rc > 0 ? rc : fail(rc, false);
}

ssize_t tls_session::recv(char* buf, std::size_t size) {
  ERR_clear_error();
  const int rc = SSL_read(ssl_, buf, static_cast<int>(std::min<std::size_t>(size, INT_MAX)));
  return rc > 0 ? rc : fail(rc, true);
}

ssize_t tls_session::fail(int rc, bool reading) {
  const int saved = errno;
  switch (SSL_get_error(ssl_, rc)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      errno = saved == EINTR ? EINTR : EAGAIN;
      return -1;
    case SSL_ERROR_ZERO_RETURN:  // the peer's close_notify
      if (reading) return 0;
      errno = EPIPE;
      return -1;
    case SSL_ERROR_SYSCALL:
      if (saved == 0) {  // the peer closed without close_notify
        if (reading) return 0;
        errno = EPIPE;
        return -1;
      }
      errno = saved;
      return -1;
    default:
      // An alert or a broken record: after the handshake, a refusal that TLS 1.3 delivers late
      // (the client certificate), or a terminator that broke off.
      failure_ = classify_tls_failure(ssl_, ERR_peek_error(), detail_);
      ERR_clear_error();
      errno = EPROTO;
      return -1;
  }
}

}  // namespace beanpole::detail
