// Where a beanstalkd server listens: a TCP host and port, or a Unix socket path.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace beanpole {

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

  /// A TCP endpoint.
  static endpoint tcp(std::string host, std::uint16_t port = default_port) {
    return endpoint{std::move(host), port, {}};
  }
  /// A Unix-socket endpoint.
  static endpoint unix_socket(std::string path) { return endpoint{{}, 0, std::move(path)}; }

  /// Parses `HOST:PORT`, `HOST` (port 11300), `[IPV6]:PORT`, `[IPV6]` or `unix:PATH`.
  /// Returns `errc::invalid_address` (and leaves `out` alone) for anything else, such as an
  /// empty host, a host holding whitespace or a bracket, a port that is not 1..65535, or an
  /// unbracketed IPv6 literal with a port.
  static std::error_code parse(std::string_view text, endpoint& out);

  /// Whether this names a Unix socket.
  bool is_unix() const noexcept { return !unix_path.empty(); }

  /// `host:port`, `[v6]:port` or `unix:path`: the form `parse` reads back to this endpoint (a
  /// host named `unix` is bracketed too, as `unix:` would name a socket).
  std::string to_string() const;

  /// Same host, port and path (a host name is not resolved to compare).
  friend bool operator==(const endpoint&, const endpoint&) = default;
};

}  // namespace beanpole
