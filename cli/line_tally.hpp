// What became of every input line of a bulk put (`put --lines`, `import`): each line's outcome
// as it is answered, and at the end one summary and one exit status, so that a user can tell
// which lines are on the server, which may be, and where to resume.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bulk_put.hpp"

namespace beanpole::cli {

/// Line numbers as ranges: "3, 7-9, 12".
std::string ranges_of(const std::vector<std::uint64_t>& lines);

/// How a summary names its command and how to resume it.
struct tally_words {
  std::string command;  ///< "put --lines"
  std::string input;    ///< the input as the resume hint names it: "INPUT", or a file name
};

class line_tally {
 public:
  /// With `as_json`, `record` writes one JSON object a line, else the id (or an empty line).
  line_tally(tally_words words, bool as_json) : words_(std::move(words)), json_(as_json) {}

  /// Records the outcome of input line `line`, and appends its output line to `*out` (none when
  /// `out` is null).
  void record(std::uint64_t line, const bulk_result& r, std::string* out);

  /// Input from this line on was never read (the connection was gone for good).
  void stopped_at(std::uint64_t line) { unread_from_ = line; }

  /// How many lines the server acknowledged (BURIED too: the job exists).
  std::uint64_t acknowledged() const noexcept { return acknowledged_; }

  /// The exit status: 3 when a line's outcome is unknown or it was not sent, 1 when one was
  /// refused (or buried), else 0.
  int status() const;

  /// The summary on stderr, when anything went wrong.
  void print_summary(std::uint64_t lines_read) const;

 private:
  tally_words words_;
  bool json_;
  std::uint64_t acknowledged_ = 0;
  std::vector<std::uint64_t> buried_;
  std::map<std::string, std::vector<std::uint64_t>> refused_;
  std::uint64_t refused_count_ = 0;
  std::vector<std::uint64_t> unknown_;
  std::vector<std::uint64_t> not_sent_;
  std::string not_sent_why_;  // the last error that kept a line from being sent
  std::optional<std::uint64_t> unread_from_;
};

}  // namespace beanpole::cli
