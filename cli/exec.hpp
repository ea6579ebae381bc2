// Running a job's handler: `reserve --exec` (a shell command) and `work` (an argv, no shell).
#pragma once

#include <chrono>
#include <functional>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace beanpole::cli {

/// How `run_command` ended.
struct command_result {
  /// The command's exit status, or 128 + the signal number when a signal ended it (the
  /// shell's convention).
  int status = 0;
  /// The first SIGINT, SIGQUIT, SIGTERM or SIGHUP beanpole received while the command ran
  /// (passed on to it), or 0.
  int signal = 0;
};

/// Runs `command` with `/bin/sh -c`, `input` on its standard input, the current stdout and
/// stderr, and `env` added to the environment. Calls `tick` about every `tick_every` while the
/// command runs (to touch the job).
///
/// The command runs in a process group of its own. While it runs, SIGINT, SIGQUIT, SIGTERM and
/// SIGHUP do not end beanpole: the first one is passed on to the command's process group (the
/// shell and whatever it started), a second one kills that group (SIGKILL), and beanpole waits
/// for the command to end, so that the caller settles the job only once nothing runs it any
/// more. The signal received is returned, for the caller to end the way it would have.
///
/// Throws `command_failure` if the command cannot be started.
command_result run_command(const std::string& command, std::string_view input,
                           const std::vector<std::pair<std::string, std::string>>& env,
                           std::chrono::milliseconds tick_every, const std::function<void()>& tick);

/// Runs `argv` (argv[0] searched in $PATH, no shell) with posix_spawnp: `input` on its standard
/// input (written from a thread of its own; a command that does not read it is fine), the current
/// stdout and stderr, and the current environment with `env` set (in the child's environment
/// only, so threads may call this at once). The command gets a process group of its own, so a
/// ^C meant for beanpole does not reach it, and the default dispositions of every signal. When
/// `stop` is signalled while it runs, its process group gets SIGTERM, then SIGKILL after
/// `kill_after`. Other file descriptors than 0, 1 and 2 are not inherited.
///
/// Returns the command's exit status, or 128 + the signal number when a signal ended it. Throws
/// `command_failure` if the command cannot be started (not found, not executable, ...).
int run_argv(const std::vector<std::string>& argv, std::string_view input,
             const std::vector<std::pair<std::string, std::string>>& env,
             const std::stop_token& stop, std::chrono::milliseconds kill_after);

}  // namespace beanpole::cli
