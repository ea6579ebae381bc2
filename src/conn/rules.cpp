#include "conn/rules.hpp"

#include <sys/un.h>

#include "beanpole/error.hpp"

namespace beanpole::conn {

bool closes_connection(std::error_code ec) noexcept {
  return ec && ec != condition::server_answer && ec != condition::local_misuse;
}

std::error_code lost_reply_error(bool is_put, std::error_code cause, bool oldest,
                                 bool cancelled) noexcept {
  if (is_put) return errc::outcome_unknown;
  if (cancelled) return cause;
  // The oldest command is the one the timeout or the broken reply was about: it gets the cause
  // itself, so that both clients report the same error for the same reply.
  if (oldest && (cause == errc::reply_timeout || cause == condition::protocol_violation)) {
    return cause;
  }
  return errc::connection_lost;
}

std::error_code validate(const endpoint& ep) noexcept {
  if (ep.is_unix()) {
    if (ep.unix_path.size() >= sizeof(sockaddr_un::sun_path)) return errc::invalid_address;
    return {};
  }
  if (ep.host.empty() || ep.port == 0) return errc::invalid_address;
  return {};
}

std::string printable_prefix(std::string_view bytes, std::size_t max) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (const char c : bytes.substr(0, max)) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '\r':
        out += "\\r";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      default:
        if (u < 0x20 || u >= 0x7f) {
          out += "\\x";
          out += hex[u >> 4];
          out += hex[u & 0xf];
        } else {
          out += c;
        }
    }
  }
  if (bytes.size() > max) out += "...";
  return out;
}

}  // namespace beanpole::conn
