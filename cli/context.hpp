// What every command shares: the global options and the one way to connect with them.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <beanpole/client.hpp>
#include <beanpole/endpoint.hpp>
#include <beanpole/options.hpp>

namespace beanpole::cli {

/// The address used when neither --addr nor $BEANSTALKD_ADDR is given.
inline constexpr const char* default_address = "127.0.0.1:11300";

struct context {
  // Global options, as CLI11 parsed them (validated later, by the command, before connecting).
  std::string addr;  ///< --addr, every -a joined with ','; empty: $BEANSTALKD_ADDR
  std::vector<std::string> addr_args;  ///< each -a as given (main joins them into `addr`)
  bool json = false;                   ///< --json
  std::string timeout = "10";          ///< --timeout SECONDS
  std::string tls_ca;                  ///< --tls-ca FILE; empty: the system's CAs
  std::string tls_cert;                ///< --tls-cert FILE
  std::string tls_key;                 ///< --tls-key FILE
  std::string tls_server_name;         ///< --tls-server-name NAME; empty: the host

  /// The chosen command's body, set by its CLI11 callback; main runs it after parsing.
  std::function<int()> run;

  /// The addresses as given (--addr, $BEANSTALKD_ADDR, default): each -a, each split at commas.
  std::vector<std::string> addresses() const;
  /// Whether -a gave an address (else $BEANSTALKD_ADDR or the default is used).
  bool given() const;
  /// Whether several servers were given: the commands then act on a pool of them.
  bool several() const { return addresses().size() > 1; }
  /// The address to connect to (--addr, $BEANSTALKD_ADDR, default). usage_error if invalid,
  /// or if several servers were given (for commands that work on one server only).
  endpoint server() const;
  /// Gives a `tls://` endpoint the --tls-* options; leaves others alone.
  void apply_tls(endpoint& ep) const;
  /// Whether any --tls-* option was given (they need a `tls://` address: usage_error if none).
  bool has_tls_options() const;
  /// Connection options from --timeout. usage_error if invalid.
  connection_options connection() const;
  /// Validates the global options (usage_error), so that a command can check all of its
  /// arguments before it connects.
  void validate() const;
  /// Connects; throws `command_failure` ("connect to HOST:PORT: ...") on failure.
  client connect() const;
};

}  // namespace beanpole::cli
