#include "exec.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "errors.hpp"

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX declares it nowhere

namespace beanpole::cli {
namespace {
/// The signals `run_command` passes on to its command.
constexpr int forwarded_signals[] = {SIGINT, SIGQUIT, SIGTERM, SIGHUP};

std::atomic<int> g_forward_count{0};
std::atomic<int> g_forward_last{0};
static_assert(std::atomic<int>::is_always_lock_free, "used from a signal handler");

extern "C" void on_forwarded_signal(int sig) {
  g_forward_last.store(sig);
  g_forward_count.fetch_add(1);
}

/// While alive, records SIGINT, SIGQUIT, SIGTERM and SIGHUP instead of dying of them (for
/// `run_command` to pass on), restoring the previous dispositions after.
class catch_signals {
 public:
  catch_signals() {
    g_forward_count.store(0);
    g_forward_last.store(0);
    struct sigaction sa {};
    sa.sa_handler = on_forwarded_signal;
    sigemptyset(&sa.sa_mask);
    for (std::size_t i = 0; i < std::size(forwarded_signals); ++i) {
      ::sigaction(forwarded_signals[i], &sa, &old_[i]);
    }
  }
  ~catch_signals() {
    for (std::size_t i = 0; i < std::size(forwarded_signals); ++i) {
      ::sigaction(forwarded_signals[i], &old_[i], nullptr);
    }
  }
  catch_signals(const catch_signals&) = delete;
  catch_signals& operator=(const catch_signals&) = delete;

 private:
  struct sigaction old_[std::size(forwarded_signals)]{};
};

/// Writes `input` to the pipe `fd` (non-blocking) from a thread of its own, then closes it, so
/// a command that reads slowly (or not at all) can neither block the caller nor deadlock with
/// the command's output. A command that exits without reading gets EPIPE here, which only ends
/// the writing (SIGPIPE is ignored by main). Once `finish()` says the command is gone, writing
/// stops as soon as the pipe stays full for a moment (nobody is left to read it).
class stdin_writer {
 public:
  stdin_writer(int fd, std::string_view input)
      : thread_([this, fd, input]() mutable {
          ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
          while (!input.empty()) {
            const ssize_t n = ::write(fd, input.data(), input.size());
            if (n > 0) {
              input.remove_prefix(static_cast<std::size_t>(n));
              continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && errno != EAGAIN) break;  // EPIPE: the command does not read it
            pollfd p{fd, POLLOUT, 0};
            const int r = ::poll(&p, 1, 100);
            if (r == 0 && done_.load()) break;
          }
          ::close(fd);
        }) {}
  ~stdin_writer() { finish(); }
  stdin_writer(const stdin_writer&) = delete;
  stdin_writer& operator=(const stdin_writer&) = delete;

  /// The command has exited: waits for the writing to end.
  void finish() {
    done_.store(true);
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::atomic<bool> done_{false};
  std::thread thread_;
};

/// Polls `pid` until it exits, calling `tick` about every 20 ms meanwhile. Returns its status.
int wait_child(pid_t pid, const std::function<void()>& tick) {
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) return 0x7f00;  // not ours to wait for any more: "failed"
    tick();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

/// The shell's convention: the exit status, or 128 + the signal that ended the command.
int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 127;
}

/// Owns a posix_spawn attribute and file-action set.
struct spawn_setup {
  spawn_setup() {
    ::posix_spawnattr_init(&attr);
    ::posix_spawn_file_actions_init(&actions);
  }
  ~spawn_setup() {
    ::posix_spawnattr_destroy(&attr);
    ::posix_spawn_file_actions_destroy(&actions);
  }
  spawn_setup(const spawn_setup&) = delete;
  spawn_setup& operator=(const spawn_setup&) = delete;
  posix_spawnattr_t attr{};
  posix_spawn_file_actions_t actions{};
};

}  // namespace

command_result run_command(const std::string& command, std::string_view input,
                           const std::vector<std::pair<std::string, std::string>>& env,
                           std::chrono::milliseconds tick_every,
                           const std::function<void()>& tick) {
  // Set in our own environment before fork(): the process is single-threaded here, and the
  // child then needs no allocation between fork() and exec().
  for (const auto& [name, value] : env) ::setenv(name.c_str(), value.c_str(), 1);

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw_errno("reserve --exec: pipe");

  catch_signals guard;  // before fork(): a signal from now on is passed on, never lost
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    throw_errno("reserve --exec: fork");
  }
  if (pid == 0) {
    // A process group of its own, so that a signal passed on reaches whatever the shell
    // started too. Exec keeps ignored signals ignored: give the command the defaults.
    ::setpgid(0, 0);
    for (const int sig : forwarded_signals) ::signal(sig, SIG_DFL);
    ::signal(SIGPIPE, SIG_DFL);
    ::dup2(pipe_fds[0], STDIN_FILENO);  // dup2 clears O_CLOEXEC on the copy
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also here: whichever runs first, the group exists before a kill
  ::close(pipe_fds[0]);

  stdin_writer writer(pipe_fds[1], input);
  auto next_tick = std::chrono::steady_clock::now() + tick_every;
  int passed_on = 0;
  command_result result;
  const int status = wait_child(pid, [&] {
    // The first signal goes to the command as it came; another one kills it.
    const int received = g_forward_count.load();
    if (received > passed_on) {
      if (passed_on == 0) {
        result.signal = g_forward_last.load();
        ::kill(-pid, result.signal);
      } else {
        ::kill(-pid, SIGKILL);
      }
      passed_on = received;
    }
    if (std::chrono::steady_clock::now() >= next_tick) {
      tick();
      next_tick = std::chrono::steady_clock::now() + tick_every;
    }
  });
  writer.finish();
  for (const auto& [name, value] : env) ::unsetenv(name.c_str());
  if (result.signal == 0 && g_forward_count.load() > 0) result.signal = g_forward_last.load();
  // Interrupted: nothing the command started may go on running once the job is settled.
  if (result.signal != 0) ::kill(-pid, SIGKILL);
  result.status = exit_code_of(status);
  return result;
}

int run_argv(const std::vector<std::string>& argv, std::string_view input,
             const std::vector<std::pair<std::string, std::string>>& env,
             const std::stop_token& stop, std::chrono::milliseconds kill_after) {
  if (argv.empty()) throw std::invalid_argument("run_argv: empty argv");
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  // The environment: ours without the names `env` sets, then `env`.
  std::vector<std::string> own;
  own.reserve(env.size());
  for (const auto& [name, value] : env) {
    std::string& entry = own.emplace_back(name);
    entry += '=';
    entry += value;
  }
  std::vector<char*> envp;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    bool overridden = false;
    for (const auto& [name, value] : env) {
      overridden = overridden || (entry.size() > name.size() && entry.starts_with(name) &&
                                  entry[name.size()] == '=');
    }
    if (!overridden) envp.push_back(*e);
  }
  for (auto& e : own) envp.push_back(e.data());
  envp.push_back(nullptr);

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw_errno("pipe");

  spawn_setup setup;
  sigset_t all;
  sigfillset(&all);
  sigset_t none;
  sigemptyset(&none);
  ::posix_spawnattr_setsigdefault(&setup.attr, &all);  // e.g. SIGPIPE, ignored by main
  ::posix_spawnattr_setsigmask(&setup.attr, &none);
  ::posix_spawnattr_setpgroup(&setup.attr, 0);
  ::posix_spawnattr_setflags(
      &setup.attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
  ::posix_spawn_file_actions_adddup2(&setup.actions, pipe_fds[0], STDIN_FILENO);
  ::posix_spawn_file_actions_addclosefrom_np(&setup.actions, STDERR_FILENO + 1);

  pid_t pid = 0;
  const int rc =
      ::posix_spawnp(&pid, args[0], &setup.actions, &setup.attr, args.data(), envp.data());
  ::close(pipe_fds[0]);
  if (rc != 0) {
    ::close(pipe_fds[1]);
    throw command_failure(std::error_code(rc, std::system_category()),
                          "cannot run '" + argv[0] + "'");
  }

  stdin_writer writer(pipe_fds[1], input);
  std::atomic<bool> stopped{false};
  std::optional<std::chrono::steady_clock::time_point> kill_at;
  bool killed = false;
  // The callback only flags (it may run on the worker's strand); the signals go from here.
  std::stop_callback on_stop(stop, [&stopped] { stopped.store(true); });
  const int status = wait_child(pid, [&] {
    if (stopped.load() && !kill_at) {
      ::kill(-pid, SIGTERM);
      kill_at = std::chrono::steady_clock::now() + kill_after;
    }
    if (kill_at && !killed && std::chrono::steady_clock::now() >= *kill_at) {
      ::kill(-pid, SIGKILL);
      killed = true;
    }
  });
  writer.finish();
  return exit_code_of(status);
}

}  // namespace beanpole::cli
