// Whether a server that broke off a plain connection before answering it speaks TLS. A TLS
// terminator reads a plain command as a broken TLS record; some answer with an alert (the reply
// parser names that), others, stunnel among them, reset the connection without a byte. A reset
// alone could as well be a server that died, so the client asks again, in TLS: a ClientHello on
// a new connection, answered by a TLS record or not. Only a failed connection pays for it.
// Private to the library.
#pragma once

#include <chrono>
#include <string>

#include "beanpole/endpoint.hpp"

namespace beanpole::detail {

/// The bytes of a TLS ClientHello for `host` (sent as SNI when it is a DNS name); empty when
/// OpenSSL cannot make one. Nothing is verified: the answer's first bytes are all that is read.
std::string tls_client_hello(const std::string& host);

/// Connects to `ep` (a plain TCP endpoint), sends `tls_client_hello`, and tells whether the
/// answer begins like a TLS record, all within `timeout` (zero: 5 s, so that a silent server
/// never holds the caller longer). False on any failure.
bool answers_in_tls(const endpoint& ep, std::chrono::milliseconds timeout);

}  // namespace beanpole::detail
