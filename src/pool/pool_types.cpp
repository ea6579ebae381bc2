#include "beanpole/pool_types.hpp"

#include <charconv>

#include "beanpole/error.hpp"

namespace beanpole {

std::string_view to_string(placement_policy policy) noexcept {
  switch (policy) {
    case placement_policy::round_robin:
      return "round-robin";
    case placement_policy::weighted:
      return "weighted";
    case placement_policy::by_tube:
      return "tube";
  }
  return "unknown";
}

std::string_view to_string(server_state state) noexcept {
  switch (state) {
    case server_state::down:
      return "down";
    case server_state::reconnecting:
      return "reconnecting";
    case server_state::up:
      return "up";
    case server_state::draining:
      return "draining";
  }
  return "unknown";
}

std::string pool_job_id::to_string() const {
  std::string text = server;
  text += '/';
  text += std::to_string(id.value);
  return text;
}

std::error_code pool_job_id::parse(std::string_view text, pool_job_id& out) {
  const auto slash = text.rfind('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == text.size()) {
    return make_error_code(errc::invalid_address);
  }
  const std::string_view digits = text.substr(slash + 1);
  for (char c : digits) {
    if (c < '0' || c > '9') return make_error_code(errc::invalid_address);  // no sign, no space
  }
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc{} || end != digits.data() + digits.size() || value == 0) {
    return make_error_code(errc::invalid_address);
  }
  out.server = std::string(text.substr(0, slash));
  out.id = job_id{value};
  return {};
}

}  // namespace beanpole
