#include "conn/rules.hpp"

#include <sys/un.h>

#include "beanpole/error.hpp"

namespace beanpole::conn {

bool closes_connection(std::error_code ec) noexcept {
  return ec && ec != condition::server_answer && ec != condition::local_misuse;
}

std::error_code lost_reply_error(bool is_put, std::error_code cause, bool oldest,
                                 bool cancelled) noexcept {
  // A TLS terminator refused the plain bytes: nothing reached beanstalkd, a put included.
  if (cause == errc::tls_reply_to_plain) return cause;
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
    if (ep.is_tls()) return errc::invalid_address;  // TLS is for TCP: no host name to verify
    return {};
  }
  if (ep.host.empty() || ep.port == 0) return errc::invalid_address;
  return {};
}

bool begins_like_tls_record(std::string_view bytes) noexcept {
  // A TLS record starts with its content type (21 alert, 22 handshake) and the version 3.1 to
  // 3.4; no beanstalkd reply starts with a control byte.
  if (bytes.size() < 3) return false;
  const auto type = static_cast<unsigned char>(bytes[0]);
  const auto major = static_cast<unsigned char>(bytes[1]);
  const auto minor = static_cast<unsigned char>(bytes[2]);
  return (type == 21 || type == 22) && major == 3 && minor >= 1 && minor <= 4;
}

std::error_code unexpected_bytes_error(std::error_code parser_error,
                                       std::string_view bytes) noexcept {
  return begins_like_tls_record(bytes) ? make_error_code(errc::tls_reply_to_plain) : parser_error;
}

bool may_be_tls_refusal(std::error_code ec, bool received_any) noexcept {
  if (received_any) return false;
  return ec == errc::connection_lost || ec == std::errc::connection_reset ||
         ec == std::errc::broken_pipe;
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
