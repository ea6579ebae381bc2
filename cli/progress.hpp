// A one-line progress bar with rate and ETA for export and import. It draws on stderr only when
// stderr is a terminal; otherwise it is silent, so logs and pipes stay clean.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace beanpole::cli {

class progress {
 public:
  /// `label` leads the line ("export"); `total` is the amount of work in units of `update`'s
  /// `done` (jobs, or bytes of input), 0 when unknown (then there is no bar and no ETA).
  progress(std::string label, std::uint64_t total);
  ~progress();
  progress(const progress&) = delete;
  progress& operator=(const progress&) = delete;

  /// `jobs` handled so far and `done` units of the total. Redraws at most ten times a second.
  void update(std::uint64_t jobs, std::uint64_t done);
  /// Replaces the bar with a summary line ("export: 120 jobs in 1.2 s (100 jobs/s)").
  void finish(std::uint64_t jobs);

  bool enabled() const noexcept { return enabled_; }

 private:
  void draw(std::uint64_t jobs, std::uint64_t done);

  std::string label_;
  std::uint64_t total_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace beanpole::cli
