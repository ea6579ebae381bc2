#include "exec.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <thread>

#include "errors.hpp"

namespace beanpole::cli {
namespace {

/// Ignores SIGINT and SIGQUIT while alive, restoring the previous dispositions after.
class ignore_interrupts {
 public:
  ignore_interrupts() {
    struct sigaction ign {};
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    ::sigaction(SIGINT, &ign, &old_int_);
    ::sigaction(SIGQUIT, &ign, &old_quit_);
  }
  ~ignore_interrupts() {
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGQUIT, &old_quit_, nullptr);
  }
  ignore_interrupts(const ignore_interrupts&) = delete;
  ignore_interrupts& operator=(const ignore_interrupts&) = delete;

 private:
  struct sigaction old_int_ {};
  struct sigaction old_quit_ {};
};

}  // namespace

int run_command(const std::string& command, std::string_view input,
                const std::vector<std::pair<std::string, std::string>>& env,
                std::chrono::milliseconds tick_every, const std::function<void()>& tick) {
  // Set in our own environment before fork(): the process is single-threaded here, and the
  // child then needs no allocation between fork() and exec().
  for (const auto& [name, value] : env) ::setenv(name.c_str(), value.c_str(), 1);

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw_errno("reserve --exec: pipe");

  ignore_interrupts guard;
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    throw_errno("reserve --exec: fork");
  }
  if (pid == 0) {
    // Exec keeps ignored signals ignored: give the command the defaults it expects.
    ::signal(SIGPIPE, SIG_DFL);
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGQUIT, SIG_DFL);
    ::dup2(pipe_fds[0], STDIN_FILENO);  // dup2 clears O_CLOEXEC on the copy
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(pipe_fds[0]);

  // The body goes in from another thread, so a command that reads slowly (or not at all) can
  // neither block the touches nor deadlock us. A command that exits without reading gets EPIPE
  // here, which only ends the writing (SIGPIPE is ignored by main).
  std::thread writer([fd = pipe_fds[1], input]() mutable {
    while (!input.empty()) {
      const ssize_t n = ::write(fd, input.data(), input.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      input.remove_prefix(static_cast<std::size_t>(n));
    }
    ::close(fd);
  });

  int status = 0;
  auto next_tick = std::chrono::steady_clock::now() + tick_every;
  for (;;) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) {
      status = 0x7f00;  // not ours to wait for any more; report it as failed below
      break;
    }
    if (std::chrono::steady_clock::now() >= next_tick) {
      tick();
      next_tick = std::chrono::steady_clock::now() + tick_every;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  writer.join();
  for (const auto& [name, value] : env) ::unsetenv(name.c_str());

  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 127;
}

}  // namespace beanpole::cli
