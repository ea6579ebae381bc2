#include "beanpole/endpoint.hpp"

#include <charconv>

#include "beanpole/error.hpp"

namespace beanpole {
namespace {

bool parse_port(std::string_view text, std::uint16_t& out) {
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return false;
  if (value == 0 || value > 65535) return false;
  out = static_cast<std::uint16_t>(value);
  return true;
}

}  // namespace

std::error_code endpoint::parse(std::string_view text, endpoint& out) {
  constexpr std::string_view tls_prefix = "tls://";
  if (text.starts_with(tls_prefix)) {
    endpoint inner;
    const auto rest = text.substr(tls_prefix.size());
    if (rest.starts_with("unix:") || rest.starts_with(tls_prefix) || endpoint::parse(rest, inner)) {
      return errc::invalid_address;
    }
    inner.tls = tls_options{};
    out = std::move(inner);
    return {};
  }
  constexpr std::string_view unix_prefix = "unix:";
  if (text.starts_with(unix_prefix)) {
    if (text.size() == unix_prefix.size()) return errc::invalid_address;
    out = unix_socket(std::string(text.substr(unix_prefix.size())));
    return {};
  }
  std::string_view host = text;
  std::string_view port_text;
  if (text.starts_with('[')) {  // [IPv6] or [IPv6]:port
    const auto close = text.find(']');
    if (close == std::string_view::npos) return errc::invalid_address;
    host = text.substr(1, close - 1);
    const auto rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return errc::invalid_address;
      port_text = rest.substr(1);
      if (port_text.empty()) return errc::invalid_address;
    }
  } else if (const auto colon = text.rfind(':'); colon != std::string_view::npos) {
    // More than one colon without brackets would be an IPv6 literal with an ambiguous port.
    if (text.find(':') != colon) return errc::invalid_address;
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (port_text.empty()) return errc::invalid_address;
  }
  // Brackets are in no host name nor IP literal, and a host holding one would not read back
  // from to_string() ("[[x]:1" would be host "[x", written "[x:1").
  if (host.empty() || host.find_first_of(" \t\r\n[]") != std::string_view::npos) {
    return errc::invalid_address;
  }
  std::uint16_t port = default_port;
  if (!port_text.empty() && !parse_port(port_text, port)) return errc::invalid_address;
  out = tcp(std::string(host), port);
  return {};
}

std::string endpoint::to_string() const {
  if (is_unix()) return "unix:" + unix_path;
  // Brackets where `host:port` would not read back: an IPv6 literal's colons, and a host named
  // "unix", which would read as a Unix socket path.
  const bool bracket = host.find(':') != std::string::npos || host == "unix";
  return (is_tls() ? "tls://" : "") + (bracket ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

}  // namespace beanpole
