// What the tool's HTTP commands (exporter, console) share: the --listen address, its loopback
// rule, and serving until SIGINT/SIGTERM. HTTP itself is cpp-httplib (Debian's
// libcpp-httplib-dev), not hand-written.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace httplib {
class Server;
}

namespace beanpole::cli {

/// A --listen address: HOST:PORT or [IPV6]:PORT; port 0 lets the kernel choose.
struct listen_address {
  std::string host;
  std::uint16_t port = 0;
  /// 127.0.0.0/8, ::1 or "localhost".
  bool loopback = false;
};

/// Parses --listen. usage_error (exit 2) when it is malformed, or when it is not a loopback
/// address and `allow_remote` is false (`command` names the command in the message).
listen_address parse_listen(std::string_view text, bool allow_remote, std::string_view command);

/// Binds `server` to `where`, prints "beanpole COMMAND: listening on http://HOST:PORT/" on
/// stderr, and serves until SIGINT or SIGTERM (then returns exit_ok). Binding failure is
/// reported with exit 3.
int serve_until_signal(httplib::Server& server, const listen_address& where,
                       std::string_view command);

}  // namespace beanpole::cli
