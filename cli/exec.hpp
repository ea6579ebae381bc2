// Running a job's handler for `reserve --exec`.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace beanpole::cli {

/// Runs `command` with `/bin/sh -c`, `input` on its standard input, the current stdout and
/// stderr, and `env` added to the environment. Calls `tick` about every `tick_every` while the
/// command runs (to touch the job). While it waits, SIGINT and SIGQUIT are ignored here (as
/// system() does) and reach the command, so the caller still gets to settle the job.
///
/// Returns the command's exit status, or 128 + the signal number when a signal ended it (the
/// shell's convention). Throws `command_failure` if the command cannot be started.
int run_command(const std::string& command, std::string_view input,
                const std::vector<std::pair<std::string, std::string>>& env,
                std::chrono::milliseconds tick_every, const std::function<void()>& tick);

}  // namespace beanpole::cli
