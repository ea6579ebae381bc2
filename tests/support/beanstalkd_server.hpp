// A real beanstalkd for tests: started on a free loopback port (or a private Unix socket),
// stopped by pid. Used by the integration tests of the clients, the CLI tests and the worker
// tests.
//
// What `beanstalkd_server` guarantees:
//
// - Loopback only. It listens on 127.0.0.1 (never another address) on a port the kernel reported
//   free (bind to 127.0.0.1:0), never 11300; or on a Unix socket in its own temporary directory.
//   If the server fails to start (say another process took the port in between), it retries with
//   another port, a few times.
// - It is ours. The constructor returns only once the server accepts connections AND a `stats`
//   over such a connection reports the pid of the process we started, so a test never talks to
//   some other beanstalkd that happens to sit on the port. Waiting is bounded (`start_timeout`,
//   5 s by default); on failure it throws `std::runtime_error` whose message holds the server's
//   log.
// - It goes away. The destructor stops the server by pid (SIGTERM, SIGKILL after `stop_grace`,
//   then waitpid: no zombie) and removes the temporary directory (log, socket, binlog). The child
//   also gets PR_SET_PDEATHSIG(SIGKILL), so it dies with the test process even if that is killed
//   (a ctest timeout). Caveat of PR_SET_PDEATHSIG: "parent" means the *thread* that forked, so
//   start and restart a server from a thread that outlives it (the test's main thread), not from
//   a short-lived helper thread.
// - Restarts keep the address. `restart()` (after `stop()` or `kill()`, or while running) starts a
//   new process on the SAME port or socket path with the same arguments and the same binlog
//   directory, so clients can reconnect to `endpoint()` and, with a binlog, find their jobs.
//
// The server's stdout and stderr go to `log_path()` (appended across restarts); `log()` reads it.
//
// Thread safety: none; drive one object from one thread. (Other threads may of course talk to the
// server over the network.)
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "beanpole/endpoint.hpp"

namespace beanpole::testing {

/// How to run the server.
struct server_options {
  /// Extra command-line arguments, e.g. {"-z", "100"} for a maximum job size of 100 bytes.
  /// Do not pass -l, -p or -b here: they are set from the fields below.
  std::vector<std::string> args;
  /// Write-ahead log: pass `-b DIR` with DIR a fresh directory inside the temporary directory
  /// (see `binlog_dir()`), kept across restarts.
  bool binlog = false;
  /// Listen on a Unix socket (`-l unix:PATH`, see `unix_path()`) instead of TCP.
  bool unix_socket = false;
  /// Upper bound on waiting for the server to accept connections (per start attempt).
  std::chrono::milliseconds start_timeout{5000};
  /// How long `stop()` waits after SIGTERM before it sends SIGKILL.
  std::chrono::milliseconds stop_grace{2000};
  /// The program to run. Empty: $BEANPOLE_BEANSTALKD if set, else /usr/bin/beanstalkd.
  std::string executable;

  // Chainable setters, e.g. `server_options{}.with_args({"-z", "100"}).with_binlog()`. (g++ 12
  // warns about designated initializers that leave members out, so tests use these instead.)
  server_options& with_args(std::vector<std::string> a) {
    args = std::move(a);
    return *this;
  }
  server_options& with_binlog(bool on = true) {
    binlog = on;
    return *this;
  }
  server_options& with_unix_socket(bool on = true) {
    unix_socket = on;
    return *this;
  }
  server_options& with_start_timeout(std::chrono::milliseconds t) {
    start_timeout = t;
    return *this;
  }
  server_options& with_stop_grace(std::chrono::milliseconds t) {
    stop_grace = t;
    return *this;
  }
  server_options& with_executable(std::string path) {
    executable = std::move(path);
    return *this;
  }
};

/// A beanstalkd process owned by the test. See the file comment for the guarantees.
class beanstalkd_server {
 public:
  /// Starts the server; throws `std::runtime_error` (with the server's log) if it cannot.
  explicit beanstalkd_server(server_options options = {});
  /// Stops the server (see `stop()`) and removes the temporary directory.
  ~beanstalkd_server();
  beanstalkd_server(const beanstalkd_server&) = delete;
  beanstalkd_server& operator=(const beanstalkd_server&) = delete;

  /// Where clients connect: `127.0.0.1:port`, or the Unix socket.
  beanpole::endpoint endpoint() const;
  /// The TCP port (0 in Unix-socket mode). Stays the same across restarts.
  std::uint16_t port() const noexcept { return port_; }
  /// The Unix socket path (empty in TCP mode).
  const std::string& unix_path() const noexcept { return unix_path_; }
  /// The pid of the running server, or -1 when it is not running.
  pid_t pid() const noexcept { return pid_; }
  /// Whether the process we started is still running (reaps it if it exited on its own).
  bool running();

  /// Stops the server gracefully: SIGTERM, SIGKILL after `stop_grace`, waitpid. No-op when not
  /// running.
  void stop();
  /// Kills the server with SIGKILL at once, like a crash, and reaps it. No-op when not running.
  void kill();
  /// Starts the server again on the same port or socket, with the same arguments and binlog
  /// directory; stops it first if it is running. Throws like the constructor.
  void restart();

  /// Sends `sig` to the running server: SIGUSR1 puts it in drain mode; SIGSTOP / SIGCONT freeze
  /// and thaw it (a server that accepts connections but never answers).
  void signal(int sig);

  /// The private temporary directory (log, socket, binlog).
  const std::filesystem::path& temp_dir() const noexcept { return temp_dir_; }
  /// The binlog directory (empty unless `server_options::binlog`).
  const std::filesystem::path& binlog_dir() const noexcept { return binlog_dir_; }
  /// The file that receives the server's stdout and stderr.
  const std::filesystem::path& log_path() const noexcept { return log_path_; }
  /// The content of the log so far.
  std::string log() const;

  /// The command line of the last start, for messages.
  std::string command_line() const;

 private:
  void start(bool keep_address);
  pid_t spawn(const std::vector<std::string>& argv);
  /// Waits until `pid_` answers on the endpoint; false if the process exited first or the time
  /// ran out (in which case it is killed).
  bool wait_ready(std::string& why);
  void reap_blocking();

  server_options options_;
  std::filesystem::path temp_dir_;
  std::filesystem::path binlog_dir_;
  std::filesystem::path log_path_;
  std::string unix_path_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
  std::vector<std::string> last_argv_;
};

/// A port on 127.0.0.1 that was free a moment ago (bound with port 0, then closed); never 11300.
/// For tests that need an address where nothing listens.
std::uint16_t find_free_loopback_port();

}  // namespace beanpole::testing
