#include "tls_terminator.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "beanstalkd_server.hpp"

#ifndef BEANPOLE_TEST_SUPPORT_DIR
#error "BEANPOLE_TEST_SUPPORT_DIR must name tests/support (for make_test_certs.sh)"
#endif

namespace beanpole::testing {
namespace {

using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::filesystem::path make_temp_dir(const char* pattern) {
  std::string templ = (std::filesystem::temp_directory_path() / pattern).string();
  if (::mkdtemp(templ.data()) == nullptr) {
    throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
  }
  return templ;
}

bool accepts(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

test_certificates::test_certificates() : dir_(make_temp_dir("beanpole-certs-XXXXXX")) {
  const std::string cmd = "bash '" BEANPOLE_TEST_SUPPORT_DIR "/make_test_certs.sh' '" +
                          dir_.string() + "' >'" + (dir_ / "openssl.log").string() + "' 2>&1";
  if (std::system(cmd.c_str()) != 0) {
    std::ifstream in(dir_ / "openssl.log");
    std::stringstream log;
    log << in.rdbuf();
    throw std::runtime_error("make_test_certs.sh failed: " + log.str());
  }
}

test_certificates::~test_certificates() {
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

tls_options test_certificates::trusting() const {
  tls_options o;
  o.ca_file = file("ca.pem");
  return o;
}

tls_options test_certificates::with_client_certificate() const {
  tls_options o = trusting();
  o.cert_file = file("client.pem");
  o.key_file = file("client.key");
  return o;
}

tls_terminator::tls_terminator(const test_certificates& certs, std::uint16_t target_port,
                               bool require_client_certificate) {
  for (int attempt = 0;; ++attempt) {
    port_ = find_free_loopback_port();
    config_ = certs.dir() / ("stunnel-" + std::to_string(port_) + ".conf");
    log_path_ = certs.dir() / ("stunnel-" + std::to_string(port_) + ".log");
    std::ofstream conf(config_);
    conf << "foreground = yes\npid =\ndebug = 5\n"
         << "[beanstalkd]\naccept = 127.0.0.1:" << port_ << "\nconnect = 127.0.0.1:" << target_port
         << "\ncert = " << certs.file("server.pem") << "\nkey = " << certs.file("server.key")
         << "\n";
    if (require_client_certificate) {
      conf << "CAfile = " << certs.file("ca.pem") << "\nverifyChain = yes\nrequireCert = yes\n";
    }
    conf.close();
    try {
      start();
      return;
    } catch (const std::runtime_error&) {
      if (attempt == 3) throw;  // the port was taken in between: try another
    }
  }
}

tls_terminator::~tls_terminator() {
  stop();
}

endpoint tls_terminator::tls_endpoint(tls_options opts) const {
  return endpoint::tcp_tls("127.0.0.1", port_, std::move(opts));
}

void tls_terminator::start() {
  const std::string program = "/usr/bin/stunnel4";
  const std::string conf = config_.string();
  std::vector<char*> argv{const_cast<char*>(program.c_str()), const_cast<char*>(conf.c_str()),
                          nullptr};
  const int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) throw std::runtime_error("tls_terminator: cannot open its log");
  const pid_t parent = ::getpid();
  const pid_t child = ::fork();
  if (child < 0) {
    ::close(log_fd);
    throw std::runtime_error("tls_terminator: fork failed");
  }
  if (child == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGTERM, SIG_DFL);
    ::signal(SIGPIPE, SIG_DFL);
    ::close_range(3, ~0U, 0);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(log_fd);
  pid_ = child;
  const auto until = steady::now() + 5s;
  while (steady::now() < until) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("stunnel exited at start: " + log());
    }
    if (accepts(port_)) return;
    std::this_thread::sleep_for(20ms);
  }
  stop();
  throw std::runtime_error("stunnel did not accept connections within 5 s: " + log());
}

void tls_terminator::stop() {
  if (pid_ < 0) return;
  ::kill(pid_, SIGTERM);
  const auto until = steady::now() + 2s;
  int status = 0;
  while (::waitpid(pid_, &status, WNOHANG) == 0) {
    if (steady::now() >= until) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(10ms);
  }
  pid_ = -1;
}

void tls_terminator::restart() {
  stop();
  // The old listener's port can stay busy for a moment after its process is gone.
  const auto until = steady::now() + 3s;
  for (;;) {
    try {
      start();
      return;
    } catch (const std::runtime_error&) {
      if (steady::now() >= until) throw;
      std::this_thread::sleep_for(50ms);
    }
  }
}

std::string tls_terminator::log() const {
  std::ifstream in(log_path_);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace beanpole::testing
