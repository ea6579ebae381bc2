// The JSON rule for job bodies (issue 5): a body that is valid UTF-8 is the JSON string "body";
// any other body is "body_base64" (RFC 4648, with padding), so every byte survives a round trip.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace beanpole::cli {

/// Objects keep the order fields are added in, so output reads as the contract shows it.
using json = nlohmann::ordered_json;

/// Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool is_valid_utf8(std::string_view s) noexcept;

std::string base64_encode(std::string_view bytes);
/// Decodes padded or unpadded base64; false on any other character or a bad length.
bool base64_decode(std::string_view text, std::string& out);

/// Adds "body" or "body_base64" to `obj` according to the rule above.
void set_body(json& obj, std::string_view body);

/// Reads the body back from "body" or "body_base64"; false when neither is a string (or the
/// base64 is invalid).
bool get_body(const json& obj, std::string& out);

/// Compact, one line, UTF-8 kept as is (not \u-escaped). Never throws on invalid UTF-8 in
/// server-supplied text: it is replaced.
std::string dump(const json& value);

}  // namespace beanpole::cli
