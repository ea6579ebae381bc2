#include "line_tally.hpp"

#include <fmt/format.h>

#include <beanpole/error.hpp>

#include "errors.hpp"
#include "output.hpp"

namespace beanpole::cli {
namespace {

/// "line 4", or "lines 4-6, 9 (4)".
std::string lines_of(const std::vector<std::uint64_t>& lines) {
  if (lines.size() == 1) return fmt::format("line {}", lines.front());
  return fmt::format("lines {} ({})", ranges_of(lines), lines.size());
}

/// The same lines as a sed script that prints them: "3p;7,9p;12p".
std::string sed_of(const std::vector<std::uint64_t>& lines, std::optional<std::uint64_t> from) {
  std::string out;
  for (std::size_t i = 0; i < lines.size();) {
    std::size_t j = i;
    while (j + 1 < lines.size() && lines[j + 1] == lines[j] + 1) ++j;
    if (!out.empty()) out += ';';
    out += j == i ? fmt::format("{}p", lines[i]) : fmt::format("{},{}p", lines[i], lines[j]);
    i = j + 1;
  }
  if (from) out += fmt::format("{}{},$p", out.empty() ? "" : ";", *from);
  return out;
}

}  // namespace

std::string ranges_of(const std::vector<std::uint64_t>& lines) {
  std::string out;
  for (std::size_t i = 0; i < lines.size();) {
    std::size_t j = i;
    while (j + 1 < lines.size() && lines[j + 1] == lines[j] + 1) ++j;
    if (!out.empty()) out += ", ";
    out += j == i ? fmt::format("{}", lines[i]) : fmt::format("{}-{}", lines[i], lines[j]);
    i = j + 1;
  }
  return out;
}

void line_tally::record(std::uint64_t line, const bulk_result& r, std::string* out) {
  json j = {{"line", line}};
  std::string plain;  // the line without --json: the id, or nothing
  switch (outcome_of(r)) {
    case put_outcome::acknowledged:
      ++acknowledged_;
      if (r.ec) buried_.push_back(line);
      j["outcome"] = r.ec ? "buried" : "put";
      j["id"] = r.id.value;
      if (!r.server.empty()) {
        j["server"] = r.server;
        j["job"] = id_text(r);
      }
      plain = id_text(r);
      break;
    case put_outcome::refused: {
      const std::string word(r.ec == condition::server_answer ? status_word(r.ec)
                                                              : std::string_view{});
      refused_[word.empty() ? r.ec.message() : word].push_back(line);
      ++refused_count_;
      j["outcome"] = "refused";
      j["error"] = word.empty() ? r.ec.message() : word;
      break;
    }
    case put_outcome::unknown:
      unknown_.push_back(line);
      j["outcome"] = "unknown";
      break;
    case put_outcome::not_sent:
      not_sent_.push_back(line);
      not_sent_why_ = r.ec.message();
      j["outcome"] = "not_sent";
      break;
  }
  if (out != nullptr) *out += (json_ ? dump(j) : plain) + '\n';
}

int line_tally::status() const {
  if (!unknown_.empty() || !not_sent_.empty() || unread_from_) return exit_failure;
  if (refused_count_ > 0 || !buried_.empty()) return exit_server_answer;
  return exit_ok;
}

void line_tally::print_summary(std::uint64_t lines_read) const {
  if (status() == exit_ok) return;
  std::string s =
      fmt::format("{}: {} lines read: {} put", words_.command, lines_read, acknowledged_);
  if (!buried_.empty()) {
    s += fmt::format(" (buried by the server, out of memory: {})", lines_of(buried_));
  }
  for (const auto& [why, lines] : refused_) {
    s += fmt::format("\n  refused ({}): {}", why, lines_of(lines));
  }
  if (!unknown_.empty()) {
    s += fmt::format(
        "\n  outcome unknown: {}\n    (sent, but the connection was lost before the reply: "
        "each may or may not be on the server; check before sending any again)",
        lines_of(unknown_));
  }
  if (!not_sent_.empty() || unread_from_) {
    std::string what;
    if (!not_sent_.empty()) what = lines_of(not_sent_);
    if (unread_from_) {
      what += fmt::format("{}every line from {} on (reading stopped)", what.empty() ? "" : ", and ",
                          *unread_from_);
    }
    s += fmt::format("\n  not sent: {}", what);
    if (!not_sent_why_.empty()) s += fmt::format(" ({})", not_sent_why_);
    // How to resume: the lines not sent, and only them.
    const bool contiguous =
        not_sent_.empty() || not_sent_.back() - not_sent_.front() + 1 == not_sent_.size();
    const bool suffix = contiguous && unread_from_.has_value() &&
                        (not_sent_.empty() || not_sent_.back() + 1 == *unread_from_);
    if (suffix) {
      const std::uint64_t from = not_sent_.empty() ? *unread_from_ : not_sent_.front();
      s += fmt::format("\n  to resume: tail -n +{} {} | beanpole {} (same options)", from,
                       words_.input, words_.command);
    } else {
      s += fmt::format("\n  to resume: sed -n '{}' {} | beanpole {} (same options)",
                       sed_of(not_sent_, unread_from_), words_.input, words_.command);
    }
  }
  print_error(s);
}

}  // namespace beanpole::cli
