#include "context.hpp"

#include <cstdlib>

#include <fmt/format.h>

#include "args.hpp"
#include "errors.hpp"

namespace beanpole::cli {

endpoint context::server() const {
  std::string text = addr;
  std::string origin = "--addr";
  if (text.empty()) {
    const char* env = std::getenv("BEANSTALKD_ADDR");
    if (env != nullptr && *env != '\0') {
      text = env;
      origin = "$BEANSTALKD_ADDR";
    } else {
      text = default_address;
    }
  }
  endpoint ep;
  if (endpoint::parse(text, ep)) {
    throw usage_error(
        fmt::format("invalid address '{}' ({}): expected HOST:PORT, [IPV6]:PORT, "
                    "tls://HOST:PORT or unix:PATH",
                    text, origin));
  }
  if (has_tls_options() && !ep.is_tls()) {
    throw usage_error(fmt::format(
        "--tls-ca, --tls-cert, --tls-key and --tls-server-name need a tls:// address ({} is {})",
        origin, text));
  }
  apply_tls(ep);
  return ep;
}

void context::apply_tls(endpoint& ep) const {
  if (!ep.tls) return;
  ep.tls->ca_file = tls_ca;
  ep.tls->cert_file = tls_cert;
  ep.tls->key_file = tls_key;
  ep.tls->server_name = tls_server_name;
}

bool context::has_tls_options() const {
  return !tls_ca.empty() || !tls_cert.empty() || !tls_key.empty() || !tls_server_name.empty();
}

connection_options context::connection() const {
  connection_options opts;
  const auto t = parse_seconds(timeout, "--timeout", true);
  opts.connect_timeout = t;
  opts.reply_timeout = t;
  return opts;
}

void context::validate() const {
  (void)server();
  (void)connection();
  if (tls_cert.empty() != tls_key.empty()) {
    throw usage_error("--tls-cert and --tls-key go together (a client certificate and its key)");
  }
}

client context::connect() const {
  const endpoint ep = server();
  client c(connection());
  std::error_code ec;
  c.connect(ep, ec);
  if (ec && !c.last_failure().detail.empty()) {  // a TLS failure: say why, on the same line
    throw plain_failure(exit_status_of(ec),
                        "connect to " + ep.to_string() + ": " + c.last_failure().message());
  }
  check(ec, "connect to " + ep.to_string());
  return c;
}

}  // namespace beanpole::cli
