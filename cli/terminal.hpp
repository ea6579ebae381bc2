// Just enough terminal handling for `top` and the progress bars: ANSI sequences and termios,
// no curses dependency.
#pragma once

#include <csignal>
#include <string>
#include <string_view>

#include <termios.h>

namespace beanpole::cli {

bool is_terminal(int fd) noexcept;

/// Whether to use colour on a terminal: not when $NO_COLOR is set and non-empty
/// (https://no-color.org), nor when $TERM is "dumb".
bool color_wanted() noexcept;

struct terminal_size {
  int rows = 24;
  int cols = 80;
};
/// The size of the terminal on `fd`, or 24x80 when it cannot be told.
terminal_size size_of(int fd) noexcept;

/// Puts a terminal in non-canonical, no-echo mode (keys arrive one by one) and restores it on
/// destruction. Signals stay enabled, so Ctrl-C still raises SIGINT.
class raw_mode {
 public:
  explicit raw_mode(int fd);
  ~raw_mode();
  raw_mode(const raw_mode&) = delete;
  raw_mode& operator=(const raw_mode&) = delete;

 private:
  int fd_;
  bool active_ = false;
  termios saved_{};
};

/// Records SIGINT, SIGTERM and (optionally) SIGWINCH in flags instead of dying, so that a loop
/// can stop cleanly (restore the terminal, finish the current job). The previous handlers come
/// back on destruction. Installed without SA_RESTART so that poll() and sleeps wake up.
class signal_watch {
 public:
  explicit signal_watch(bool winch = false);
  ~signal_watch();
  signal_watch(const signal_watch&) = delete;
  signal_watch& operator=(const signal_watch&) = delete;

  /// The first SIGINT/SIGTERM received, or 0.
  static int stop_signal() noexcept;
  /// Whether SIGWINCH arrived since the last call.
  static bool take_resize() noexcept;

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
  struct sigaction old_winch_ {};
  bool winch_;
};

namespace ansi {
inline constexpr std::string_view alt_screen_on = "\x1b[?1049h";
inline constexpr std::string_view alt_screen_off = "\x1b[?1049l";
inline constexpr std::string_view cursor_hide = "\x1b[?25l";
inline constexpr std::string_view cursor_show = "\x1b[?25h";
inline constexpr std::string_view home = "\x1b[H";
inline constexpr std::string_view clear_eol = "\x1b[K";
inline constexpr std::string_view clear_below = "\x1b[J";
inline constexpr std::string_view reset = "\x1b[0m";
inline constexpr std::string_view bold = "\x1b[1m";
inline constexpr std::string_view reverse = "\x1b[7m";
inline constexpr std::string_view red = "\x1b[31m";
inline constexpr std::string_view green = "\x1b[32m";
inline constexpr std::string_view yellow = "\x1b[33m";
inline constexpr std::string_view dim = "\x1b[2m";
}  // namespace ansi

}  // namespace beanpole::cli
