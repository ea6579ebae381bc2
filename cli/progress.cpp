#include "progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "terminal.hpp"

namespace beanpole::cli {
namespace {

using clock = std::chrono::steady_clock;

std::string clock_time(double seconds) {
  const long long s = std::llround(seconds);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

void put_stderr(const std::string& text) {
  // Best effort: a progress bar that cannot be drawn must not fail the transfer.
  std::string_view rest = text;
  while (!rest.empty()) {
    const ssize_t n = ::write(STDERR_FILENO, rest.data(), rest.size());
    if (n <= 0) return;
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace

progress::progress(std::string label, std::uint64_t total)
    : label_(std::move(label)),
      total_(total),
      enabled_(is_terminal(STDERR_FILENO)),
      start_(clock::now()) {}

progress::~progress() {
  if (drawn_) put_stderr("\r\x1b[K");
}

void progress::update(std::uint64_t jobs, std::uint64_t done) {
  if (!enabled_) return;
  const auto now = clock::now();
  if (drawn_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  draw(jobs, done);
}

void progress::draw(std::uint64_t jobs, std::uint64_t done) {
  const double elapsed = std::chrono::duration<double>(clock::now() - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(jobs) / elapsed : 0.0;
  std::string line = "\r" + label_ + " ";
  if (total_ > 0) {
    const double frac = std::min(1.0, static_cast<double>(done) / static_cast<double>(total_));
    constexpr int width = 24;
    const int filled = static_cast<int>(frac * width);
    line += '[' + std::string(static_cast<std::size_t>(filled), '#') +
            std::string(static_cast<std::size_t>(width - filled), '.') + ']';
    line += fmt::format(" {:3.0f}%", frac * 100);
  }
  line += fmt::format(" {} jobs  {:.1f} jobs/s", jobs, rate);
  if (total_ > 0 && done > 0 && done < total_ && elapsed > 0) {
    const double unit_rate = static_cast<double>(done) / elapsed;
    line += "  ETA " + clock_time(static_cast<double>(total_ - done) / unit_rate);
  }
  const int cols = size_of(STDERR_FILENO).cols;
  if (static_cast<int>(line.size()) > cols) line.resize(static_cast<std::size_t>(cols));
  put_stderr(line + "\x1b[K");
  drawn_ = true;
}

void progress::finish(std::uint64_t jobs) {
  if (!enabled_) return;
  const double elapsed = std::chrono::duration<double>(clock::now() - start_).count();
  put_stderr(fmt::format("\r\x1b[K{}: {} jobs in {:.1f} s ({:.1f} jobs/s)\n", label_, jobs, elapsed,
                         elapsed > 0 ? static_cast<double>(jobs) / elapsed : 0.0));
  drawn_ = false;
}

}  // namespace beanpole::cli
