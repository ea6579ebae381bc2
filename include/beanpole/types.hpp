// Value types shared by every layer: job ids, validated tube names, jobs.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>
#include <system_error>

namespace beanpole {

/// A job id as the server assigns it: 64 bits, unique within one server process.
/// A distinct type so that ids do not mix with priorities, counts or seconds.
struct job_id {
  std::uint64_t value = 0;  ///< The number the server gave; 0 is never a real job.

  /// Ids compare by number (the server hands them out in increasing order).
  friend constexpr auto operator<=>(job_id, job_id) = default;
};

/// Writes the id as a decimal number.
std::ostream& operator<<(std::ostream& os, job_id id);

/// Job priorities: smaller is more urgent. 0 is the most urgent; jobs under 1024 count as
/// "urgent" in the server's stats.
using priority = std::uint32_t;

/// The priority the CLI and the examples use when none is given.
inline constexpr priority default_priority = 1024;

/// A tube name that obeys the protocol's rules: 1 to 200 bytes of letters, digits, periods and
/// `-+/;$_()`, not starting with `-`. Constructing one from an invalid string fails, so every tube
/// name that reaches the codec is valid and a bad one is refused before anything is sent.
///
/// Thread safety: a value type; distinct objects may be used from distinct threads.
class tube_name {
 public:
  /// The longest name the server accepts.
  static constexpr std::size_t max_size = 200;

  /// The tube every connection uses and watches when it starts: "default".
  tube_name() : name_("default") {}

  /// Validates `name`. Throws `beanpole::error` with `errc::invalid_tube_name` when it breaks
  /// the rules. Implicit, so that `client.use("emails")` reads naturally.
  tube_name(std::string_view name);  // NOLINT(google-explicit-constructor)
  /// Same as the `string_view` overload.
  tube_name(const char* name) : tube_name(std::string_view(name)) {}  // NOLINT
  /// Same as the `string_view` overload.
  tube_name(const std::string& name) : tube_name(std::string_view(name)) {}  // NOLINT

  /// The non-throwing way in: returns `errc::invalid_tube_name` (and leaves `out` alone) when
  /// `name` breaks the rules.
  static std::error_code make(std::string_view name, tube_name& out);

  /// Whether `name` obeys the protocol's rules.
  static bool is_valid(std::string_view name) noexcept;

  /// The name.
  const std::string& str() const noexcept { return name_; }
  /// The name, as a view.
  std::string_view view() const noexcept { return name_; }

  /// Names compare as their bytes.
  friend bool operator==(const tube_name&, const tube_name&) = default;
  /// Names order as their bytes, so tube names can key ordered containers.
  friend auto operator<=>(const tube_name&, const tube_name&) = default;

 private:
  struct trusted {};
  tube_name(trusted, std::string_view name) : name_(name) {}

  std::string name_;
};

/// Writes the tube's name.
std::ostream& operator<<(std::ostream& os, const tube_name& tube);

/// A job as the server hands it over (reserve, peek): its id and its body, byte for byte.
struct job {
  job_id id;         ///< The job's id.
  std::string body;  ///< The body, any bytes (not NUL-terminated text).

  /// Same id and same body.
  friend bool operator==(const job&, const job&) = default;
};

}  // namespace beanpole

/// Hashes a job id, so ids can key unordered containers.
template <>
struct std::hash<beanpole::job_id> {
  /// The hash of the number.
  std::size_t operator()(beanpole::job_id id) const noexcept {
    return std::hash<std::uint64_t>{}(id.value);
  }
};

/// Hashes a tube name, so names can key unordered containers.
template <>
struct std::hash<beanpole::tube_name> {
  /// The hash of the name's bytes.
  std::size_t operator()(const beanpole::tube_name& t) const noexcept {
    return std::hash<std::string_view>{}(t.view());
  }
};
