// Where a beanstalkd server listens: a TCP host and port, or a Unix socket path; optionally
// behind a TLS terminator (stunnel, HAProxy, an ingress), since beanstalkd has no TLS of its own.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace beanpole {

/// How to speak TLS to a server behind a TLS terminator. A value type.
///
/// The server's certificate is always verified, chain and name: there is no switch to turn
/// verification off. Files are read when a connection is made, so an error in one (missing,
/// not PEM, a key that does not match the certificate) is reported by the connect that reads it
/// (`errc::tls_setup_failed`).
struct tls_options {
  /// PEM file of the certificate authorities trusted to sign the server's certificate.
  /// Default: empty, the system's store (Debian: /etc/ssl/certs).
  std::string ca_file;
  /// PEM file of the client certificate (with its chain) for mutual TLS. Default: empty, no
  /// client certificate. Requires `key_file`.
  std::string cert_file;
  /// PEM file of the private key of `cert_file`. Default: empty. Requires `cert_file`.
  std::string key_file;
  /// The name sent as SNI and verified against the server's certificate (a DNS name or an IP
  /// address). Default: empty, the endpoint's host.
  std::string server_name;

  /// Same files and name.
  friend bool operator==(const tls_options&, const tls_options&) = default;
};

/// The address of a server. A value type.
struct endpoint {
  /// The port beanstalkd listens on by default.
  static constexpr std::uint16_t default_port = 11300;

  /// A host name (resolved at connect time, IPv4 or IPv6, every address tried in turn), an IPv4
  /// or IPv6 literal; empty for a Unix socket.
  std::string host;
  /// TCP port; unused for a Unix socket.
  std::uint16_t port = default_port;
  /// Filesystem path of a Unix socket (`beanstalkd -l unix:/path`); empty for TCP.
  std::string unix_path;
  /// TLS to the server when set (TCP only); plain TCP when empty. Default: empty.
  std::optional<tls_options> tls;

  /// A TCP endpoint.
  static endpoint tcp(std::string host, std::uint16_t port = default_port) {
    return endpoint{std::move(host), port, {}, std::nullopt};
  }
  /// A TCP endpoint spoken to over TLS (see `tls_options`).
  static endpoint tcp_tls(std::string host, std::uint16_t port, tls_options options = {}) {
    return endpoint{std::move(host), port, {}, std::move(options)};
  }
  /// A Unix-socket endpoint.
  static endpoint unix_socket(std::string path) {
    return endpoint{{}, 0, std::move(path), std::nullopt};
  }

  /// Parses `HOST:PORT`, `HOST` (port 11300), `[IPV6]:PORT`, `[IPV6]`, `unix:PATH`, or any of
  /// the TCP forms after `tls://` (TLS with default `tls_options`: the system's CAs, no client
  /// certificate, the host as the name to verify). Returns `errc::invalid_address` (and leaves
  /// `out` alone) for anything else, such as an empty host, a host holding whitespace or a
  /// bracket, a port that is not 1..65535, an unbracketed IPv6 literal with a port, or
  /// `tls://unix:PATH`.
  static std::error_code parse(std::string_view text, endpoint& out);

  /// Whether this names a Unix socket.
  bool is_unix() const noexcept { return !unix_path.empty(); }
  /// Whether connections to this endpoint speak TLS.
  bool is_tls() const noexcept { return tls.has_value(); }

  /// `host:port`, `[v6]:port`, `tls://host:port` or `unix:path`: the form `parse` reads back to
  /// this endpoint (a host named `unix` is bracketed too, as `unix:` would name a socket; the TLS
  /// files are not part of it).
  std::string to_string() const;

  /// Same host, port, path and TLS options (a host name is not resolved to compare).
  friend bool operator==(const endpoint&, const endpoint&) = default;
};

}  // namespace beanpole
