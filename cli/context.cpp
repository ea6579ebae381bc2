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
        fmt::format("invalid address '{}' ({}): expected HOST:PORT, [IPV6]:PORT "
                    "or unix:PATH",
                    text, origin));
  }
  return ep;
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
}

client context::connect() const {
  const endpoint ep = server();
  client c(connection());
  std::error_code ec;
  c.connect(ep, ec);
  check(ec, "connect to " + ep.to_string());
  return c;
}

}  // namespace beanpole::cli
