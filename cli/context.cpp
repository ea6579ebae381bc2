#include "context.hpp"

#include <cstdlib>

#include <fmt/format.h>

#include "args.hpp"
#include "errors.hpp"

namespace beanpole::cli {

namespace {

// A list of addresses separated by commas; a single unix:PATH is taken whole (a path may hold a
// comma).
void split_into(const std::string& text, std::vector<std::string>& out) {
  if (text.starts_with("unix:") && text.find(",") != std::string::npos) {
    bool all_paths_ok = true;  // "unix:/a,b" is one path unless the rest parse as addresses
    std::size_t start = 0;
    std::vector<std::string> parts;
    for (;;) {
      const auto comma = text.find(',', start);
      parts.push_back(text.substr(start, comma - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    for (std::size_t i = 1; i < parts.size(); ++i) {
      endpoint ep;
      if (parts[i].empty() || endpoint::parse(parts[i], ep)) all_paths_ok = false;
    }
    if (!all_paths_ok) {
      out.push_back(text);
      return;
    }
    out.insert(out.end(), parts.begin(), parts.end());
    return;
  }
  std::size_t start = 0;
  for (;;) {
    const auto comma = text.find(',', start);
    out.push_back(text.substr(start, comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
}

}  // namespace

bool context::given() const {
  for (const auto& a : addr_args) {
    if (!a.empty()) return true;
  }
  return !addr.empty();
}

std::vector<std::string> context::addresses() const {
  std::vector<std::string> out;
  if (given()) {
    for (const auto& a : addr_args) {
      if (!a.empty()) split_into(a, out);
    }
    if (!addr.empty()) split_into(addr, out);
    return out;
  }
  const char* env = std::getenv("BEANSTALKD_ADDR");
  split_into(env != nullptr && *env != '\0' ? std::string(env) : std::string(default_address), out);
  return out;
}

endpoint context::server() const {
  if (several()) {
    throw usage_error("this command works on one server; give a single -a ADDR");
  }
  const std::string text = addresses().front();
  const std::string origin = given() ? "--addr" : "$BEANSTALKD_ADDR";
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
