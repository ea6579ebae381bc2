// What both clients share about TLS, written once: the context a `tls_options` describes, the
// per-connection settings (the name to verify and send as SNI), and what a failed handshake
// means as a beanpole error. OpenSSL stays out of this header, so the blocking client's
// translation units do not parse it. Private to the library.
#pragma once

#include <string>
#include <system_error>

#include "beanpole/endpoint.hpp"

struct ssl_st;
struct ssl_ctx_st;

namespace beanpole::detail {

/// A new OpenSSL context for `opts`: TLS 1.2 or later, peer verification on (there is no way to
/// turn it off), the CA bundle (or the system store) and the client certificate loaded. Null
/// with `errc::tls_files_invalid` and `detail` (which file, OpenSSL's reason) when a file cannot
/// be loaded. The caller owns the result (SSL_CTX_free).
ssl_ctx_st* make_tls_context(const tls_options& opts, std::error_code& ec, std::string& detail);

/// Sets up `ssl` for `ep`: the name to verify (a DNS name or an IP address: the server name, else
/// the host) and SNI (for DNS names only, as RFC 6066 asks). False when OpenSSL refuses the name.
bool prepare_tls_session(ssl_st* ssl, const endpoint& ep);

/// The beanpole error for a TLS failure on `ssl`, from the verification result and the OpenSSL
/// error `ssl_error` (an ERR_get_error() value; 0 when there was none): `tls_name_mismatch`,
/// `tls_certificate_not_verified`, `tls_not_spoken` (the peer's bytes are not TLS records),
/// else `tls_handshake_failed`. `detail` says why in OpenSSL's words.
std::error_code classify_tls_failure(const ssl_st* ssl, unsigned long ssl_error,
                                     std::string& detail);

/// The error for a handshake on `ssl` that the connect timeout cut short: `tls_not_spoken` when
/// the server sent nothing at all (a plain beanstalkd reads a ClientHello as the start of a
/// command line and waits for its end), else `connect_timeout`. `detail` says which.
std::error_code tls_handshake_timeout(const ssl_st* ssl, std::string& detail);

}  // namespace beanpole::detail
