#include "beanpole/error.hpp"

namespace beanpole {
namespace {

/// One row per errc value: the protocol's status word (for server answers) and a message.
struct errc_info {
  std::string_view word;
  const char* message;
};

errc_info info(errc e) noexcept {
  switch (e) {
    case errc::out_of_memory:
      return {"OUT_OF_MEMORY", "server is out of memory (OUT_OF_MEMORY)"};
    case errc::internal_error:
      return {"INTERNAL_ERROR", "server internal error (INTERNAL_ERROR)"};
    case errc::bad_format:
      return {"BAD_FORMAT", "server refused the command line (BAD_FORMAT)"};
    case errc::unknown_command:
      return {"UNKNOWN_COMMAND", "server does not know the command (UNKNOWN_COMMAND)"};
    case errc::expected_crlf:
      return {"EXPECTED_CRLF", "job body was not followed by CRLF (EXPECTED_CRLF)"};
    case errc::job_too_big:
      return {"JOB_TOO_BIG", "job body exceeds the server's max-job-size (JOB_TOO_BIG)"};
    case errc::draining:
      return {"DRAINING", "server is draining and takes no new jobs (DRAINING)"};
    case errc::deadline_soon:
      return {"DEADLINE_SOON", "a reserved job's time to run is about to end (DEADLINE_SOON)"};
    case errc::timed_out:
      return {"TIMED_OUT", "reserve timed out (TIMED_OUT)"};
    case errc::not_found:
      return {"NOT_FOUND", "no such job or tube in that state (NOT_FOUND)"};
    case errc::not_ignored:
      return {"NOT_IGNORED", "cannot ignore the last watched tube (NOT_IGNORED)"};
    case errc::buried:
      return {"BURIED", "server buried the job (BURIED)"};
    case errc::reserve_job_unsupported:
      return {"BAD_FORMAT",
              "this server does not support reserve-job (it needs beanstalkd 1.12 or later)"};
    case errc::corrupt_job:
      return {"",
              "corrupt job: the server sent its body without the closing CRLF (a put torn by a "
              "server crash and replayed from the binlog); bury or delete it by id"};
    case errc::reply_line_too_long:
      return {"", "protocol error: reply line too long"};
    case errc::body_too_large:
      return {"", "protocol error: reply body larger than the configured limit"};
    case errc::bad_number:
      return {"", "protocol error: malformed or overflowing number in reply"};
    case errc::missing_body_crlf:
      return {"", "protocol error: reply body not followed by CRLF"};
    case errc::unknown_reply:
      return {"", "protocol error: unknown reply word"};
    case errc::malformed_reply:
      return {"", "protocol error: reply has the wrong arguments"};
    case errc::unexpected_reply:
      return {"", "protocol error: reply does not answer the command that was sent"};
    case errc::bad_stats:
      return {"", "protocol error: malformed stats or list data"};
    case errc::tls_reply_to_plain:
      return {"",
              "protocol error: the server answered in TLS (a TLS terminator addressed as plain; "
              "use a tls:// address)"};
    case errc::invalid_tube_name:
      return {"",
              "invalid tube name: it must be 1 to 200 bytes of A-Z a-z 0-9 - + / ; . $ _ ( ) "
              "and must not start with '-'"};
    case errc::value_out_of_range:
      return {"",
              "value out of range: priority, delay, ttr and timeouts must fit 32 bits unsigned"};
    case errc::invalid_address:
      return {"", "invalid address: expected HOST:PORT, [IPV6]:PORT or unix:PATH"};
    case errc::tls_files_invalid:
      return {"", "TLS CA bundle, certificate or key could not be loaded"};
    case errc::not_connected:
      return {"", "not connected"};
    case errc::connect_timeout:
      return {"", "connect timed out"};
    case errc::reply_timeout:
      return {"", "no reply within the reply timeout; connection closed"};
    case errc::connection_lost:
      return {"", "connection lost before the reply arrived"};
    case errc::outcome_unknown:
      return {"", "outcome unknown: the put was sent but the connection dropped before its reply"};
    case errc::lost_reservation:
      return {"", "reservation lost: the connection that reserved the job dropped"};
    case errc::tls_handshake_failed:
      return {"", "TLS handshake failed"};
    case errc::tls_certificate_not_verified:
      return {"", "TLS: the server's certificate is not trusted"};
    case errc::tls_name_mismatch:
      return {"", "TLS: the server's certificate does not match the name verified"};
    case errc::tls_not_spoken:
      return {"", "TLS: the server does not speak TLS (a plain server addressed as tls://)"};
  }
  return {"", "unknown beanpole error"};
}

condition family(errc e) noexcept {
  const int v = static_cast<int>(e);
  if (v < 100) return condition::server_answer;
  if (v < 200) return condition::protocol_violation;
  if (v < 300) return condition::local_misuse;
  return condition::connection_failure;
}

class errc_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "beanpole"; }
  std::string message(int ev) const override { return info(static_cast<errc>(ev)).message; }
  std::error_condition default_error_condition(int ev) const noexcept override {
    return std::error_condition(ev, *this);
  }
  bool equivalent(int ev, const std::error_condition& cond) const noexcept override {
    if (cond.category() == condition_category()) {
      return static_cast<int>(family(static_cast<errc>(ev))) == cond.value();
    }
    return cond.category() == *this && cond.value() == ev;
  }
};

/// Socket errors keep their system codes, but they are connection failures all the same:
/// `ec == condition::connection_failure` holds for a reset or a refused connection too.
bool is_connection_failure(const std::error_code& ec) noexcept {
  if (ec.category() != std::system_category() && ec.category() != std::generic_category()) {
    return ec.category().name() == std::string_view("netdb");  // name resolution failed
  }
  switch (static_cast<std::errc>(ec.value())) {
    case std::errc::connection_reset:
    case std::errc::connection_refused:
    case std::errc::connection_aborted:
    case std::errc::broken_pipe:
    case std::errc::not_connected:
    case std::errc::timed_out:
    case std::errc::host_unreachable:
    case std::errc::network_unreachable:
    case std::errc::network_down:
    case std::errc::network_reset:
    case std::errc::address_not_available:
    case std::errc::no_such_file_or_directory:  // a Unix socket path that does not exist
      return true;
    default:
      return false;
  }
}

class condition_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "beanpole.condition"; }
  bool equivalent(const std::error_code& code, int cond) const noexcept override {
    if (code.category() == beanpole::error_category()) {
      return beanpole::error_category().equivalent(code.value(), std::error_condition(cond, *this));
    }
    return static_cast<condition>(cond) == condition::connection_failure &&
           is_connection_failure(code);
  }
  std::string message(int ev) const override {
    switch (static_cast<condition>(ev)) {
      case condition::server_answer:
        return "server answered with a negative status";
      case condition::protocol_violation:
        return "server violated the protocol";
      case condition::local_misuse:
        return "invalid argument (nothing was sent)";
      case condition::connection_failure:
        return "connection failure";
    }
    return "unknown beanpole condition";
  }
};

}  // namespace

const std::error_category& error_category() noexcept {
  static const errc_category instance;
  return instance;
}

const std::error_category& condition_category() noexcept {
  static const condition_category_impl instance;
  return instance;
}

std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

std::error_condition make_error_condition(condition c) noexcept {
  return {static_cast<int>(c), condition_category()};
}

std::string_view status_word(std::error_code ec) noexcept {
  if (ec.category() != error_category()) return {};
  return info(static_cast<errc>(ec.value())).word;
}

std::string failure_info::message() const {
  if (!cause) return "no failure";
  std::string out = cause.message();
  if (!detail.empty()) out += ": " + detail;
  if (!received.empty()) out += " (received \"" + received + "\")";
  return out;
}

}  // namespace beanpole
