#include "terminal.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace beanpole::cli {

bool is_terminal(int fd) noexcept {
  return ::isatty(fd) == 1;
}

bool color_wanted() noexcept {
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color != nullptr && *no_color != '\0') return false;
  const char* term = std::getenv("TERM");
  return term == nullptr || std::strcmp(term, "dumb") != 0;
}

terminal_size size_of(int fd) noexcept {
  terminal_size size;
  winsize ws{};
  if (::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
    size.rows = ws.ws_row;
    size.cols = ws.ws_col;
  }
  return size;
}

raw_mode::raw_mode(int fd) : fd_(fd) {
  if (::tcgetattr(fd_, &saved_) != 0) return;
  termios raw = saved_;
  raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
  raw.c_cc[VMIN] = 0;
  raw.c_cc[VTIME] = 0;
  active_ = ::tcsetattr(fd_, TCSANOW, &raw) == 0;
}

raw_mode::~raw_mode() {
  if (active_) ::tcsetattr(fd_, TCSANOW, &saved_);
}

namespace {
volatile std::sig_atomic_t g_stop = 0;
volatile std::sig_atomic_t g_resize = 0;

extern "C" void on_stop(int sig) {
  if (g_stop == 0) g_stop = sig;
}
extern "C" void on_winch(int) {
  g_resize = 1;
}

void install(int sig, void (*handler)(int), struct sigaction& old) {
  struct sigaction sa {};
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: blocking calls return EINTR and the loop looks at the flags
  ::sigaction(sig, &sa, &old);
}
}  // namespace

signal_watch::signal_watch(bool winch) : winch_(winch) {
  g_stop = 0;
  g_resize = 0;
  install(SIGINT, on_stop, old_int_);
  install(SIGTERM, on_stop, old_term_);
  if (winch_) install(SIGWINCH, on_winch, old_winch_);
}

signal_watch::~signal_watch() {
  ::sigaction(SIGINT, &old_int_, nullptr);
  ::sigaction(SIGTERM, &old_term_, nullptr);
  if (winch_) ::sigaction(SIGWINCH, &old_winch_, nullptr);
}

int signal_watch::stop_signal() noexcept {
  return g_stop;
}

bool signal_watch::take_resize() noexcept {
  const bool r = g_resize != 0;
  g_resize = 0;
  return r;
}

}  // namespace beanpole::cli
