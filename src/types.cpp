#include "beanpole/types.hpp"

#include <ostream>

#include "beanpole/error.hpp"

namespace beanpole {

std::ostream& operator<<(std::ostream& os, job_id id) {
  return os << id.value;
}

std::ostream& operator<<(std::ostream& os, const tube_name& tube) {
  return os << tube.view();
}

bool tube_name::is_valid(std::string_view name) noexcept {
  if (name.empty() || name.size() > max_size || name.front() == '-') return false;
  for (const char c : name) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && std::string_view("-+/;.$_()").find(c) == std::string_view::npos) return false;
  }
  return true;
}

tube_name::tube_name(std::string_view name) {
  if (!is_valid(name)) {
    throw error(
        make_error_code(errc::invalid_tube_name),
        "tube name '" + std::string(name.substr(0, 64)) + (name.size() > 64 ? "...'" : "'"));
  }
  name_.assign(name);
}

std::error_code tube_name::make(std::string_view name, tube_name& out) {
  if (!is_valid(name)) return errc::invalid_tube_name;
  out = tube_name(trusted{}, name);
  return {};
}

}  // namespace beanpole
