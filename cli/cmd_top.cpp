// top: a live view of the server and its tubes. On a terminal it redraws in the alternate
// screen and quits on q or Ctrl-C; otherwise it prints a plain snapshot every interval.
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <beanpole/async_client.hpp>
#include <beanpole/backoff.hpp>

#include "args.hpp"
#include "commands.hpp"
#include "errors.hpp"
#include "io.hpp"
#include "output.hpp"
#include "pool_mode.hpp"
#include "terminal.hpp"
#include "top_pool.hpp"
#include "top_view.hpp"

namespace beanpole::cli {
namespace {

struct top_args {
  std::string interval = "1";
  std::string iterations = "0";
  std::vector<std::string> tubes;
};

/// Enters the alternate screen and leaves it (cursor back, terminal restored) on every way out.
class screen {
 public:
  explicit screen(bool keys) {
    if (keys) raw_.emplace(STDIN_FILENO);
    write_stdout(std::string(ansi::alt_screen_on) + std::string(ansi::cursor_hide));
  }
  ~screen() {
    const std::string restore = std::string(ansi::cursor_show) + std::string(ansi::alt_screen_off);
    [[maybe_unused]] const auto n = ::write(STDOUT_FILENO, restore.data(), restore.size());
  }
  screen(const screen&) = delete;
  screen& operator=(const screen&) = delete;

 private:
  std::optional<raw_mode> raw_;
};

std::string frame(const std::vector<std::string>& lines, int rows) {
  std::string out(ansi::home);
  const auto shown =
      std::min<std::size_t>(lines.size(), static_cast<std::size_t>(std::max(rows, 1)));
  for (std::size_t i = 0; i < shown; ++i) {
    out += lines[i];
    out += ansi::clear_eol;
    if (i + 1 < shown) out += '\n';
  }
  out += ansi::clear_below;
  return out;
}

enum class wake { timeout, quit, resize };

/// Waits until `until`, a key (q quits), a resize or a stop signal, whichever comes first.
wake wait_until(std::chrono::steady_clock::time_point until, bool keys) {
  for (;;) {
    if (signal_watch::stop_signal() != 0) return wake::quit;
    if (signal_watch::take_resize()) return wake::resize;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return wake::timeout;
    pollfd pfd{keys ? STDIN_FILENO : -1, POLLIN, 0};  // fd -1: poll only sleeps
    const int n = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n > 0 && (pfd.revents & POLLIN) != 0) {
      char buf[64];
      const ssize_t got = ::read(STDIN_FILENO, buf, sizeof buf);
      if (got == 0) keys = false;  // stdin closed: only signals and the clock are left
      for (ssize_t i = 0; i < got; ++i) {
        if (buf[i] == 'q' || buf[i] == 'Q') return wake::quit;
      }
    } else if (n > 0) {
      keys = false;  // POLLHUP/POLLERR: stop polling the dead input
    }
  }
}

/// How long before reconnect attempt `attempt`: the async client's reconnect rule (one
/// backoff for the library and the tool: 0.1 s doubling up to 5 s, with jitter).
std::chrono::milliseconds reconnect_wait(unsigned attempt) {
  static std::minstd_rand rng{std::random_device{}()};
  const backoff rule = reconnect_options{}.wait;
  return rule.delay(attempt, std::uniform_real_distribution<double>(0.0, 1.0)(rng));
}

/// top on several servers: the pool's clients reconnect by themselves, so a round where no
/// server answers is only said (on the screen, else on stderr) and the next one tried.
int run_top_pool(const context& ctx, std::chrono::milliseconds interval, std::uint32_t iterations,
                 const std::vector<tube_name>& only) {
  const auto servers = pool_servers(ctx);
  (void)ctx.connection();
  const auto p = open_pool(ctx);
  const bool live = !ctx.json && is_terminal(STDOUT_FILENO);
  const bool keys = live && is_terminal(STDIN_FILENO);
  top_style style;
  for (const auto& s : servers) style.address += (style.address.empty() ? "" : ", ") + s.name;
  style.interactive = keys;
  style.color = live && color_wanted();

  signal_watch signals(live);
  std::optional<screen> scr;
  if (live) scr.emplace(keys);

  std::optional<pool_top_sample> older;
  std::optional<pool_top_sample> latest;
  std::string notice;
  std::uint32_t round = 0;
  const auto draw = [&] {
    const pool_top_sample* before = older ? &*older : nullptr;
    if (ctx.json) {
      print_json(pool_top_json(*latest, before));
    } else if (live) {
      const auto size = size_of(STDOUT_FILENO);
      style.width = size.cols;
      auto lines = render_pool_top(*latest, before, style);
      if (!notice.empty()) lines.insert(lines.begin(), notice);
      write_stdout(frame(lines, size.rows));
    } else {
      std::string out = round > 1 ? "\n" : "";
      for (const auto& l : render_pool_top(*latest, before, style)) out += l + '\n';
      write_stdout(out);
    }
  };
  for (;;) {
    const auto next = std::chrono::steady_clock::now() + interval;
    try {
      auto sample = take_pool_sample(*p, only);
      ++round;
      notice.clear();
      older = std::move(latest);
      latest = std::move(sample);
      draw();
      if (iterations != 0 && round >= iterations) break;
    } catch (const command_failure& e) {
      if (exit_status_of(e.ec) != exit_failure) throw;
      notice = "no server answers (" + describe(e.ec, e.what()) + "); trying again";
      if (live && latest) {
        draw();
      } else {
        print_error("top: " + notice);
      }
      older.reset();  // rates across the gap would mean nothing
    }
    wake w;
    while ((w = wait_until(next, keys)) == wake::resize) {
      if (live && latest) draw();
    }
    if (w == wake::quit) break;
  }
  return exit_ok;
}

int run_top(const context& ctx, const top_args& a) {
  const auto interval = parse_seconds(a.interval, "--interval", false);
  const std::uint32_t iterations = parse_u32(a.iterations, "iterations");
  std::vector<tube_name> only;
  for (const auto& t : a.tubes) only.push_back(parse_tube(t));
  if (ctx.several()) return run_top_pool(ctx, interval, iterations, only);
  ctx.validate();

  std::optional<client> c(ctx.connect());
  const bool live = !ctx.json && is_terminal(STDOUT_FILENO);
  const bool keys = live && is_terminal(STDIN_FILENO);
  top_style style;
  style.address = ctx.server().to_string();
  style.interactive = keys;
  style.color = live && color_wanted();

  signal_watch signals(live);
  std::optional<screen> scr;
  if (live) scr.emplace(keys);

  std::optional<top_sample> older;
  std::optional<top_sample> latest;
  std::string notice;  // shown above the view while reconnecting (live)
  // After a reconnect, rates across the gap would mean nothing (a restarted server counts from
  // zero): the next sample has none.
  bool gap = false;
  std::uint32_t round = 0;
  const auto draw = [&] {
    const top_sample* before = older ? &*older : nullptr;
    if (ctx.json) {
      print_json(top_json(*latest, before));
    } else if (live) {
      const auto size = size_of(STDOUT_FILENO);
      style.width = size.cols;
      auto lines = render_top(*latest, before, style);
      if (!notice.empty()) {
        std::string banner = notice;
        if (style.width > 0 && banner.size() > static_cast<std::size_t>(style.width)) {
          banner.resize(static_cast<std::size_t>(style.width));
        }
        if (style.color) {
          banner = std::string(ansi::reverse) + std::string(ansi::yellow) + banner +
                   std::string(ansi::reset);
        }
        lines.insert(lines.begin(), banner);
      }
      write_stdout(frame(lines, size.rows));
    } else {
      std::string out = round > 1 ? "\n" : "";
      for (const auto& l : render_top(*latest, before, style)) out += l + '\n';
      write_stdout(out);
    }
  };

  // The connection is gone: tries again with the backoff until the server answers, saying so
  // (on the screen, else on stderr). False when the user quit meanwhile.
  const auto reconnect = [&](const command_failure& lost) -> bool {
    const endpoint ep = ctx.server();
    std::string why = describe(lost.ec, lost.what());
    for (unsigned attempt = 1;; ++attempt) {
      const auto wait = reconnect_wait(attempt);
      const std::string text =
          fmt::format("connection to {} lost ({}); reconnecting, attempt {} in {:.1f} s",
                      style.address, why, attempt, static_cast<double>(wait.count()) / 1000.0);
      if (live && latest) {
        notice = text;
        draw();
      } else {
        print_error("top: " + text);
      }
      const auto until = std::chrono::steady_clock::now() + wait;
      wake w;
      while ((w = wait_until(until, keys)) == wake::resize) {
        if (live && latest) draw();
      }
      if (w == wake::quit) return false;
      client fresh(ctx.connection());
      std::error_code ec;
      fresh.connect(ep, ec);
      if (!ec) {
        c.emplace(std::move(fresh));
        notice.clear();
        if (!live) print_error("top: reconnected to " + style.address);
        gap = true;
        return true;
      }
      why = describe(ec, "connect");
    }
  };

  for (;;) {
    std::optional<top_sample> sample;
    try {
      sample = take_sample(*c, only);
    } catch (const command_failure& e) {
      if (exit_status_of(e.ec) != exit_failure) throw;
      if (!reconnect(e)) break;
      continue;
    }
    ++round;
    older = std::exchange(gap, false) ? std::nullopt : std::move(latest);
    latest = std::move(sample);
    const auto next = std::chrono::steady_clock::now() + interval;
    draw();
    if (iterations != 0 && round >= iterations) break;
    wake w;
    while ((w = wait_until(next, keys)) == wake::resize) {
      if (live) draw();
    }
    if (w == wake::quit) break;
  }
  return exit_ok;
}

}  // namespace

void add_top_command(CLI::App& app, context& ctx) {
  auto a = std::make_shared<top_args>();
  auto* cmd = app.add_subcommand("top", "Live view of all tubes, with put/delete rates");
  cmd->group(group_bulk);
  cmd->footer(
      "Shows server totals and, for every tube, ready, reserved, delayed, buried, urgent,\n"
      "waiting, watching and paused jobs with puts and deletes per second.\n"
      "On a terminal: a refreshing screen; q or Ctrl-C quits; colour unless $NO_COLOR is set.\n"
      "Otherwise: a plain snapshot every interval (blank line between), until interrupted.\n"
      "With --json: one JSON object per interval (one per line).\n"
      "When the connection is lost (the server restarts), top says so (on the screen, else on\n"
      "stderr) and reconnects, 0.1 s doubling up to 5 s between attempts, until it is back or\n"
      "you quit; the rates start again from the next two refreshes.\n"
      "With several servers (-a A -a B, or -a A,B): the view shows the totals of the servers\n"
      "that answered, then one line per server (a server down shows why); --json prints\n"
      "{\"time\": T, \"total\": {\"server\": ..., \"tubes\": [...]}, \"servers\": {\"ADDR\": "
      "{...}}},\n"
      "a server that did not answer as {\"error\": \"...\"}. Servers that go down are retried in\n"
      "the background; while none answers, top says so and tries again every interval.");
  cmd->add_option("-i,--interval", a->interval, "Seconds between refreshes")
      ->type_name("SECONDS")
      ->capture_default_str();
  cmd->add_option("-n,--iterations", a->iterations, "Stop after N refreshes (0: never)")
      ->type_name("N")
      ->capture_default_str();
  cmd->add_option("-t,--tube", a->tubes, "Show only this tube (repeatable)")
      ->type_name("TUBE")
      ->allow_extra_args(false);
  cmd->callback([&ctx, a] { ctx.run = [&ctx, a] { return run_top(ctx, *a); }; });
}

}  // namespace beanpole::cli
