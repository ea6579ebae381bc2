// One line of export's NDJSON, as import reads it back. Kept apart from the import command (no
// client, no I/O) so that the fuzz target tests/fuzz/export_line_fuzz.cpp can compile it alone.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <beanpole/options.hpp>
#include <beanpole/types.hpp>

namespace beanpole::cli {

/// A job as an export line describes it: where to put it, its body and its put options.
struct export_line {
  tube_name tube;    ///< The line's "tube", or the override, or "default".
  std::string body;  ///< From "body" (a UTF-8 string) or "body_base64".
  /// "pri" (default 1024) and "ttr" (default 60); the delay a delayed job had left, else 0.
  put_options opts;
  bool bury = false;  ///< "state" was "buried": the job is to be buried again once put
};

/// Decodes one line: a JSON object with a "body" string or valid "body_base64", and optional
/// "tube" (a valid tube name), "pri", "ttr" and "delay" (whole numbers that fit 32 bits
/// unsigned) and "state" ("ready", "delayed" or "buried"). A delayed job keeps the "delay" it had
/// left; the "delay" of a ready job is the one it was once put with, and is ignored. Other fields
/// are ignored. `tube_override`, when set, replaces the line's "tube" (which is then not
/// checked). Returns what is wrong with the line (for a message), or nothing on success; `out`
/// is only meaningful on success. Never throws on any input.
std::optional<std::string> parse_export_line(std::string_view text,
                                             const std::optional<tube_name>& tube_override,
                                             export_line& out);

}  // namespace beanpole::cli
