// Strict parsing of command-line values. Each function throws `usage_error` (exit 2) for a value
// the protocol cannot carry, so nothing is ever sent with a bad argument.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include <beanpole/types.hpp>

namespace beanpole::cli {

/// A decimal number that fits 32 bits unsigned (priority, delay, ttr, seconds, kick bound).
/// Only digits are accepted: no sign, no spaces, no fraction. `what` names it in the message.
std::uint32_t parse_u32(std::string_view text, std::string_view what);

/// A job id: a decimal number that fits 64 bits unsigned.
job_id parse_job_id(std::string_view text);

/// A tube name that obeys the protocol's rules.
tube_name parse_tube(std::string_view text);

/// A duration in seconds, possibly fractional ("10", "0.5"), for --timeout and --interval.
/// Zero is allowed only when `allow_zero`.
std::chrono::milliseconds parse_seconds(std::string_view text, std::string_view what,
                                        bool allow_zero);

}  // namespace beanpole::cli
