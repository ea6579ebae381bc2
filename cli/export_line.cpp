#include "export_line.hpp"

#include <chrono>
#include <cstdint>

#include "json_body.hpp"

namespace beanpole::cli {

std::optional<std::string> parse_export_line(std::string_view text,
                                             const std::optional<tube_name>& tube_override,
                                             export_line& out) {
  const json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded()) return "not valid JSON";
  if (!j.is_object()) return "not a JSON object";
  if (tube_override) {
    out.tube = *tube_override;
  } else if (const auto it = j.find("tube"); it != j.end()) {
    if (!it->is_string() || tube_name::make(it->get_ref<const std::string&>(), out.tube)) {
      return "\"tube\" is not a valid tube name";
    }
  } else {
    out.tube = tube_name();
  }
  const auto u32_field = [&](const char* key, std::uint32_t fallback,
                             std::uint32_t& value) -> bool {
    const auto it = j.find(key);
    if (it == j.end()) {
      value = fallback;
      return true;
    }
    if (!it->is_number_unsigned() || it->get<std::uint64_t>() > 0xFFFFFFFFu) return false;
    value = static_cast<std::uint32_t>(it->get<std::uint64_t>());
    return true;
  };
  std::uint32_t pri = 0;
  std::uint32_t ttr = 0;
  std::uint32_t delay = 0;
  if (!u32_field("pri", default_priority, pri))
    return "\"pri\" is not a number from 0 to 4294967295";
  if (!u32_field("ttr", 60, ttr)) return "\"ttr\" is not a number from 0 to 4294967295";
  if (!u32_field("delay", 0, delay)) return "\"delay\" is not a number from 0 to 4294967295";
  std::string state = "ready";
  if (const auto it = j.find("state"); it != j.end()) {
    if (!it->is_string()) return "\"state\" is not \"ready\", \"delayed\" or \"buried\"";
    state = it->get<std::string>();
    if (state != "ready" && state != "delayed" && state != "buried") {
      return "\"state\" is not \"ready\", \"delayed\" or \"buried\"";
    }
  }
  out.opts = put_options{};
  out.opts.pri = pri;
  out.opts.ttr = std::chrono::seconds(ttr);
  out.opts.delay = std::chrono::seconds(state == "delayed" ? delay : 0);
  out.bury = state == "buried";
  if (!get_body(j, out.body)) return "no \"body\" string, nor valid \"body_base64\"";
  return std::nullopt;
}

}  // namespace beanpole::cli
