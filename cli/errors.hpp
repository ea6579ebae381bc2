// How the tool fails: exit codes and the exceptions that carry a failure up to main, where it is
// reported in one place so that every command says it the same way.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace beanpole::cli {

/// The exit statuses of the contract (issue 5). Scripts match on these numbers.
enum exit_status : int {
  exit_ok = 0,
  exit_server_answer = 1,  ///< The server answered with a negative status word.
  exit_usage = 2,          ///< Bad arguments, found before anything was sent.
  exit_failure = 3,        ///< Connection, protocol or local I/O failure.
  exit_exec_failed = 4,    ///< `reserve --exec`: CMD failed, the job was released.
};

/// A usage error: reported as "beanpole: <message>", exit 2. Thrown before anything is sent.
struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// A failure of the library or the system while doing `context` (e.g. "delete 42").
/// Its exit status follows from the code's family; see `exit_status_of`.
struct command_failure : std::runtime_error {
  command_failure(std::error_code code, const std::string& context)
      : std::runtime_error(context), ec(code) {}
  std::error_code ec;
};

/// A failure that already has its final message and status (e.g. `reserve --exec`'s CMD failed).
struct plain_failure : std::runtime_error {
  plain_failure(int exit_status, const std::string& message)
      : std::runtime_error(message), status(exit_status) {}
  int status;
};

/// Throws `command_failure` when `ec` is set.
inline void check(std::error_code ec, std::string_view context) {
  if (ec) throw command_failure(ec, std::string(context));
}

/// Throws `command_failure` for `errno` of a failed system call.
[[noreturn]] void throw_errno(std::string_view context);

/// The exit status for a library or system error code: 1 for server answers, 2 for local
/// misuse, 3 for everything else.
int exit_status_of(std::error_code ec) noexcept;

/// The one-line message (without "beanpole: ") for a failure of `context`. Server answers end in
/// their status word so that scripts can match it.
std::string describe(std::error_code ec, std::string_view context);

/// Prints `message` (see `print_error`), then ends the process the way signal `sig` would have,
/// so that the shell sees an interrupted command rather than a success. For loops that stopped
/// cleanly on SIGINT/SIGTERM (see `signal_watch`).
[[noreturn]] void die_of(int sig, const std::string& message);

/// Prints "beanpole: <message>" and a newline to stderr, in one write.
void print_error(std::string_view message) noexcept;

}  // namespace beanpole::cli
