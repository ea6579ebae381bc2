// What both clients share about TLS, written once: the context a `tls_options` describes, the
// per-connection settings (the name to verify and send as SNI), and what a failed handshake
// means as a beanpole error. OpenSSL stays out of this header, so the blocking client's
// translation units do not parse it. Private to the library.
#pragma once

#include <chrono>
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

/// What a client learns from the handshake messages it receives. TLS 1.3 ends the client's
/// handshake before the server has judged the client's certificate, so a refusal (no
/// certificate, an untrusted one) would otherwise show only on the first read, as a lost reply.
/// Both clients wait for the verdict after the handshake: a session ticket (accepted) or an
/// alert (refused).
struct handshake_watch {
  bool certificate_requested = false;  ///< the server asked for a client certificate
  bool ticket = false;                 ///< a session ticket came: the server accepted it
};

/// Reports the handshake messages `ssl` receives into `watch`; null stops it. `watch` must
/// outlive the reporting.
void watch_handshake(ssl_st* ssl, handshake_watch* watch);

/// Whether the server's verdict on the client certificate is still to come after a handshake
/// that succeeded: TLS 1.3, a certificate requested, no ticket yet.
bool verdict_pending(const ssl_st* ssl, const handshake_watch& watch);

/// How long to wait for that verdict, within the connect timeout; a server still silent then is
/// taken as having accepted. Terminators send a session ticket on acceptance (stunnel, HAProxy
/// and nginx do by default) and an alert on refusal, each of which ends the wait at once: only
/// one with tickets turned off makes every mutual-TLS connect wait this long. Not shorter: on a
/// loaded machine a refusal can come hundreds of milliseconds after the handshake, and taken as
/// acceptance it would fail the first command instead of the connect.
inline constexpr std::chrono::milliseconds verdict_wait{1000};

}  // namespace beanpole::detail
