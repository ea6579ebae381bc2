#include "args.hpp"

#include <charconv>
#include <limits>
#include <string>

#include <fmt/format.h>

#include "errors.hpp"

namespace beanpole::cli {
namespace {

bool all_digits(std::string_view text) {
  if (text.empty()) return false;
  for (const char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

/// Keeps messages one line long whatever the user typed.
std::string shown(std::string_view text) {
  std::string s(text.substr(0, 64));
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return text.size() > 64 ? s + "..." : s;
}

}  // namespace

std::uint32_t parse_u32(std::string_view text, std::string_view what) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (!all_digits(text) || ec != std::errc{} || end != text.data() + text.size() ||
      value > std::numeric_limits<std::uint32_t>::max()) {
    throw usage_error(fmt::format("invalid {} '{}': expected a whole number from 0 to 4294967295",
                                  what, shown(text)));
  }
  return static_cast<std::uint32_t>(value);
}

job_id parse_job_id(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (!all_digits(text) || ec != std::errc{} || end != text.data() + text.size()) {
    throw usage_error(
        fmt::format("invalid job id '{}': expected a whole number from 0 to 18446744073709551615",
                    shown(text)));
  }
  return job_id{value};
}

tube_name parse_tube(std::string_view text) {
  tube_name tube;
  if (tube_name::make(text, tube)) {
    throw usage_error(fmt::format(
        "invalid tube name '{}': it must be 1 to 200 bytes of A-Z a-z 0-9 - + / ; . $ _ ( ) "
        "and must not start with '-'",
        shown(text)));
  }
  return tube;
}

std::chrono::milliseconds parse_seconds(std::string_view text, std::string_view what,
                                        bool allow_zero) {
  // Whole seconds and milliseconds parsed separately: no locale, no exponent, no "inf".
  const auto dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? std::string_view() : text.substr(dot + 1);
  const bool ok =
      all_digits(whole) && whole.size() <= 9 && (dot == std::string_view::npos || all_digits(frac));
  std::chrono::milliseconds result{0};
  if (ok) {
    long long ms = 0;
    std::from_chars(whole.data(), whole.data() + whole.size(), ms);
    ms *= 1000;
    long long scale = 100;
    for (const char c : frac.substr(0, 3)) {
      ms += (c - '0') * scale;
      scale /= 10;
    }
    result = std::chrono::milliseconds{ms};
  }
  if (!ok || (!allow_zero && result.count() == 0)) {
    throw usage_error(fmt::format("invalid {} '{}': expected a number of seconds{}", what,
                                  shown(text), allow_zero ? "" : " greater than 0"));
  }
  return result;
}

}  // namespace beanpole::cli
