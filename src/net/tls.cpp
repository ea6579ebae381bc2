#include "net/tls.hpp"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "beanpole/error.hpp"

namespace beanpole::detail {
namespace {

/// OpenSSL's reason for the oldest error on this thread's queue, then clears the queue.
std::string drain_errors() {
  std::string out;
  if (const unsigned long e = ERR_peek_error(); e != 0) {
    if (const char* r = ERR_reason_error_string(e)) out = r;
  }
  ERR_clear_error();
  return out;
}

void on_message(int write_p, int /*version*/, int content_type, const void* buf, std::size_t len,
                SSL* /*ssl*/, void* arg) {
  if (write_p != 0 || content_type != SSL3_RT_HANDSHAKE || len == 0) return;
  auto& watch = *static_cast<handshake_watch*>(arg);
  const auto type = *static_cast<const unsigned char*>(buf);
  if (type == SSL3_MT_CERTIFICATE_REQUEST) watch.certificate_requested = true;
  if (type == SSL3_MT_NEWSESSION_TICKET) watch.ticket = true;
}

bool is_ip_literal(const std::string& name) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, name.c_str(), buf) == 1 || inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

}  // namespace

ssl_ctx_st* make_tls_context(const tls_options& opts, std::error_code& ec, std::string& detail) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  const auto fail = [&](std::string what) {
    const std::string reason = drain_errors();
    detail = reason.empty() ? std::move(what) : what + ": " + reason;
    ec = errc::tls_files_invalid;
    if (ctx != nullptr) SSL_CTX_free(ctx);
    return nullptr;
  };
  if (ctx == nullptr) return fail("cannot create a TLS context");
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  // A TLS 1.3 server may send session tickets at any time; with auto-retry a blocking read
  // that finds only a ticket waits for application data instead of failing with WANT_READ.
  SSL_CTX_set_mode(ctx, SSL_MODE_AUTO_RETRY);
  if (opts.ca_file.empty()) {
    if (SSL_CTX_set_default_verify_paths(ctx) != 1) return fail("cannot load the system's CAs");
  } else if (SSL_CTX_load_verify_locations(ctx, opts.ca_file.c_str(), nullptr) != 1) {
    return fail("CA bundle " + opts.ca_file);
  }
  if (opts.cert_file.empty() != opts.key_file.empty()) {
    detail = "a client certificate needs both a certificate and a key file";
    ec = errc::tls_files_invalid;
    SSL_CTX_free(ctx);
    return nullptr;
  }
  if (!opts.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx, opts.cert_file.c_str()) != 1) {
      return fail("client certificate " + opts.cert_file);
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, opts.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      return fail("client key " + opts.key_file);
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
      return fail("client key " + opts.key_file + " does not match " + opts.cert_file);
    }
  }
  ec.clear();
  return ctx;
}

bool prepare_tls_session(ssl_st* ssl, const endpoint& ep) {
  const std::string& name = ep.tls && !ep.tls->server_name.empty() ? ep.tls->server_name : ep.host;
  SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (is_ip_literal(name)) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    return X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str()) == 1;
  }
  // SSL_set_tlsext_host_name, without the macro's C cast.
  return SSL_set1_host(ssl, name.c_str()) == 1 &&
         SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                  const_cast<char*>(name.c_str())) == 1;
}

std::error_code classify_tls_failure(const ssl_st* ssl, unsigned long ssl_error,
                                     std::string& detail) {
  const long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK) {
    detail = X509_verify_cert_error_string(verify);
    if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH) {
      return errc::tls_name_mismatch;
    }
    return errc::tls_certificate_not_verified;
  }
  if (ssl_error == 0) {
    detail = "the server closed the connection during the handshake";
    return errc::tls_handshake_failed;
  }
  if (const char* reason = ERR_reason_error_string(ssl_error)) {
    detail = reason;
  } else {
    detail.clear();
  }
  if (ERR_GET_LIB(ssl_error) == ERR_LIB_SSL) {
    switch (ERR_GET_REASON(ssl_error)) {
      case SSL_R_WRONG_VERSION_NUMBER:
      case SSL_R_PACKET_LENGTH_TOO_LONG:
      case SSL_R_UNKNOWN_PROTOCOL:
      case SSL_R_RECORD_LENGTH_MISMATCH:
      case SSL_R_HTTP_REQUEST:
      case SSL_R_HTTPS_PROXY_REQUEST:
        return errc::tls_not_spoken;
      default:
        break;
    }
  }
  return errc::tls_handshake_failed;
}

void watch_handshake(ssl_st* ssl, handshake_watch* watch) {
  SSL_set_msg_callback(ssl, watch != nullptr ? on_message : nullptr);
  SSL_set_msg_callback_arg(ssl, watch);
}

bool verdict_pending(const ssl_st* ssl, const handshake_watch& watch) {
  return SSL_version(ssl) == TLS1_3_VERSION && watch.certificate_requested && !watch.ticket;
}

std::error_code tls_handshake_timeout(const ssl_st* ssl, std::string& detail) {
  if (BIO_number_read(SSL_get_rbio(ssl)) == 0) {
    detail =
        "no answer to the TLS handshake within the connect timeout (a plain beanstalkd "
        "waits silently)";
    return errc::tls_not_spoken;
  }
  detail = "the TLS handshake did not finish within the connect timeout";
  return errc::connect_timeout;
}

}  // namespace beanpole::detail
