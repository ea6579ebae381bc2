#include "errors.hpp"

#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>

#include <beanpole/error.hpp>

namespace beanpole::cli {

void die_of(int sig, const std::string& message) {
  print_error(message);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
  std::_Exit(128 + sig);
}

void throw_errno(std::string_view context) {
  throw command_failure(std::error_code(errno, std::system_category()), std::string(context));
}

int exit_status_of(std::error_code ec) noexcept {
  if (!ec) return exit_ok;
  if (ec == condition::server_answer) return exit_server_answer;
  if (ec == condition::local_misuse) return exit_usage;
  return exit_failure;
}

std::string describe(std::error_code ec, std::string_view context) {
  std::string message = ec.message();
  std::string prefix = context.empty() ? std::string() : std::string(context) + ": ";
  if (ec == condition::server_answer && !status_word(ec).empty()) {
    const std::string word(status_word(ec));
    // The library's messages end in " (WORD)"; the word leads here instead, once.
    const std::string suffix = " (" + word + ")";
    if (message.ends_with(suffix)) message.resize(message.size() - suffix.size());
    return prefix + word + ": " + message;
  }
  return prefix + message;
}

void print_error(std::string_view message) noexcept {
  std::string line = "beanpole: ";
  line.append(message);
  line += '\n';
  std::string_view rest = line;
  while (!rest.empty()) {
    const ssize_t n = ::write(STDERR_FILENO, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace beanpole::cli
