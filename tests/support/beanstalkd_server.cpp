#include "beanstalkd_server.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <thread>

namespace beanpole::testing {
namespace {

using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::uint16_t forbidden_port = 11300;  // the default port: a real server may use it

std::string errno_text(std::string_view what) {
  return std::string(what) + ": " + std::strerror(errno);
}

/// Closes a file descriptor at scope exit.
struct fd_closer {
  int fd = -1;
  explicit fd_closer(int f) : fd(f) {}
  fd_closer(const fd_closer&) = delete;
  fd_closer& operator=(const fd_closer&) = delete;
  ~fd_closer() {
    if (fd >= 0) ::close(fd);
  }
};

int millis_left(steady::time_point until) {
  const auto left = std::chrono::ceil<milliseconds>(until - steady::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

/// Waits for `events` on `fd` until `until`; false on timeout or error.
bool wait_for(int fd, short events, steady::time_point until) {
  pollfd pfd{fd, events, 0};
  for (;;) {
    const int n = ::poll(&pfd, 1, millis_left(until));
    if (n > 0) return (pfd.revents & (events | POLLHUP | POLLERR)) != 0;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
}

/// Connects to the server (loopback port or Unix socket), sends `stats` and returns the pid the
/// server reports; -1 when nothing answers properly within `budget`. Independent of the library
/// under test, so that a bug there cannot make the harness talk to the wrong server.
pid_t probe_pid(const std::string& unix_path, std::uint16_t port, milliseconds budget) {
  const auto until = steady::now() + budget;
  sockaddr_storage storage{};
  socklen_t len = 0;
  int family = AF_INET;
  if (!unix_path.empty()) {
    auto* addr = reinterpret_cast<sockaddr_un*>(&storage);
    addr->sun_family = AF_UNIX;
    if (unix_path.size() >= sizeof addr->sun_path) return -1;
    std::memcpy(addr->sun_path, unix_path.c_str(), unix_path.size() + 1);
    len = sizeof(sockaddr_un);
    family = AF_UNIX;
  } else {
    auto* addr = reinterpret_cast<sockaddr_in*>(&storage);
    addr->sin_family = AF_INET;
    addr->sin_port = htons(port);
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof(sockaddr_in);
  }
  const fd_closer sock(::socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (sock.fd < 0) return -1;
  if (::connect(sock.fd, reinterpret_cast<const sockaddr*>(&storage), len) != 0) {
    if (errno != EINPROGRESS && errno != EAGAIN) return -1;
    if (!wait_for(sock.fd, POLLOUT, until)) return -1;
    int err = 0;
    socklen_t err_len = sizeof err;
    if (::getsockopt(sock.fd, SOL_SOCKET, SO_ERROR, &err, &err_len) != 0 || err != 0) return -1;
  }
  std::string_view request = "stats\r\n";
  while (!request.empty()) {
    if (!wait_for(sock.fd, POLLOUT, until)) return -1;
    const ssize_t n = ::send(sock.fd, request.data(), request.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return -1;
    }
    request.remove_prefix(static_cast<std::size_t>(n));
  }
  // "OK <bytes>\r\n<data>\r\n"
  std::string in;
  std::size_t want = std::string::npos;
  while (want == std::string::npos || in.size() < want) {
    if (!wait_for(sock.fd, POLLIN, until)) return -1;
    char buf[4096];
    const ssize_t n = ::recv(sock.fd, buf, sizeof buf, 0);
    if (n == 0) return -1;
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return -1;
    }
    in.append(buf, static_cast<std::size_t>(n));
    if (want == std::string::npos) {
      const auto eol = in.find("\r\n");
      if (eol == std::string::npos) continue;
      if (in.compare(0, 3, "OK ") != 0) return -1;
      want = eol + 2 + std::strtoull(in.c_str() + 3, nullptr, 10) + 2;
    }
  }
  const auto at = in.find("\npid: ");
  if (at == std::string::npos) return -1;
  return static_cast<pid_t>(std::strtol(in.c_str() + at + 6, nullptr, 10));
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "ended with wait status " + std::to_string(status);
}

std::filesystem::path make_temp_dir() {
  // Unix socket paths are limited to 107 bytes: use /tmp when TMPDIR is long.
  std::filesystem::path base;
  std::error_code ec;
  base = std::filesystem::temp_directory_path(ec);
  if (ec || base.native().size() > 60) base = "/tmp";
  std::string pattern = (base / "beanpole-test-XXXXXX").native();
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error(errno_text("beanstalkd_server: mkdtemp " + pattern));
  }
  return pattern;
}

}  // namespace

std::uint16_t find_free_loopback_port() {
  for (int attempt = 0; attempt < 100; ++attempt) {
    const fd_closer sock(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (sock.fd < 0) throw std::runtime_error(errno_text("find_free_loopback_port: socket"));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = 0;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(sock.fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      throw std::runtime_error(errno_text("find_free_loopback_port: bind"));
    }
    socklen_t len = sizeof addr;
    if (::getsockname(sock.fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error(errno_text("find_free_loopback_port: getsockname"));
    }
    const std::uint16_t port = ntohs(addr.sin_port);
    if (port != 0 && port != forbidden_port) return port;
  }
  throw std::runtime_error("find_free_loopback_port: no port found");
}

beanstalkd_server::beanstalkd_server(server_options options) : options_(std::move(options)) {
  if (options_.executable.empty()) {
    const char* env = std::getenv("BEANPOLE_BEANSTALKD");
    options_.executable = env != nullptr && *env != '\0' ? env : "/usr/bin/beanstalkd";
  }
  if (::access(options_.executable.c_str(), X_OK) != 0) {
    throw std::runtime_error(errno_text("beanstalkd_server: cannot run " + options_.executable) +
                             " (set BEANPOLE_BEANSTALKD to the beanstalkd binary)");
  }
  temp_dir_ = make_temp_dir();
  log_path_ = temp_dir_ / "beanstalkd.log";
  if (options_.unix_socket) unix_path_ = (temp_dir_ / "beanstalkd.sock").native();
  if (options_.binlog) {
    binlog_dir_ = temp_dir_ / "binlog";
    std::filesystem::create_directory(binlog_dir_);
  }
  try {
    start(false);
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove_all(temp_dir_, ec);
    throw;
  }
}

beanstalkd_server::~beanstalkd_server() {
  try {
    stop();
  } catch (...) {  // NOLINT(bugprone-empty-catch): a destructor must not throw
  }
  std::error_code ec;
  std::filesystem::remove_all(temp_dir_, ec);
}

beanpole::endpoint beanstalkd_server::endpoint() const {
  if (!unix_path_.empty()) return beanpole::endpoint::unix_socket(unix_path_);
  return beanpole::endpoint::tcp("127.0.0.1", port_);
}

bool beanstalkd_server::running() {
  if (pid_ < 0) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_ || (r < 0 && errno == ECHILD)) {
    pid_ = -1;
    return false;
  }
  return true;
}

void beanstalkd_server::stop() {
  if (pid_ < 0) return;
  ::kill(pid_, SIGTERM);
  ::kill(pid_, SIGCONT);  // a frozen (SIGSTOP) server must run to act on SIGTERM
  const auto until = steady::now() + options_.stop_grace;
  while (steady::now() < until) {
    if (!running()) return;
    std::this_thread::sleep_for(milliseconds{5});
  }
  kill();
}

void beanstalkd_server::kill() {
  if (pid_ < 0) return;
  ::kill(pid_, SIGKILL);
  reap_blocking();
}

void beanstalkd_server::reap_blocking() {
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

void beanstalkd_server::restart() {
  stop();
  start(true);
}

void beanstalkd_server::signal(int sig) {
  if (pid_ < 0) throw std::logic_error("beanstalkd_server::signal: server not running");
  if (::kill(pid_, sig) != 0) throw std::runtime_error(errno_text("beanstalkd_server::signal"));
}

std::string beanstalkd_server::log() const {
  std::ifstream in(log_path_, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string beanstalkd_server::command_line() const {
  std::string out;
  for (const auto& a : last_argv_) {
    if (!out.empty()) out += ' ';
    out += a;
  }
  return out;
}

void beanstalkd_server::start(bool keep_address) {
  // A port may be taken by someone else between our probe bind and the server's bind: retry
  // with a fresh one. A restart must keep its address, and a socket path is ours alone.
  const bool may_move = !keep_address && unix_path_.empty();
  const int attempts = may_move ? 8 : 1;
  std::string failures;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    if (may_move) port_ = find_free_loopback_port();
    std::vector<std::string> argv{options_.executable};
    if (!unix_path_.empty()) {
      std::error_code ec;
      std::filesystem::remove(unix_path_, ec);  // a stale socket file of a killed server
      argv.insert(argv.end(), {"-l", "unix:" + unix_path_});
    } else {
      if (port_ == 0 || port_ == forbidden_port) {
        throw std::logic_error("beanstalkd_server: refusing port " + std::to_string(port_));
      }
      argv.insert(argv.end(), {"-l", "127.0.0.1", "-p", std::to_string(port_)});
    }
    if (!binlog_dir_.empty()) argv.insert(argv.end(), {"-b", binlog_dir_.native()});
    argv.insert(argv.end(), options_.args.begin(), options_.args.end());
    last_argv_ = argv;

    const auto log_before = log().size();
    pid_ = spawn(argv);
    std::string why;
    if (wait_ready(why)) return;
    failures +=
        "  attempt " + std::to_string(attempt + 1) + " (" + command_line() + "): " + why + "\n";
    // Only an address conflict is worth another port; a bad argument fails the same way again.
    if (log().find("bind", log_before) == std::string::npos) break;
  }
  throw std::runtime_error("beanstalkd_server: could not start beanstalkd\n" + failures +
                           "--- server log (" + log_path_.native() + ") ---\n" + log());
}

pid_t beanstalkd_server::spawn(const std::vector<std::string>& argv) {
  // Everything the child needs is prepared before fork: after it, only async-signal-safe calls.
  std::vector<char*> cargv;
  cargv.reserve(argv.size() + 1);
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);

  const fd_closer log_fd(
      ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (log_fd.fd < 0) throw std::runtime_error(errno_text("beanstalkd_server: open log"));
  const fd_closer null_fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (null_fd.fd < 0) throw std::runtime_error(errno_text("beanstalkd_server: open /dev/null"));
  const pid_t parent = ::getpid();

  const pid_t child = ::fork();
  if (child < 0) throw std::runtime_error(errno_text("beanstalkd_server: fork"));
  if (child == 0) {
    // Die with the test process, even when it is killed (ctest timeout).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);
    ::dup2(null_fd.fd, STDIN_FILENO);
    ::dup2(log_fd.fd, STDOUT_FILENO);
    ::dup2(log_fd.fd, STDERR_FILENO);
    // The test process may block or ignore signals; the server must start with defaults.
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGTERM, SIG_DFL);
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGUSR1, SIG_DFL);
    ::close_range(3, ~0U, 0);  // no inherited sockets or files (failure is harmless)
    ::execv(cargv[0], cargv.data());
    static constexpr char msg[] = "beanstalkd_server: execv failed\n";
    [[maybe_unused]] const auto n = ::write(STDERR_FILENO, msg, sizeof msg - 1);
    ::_exit(127);
  }
  return child;
}

bool beanstalkd_server::wait_ready(std::string& why) {
  const auto until = steady::now() + options_.start_timeout;
  pid_t other = -1;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      why = describe_status(status);
      if (other > 0) why += " (pid " + std::to_string(other) + " answers on this port)";
      return false;
    }
    const auto budget = std::min<milliseconds>(milliseconds{500}, milliseconds{millis_left(until)});
    const pid_t got = probe_pid(unix_path_, port_, budget);
    if (got == pid_) return true;
    if (got > 0) other = got;  // another beanstalkd holds the port: ours will fail to bind
    if (steady::now() >= until) {
      why = "not ready within " + std::to_string(options_.start_timeout.count()) + " ms";
      kill();
      return false;
    }
    std::this_thread::sleep_for(milliseconds{10});
  }
}

}  // namespace beanpole::testing
