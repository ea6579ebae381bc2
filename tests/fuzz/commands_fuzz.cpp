// libFuzzer target for command validation: the CLI's argument checks (cli/args.hpp), server
// addresses (endpoint::parse), tube names (tube_name) and the commands' own checks and encoding
// (proto/commands.hpp).
//
// The input is a command line as a user would give it, `word arg arg...`, then '\n' and a put's
// body; the seeds (corpus/commands) are the command lines sent to a real beanstalkd while the
// reply seeds were captured. Properties:
// - every argument is accepted by the CLI exactly when a plain restatement of the rule accepts
//   it, and a refusal's message is one printable line;
// - a server address that parses is usable and reads back from its own `to_string()`;
// - `tube_name::make`, `is_valid` and the throwing constructor agree;
// - a command refuses a number outside 32 bits (negative too) with `value_out_of_range` and
//   writes nothing; otherwise it writes exactly `word args...\r\n` (and `body\r\n` for put), a
//   line no longer than the server's 224 bytes.
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "args.hpp"
#include "beanpole/endpoint.hpp"
#include "beanpole/error.hpp"
#include "beanpole/proto/commands.hpp"
#include "beanpole/types.hpp"
#include "errors.hpp"
#include "fuzz_check.hpp"

namespace {

using namespace beanpole;
using namespace beanpole::proto;
using std::chrono::seconds;

constexpr std::uint64_t u32_max = std::numeric_limits<std::uint32_t>::max();

// ------------------------------------------------------------------ the rules, restated plainly

/// Decimal digits only, at least one, value up to `max`; the value in `out`.
bool oracle_number(std::string_view text, std::uint64_t max, std::uint64_t& out) {
  if (text.empty()) return false;
  std::uint64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return false;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (max - digit) / 10) return false;  // value * 10 + digit > max
    value = value * 10 + digit;
  }
  out = value;
  return true;
}

/// 1 to 200 bytes of A-Z a-z 0-9 - + / ; . $ _ ( ), not starting with '-'.
bool oracle_tube(std::string_view name) {
  constexpr std::string_view allowed =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-+/;.$_()";
  return !name.empty() && name.size() <= 200 && name[0] != '-' &&
         name.find_first_not_of(allowed) == std::string_view::npos;
}

/// Whole seconds (at most 9 digits), optionally '.' and at least one digit, in milliseconds
/// (digits past the third after the point are dropped).
std::optional<long long> oracle_seconds(std::string_view text) {
  const auto dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  std::uint64_t value = 0;
  if (whole.size() > 9 || !oracle_number(whole, u32_max, value)) return std::nullopt;
  auto ms = static_cast<long long>(value) * 1000;
  if (dot != std::string_view::npos) {
    const std::string_view frac = text.substr(dot + 1);
    if (frac.empty() || frac.find_first_not_of("0123456789") != std::string_view::npos) {
      return std::nullopt;
    }
    const long long scale[] = {100, 10, 1};
    for (std::size_t i = 0; i < frac.size() && i < 3; ++i) ms += (frac[i] - '0') * scale[i];
  }
  return ms;
}

// ------------------------------------------------------------------------------ the CLI's checks

/// A refusal is a usage_error whose message is one printable line.
template <class F>
bool cli_accepts(F&& parse) {
  try {
    parse();
    return true;
  } catch (const cli::usage_error& e) {
    for (const char c : std::string_view(e.what())) {
      FUZZ_CHECK(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
    }
    return false;
  }
}

void check_cli(std::string_view arg) {
  std::uint64_t want = 0;
  std::uint32_t got32 = 0;
  const bool u32_ok = cli_accepts([&] { got32 = cli::parse_u32(arg, "value"); });
  FUZZ_CHECK(u32_ok == oracle_number(arg, u32_max, want));
  if (u32_ok) FUZZ_CHECK(got32 == want);

  job_id id;
  const bool id_ok = cli_accepts([&] { id = cli::parse_job_id(arg); });
  FUZZ_CHECK(id_ok == oracle_number(arg, std::numeric_limits<std::uint64_t>::max(), want));
  if (id_ok) FUZZ_CHECK(id.value == want);

  tube_name tube;
  const bool tube_ok = cli_accepts([&] { tube = cli::parse_tube(arg); });
  FUZZ_CHECK(tube_ok == oracle_tube(arg));
  if (tube_ok) FUZZ_CHECK(tube.view() == arg);

  const auto ms = oracle_seconds(arg);
  for (const bool allow_zero : {false, true}) {
    std::chrono::milliseconds got{};
    const bool ok = cli_accepts([&] { got = cli::parse_seconds(arg, "timeout", allow_zero); });
    FUZZ_CHECK(ok == (ms && (allow_zero || *ms > 0)));
    if (ok) FUZZ_CHECK(got.count() == *ms);
  }
}

// ------------------------------------------------------------------- the library's own checks

void check_tube_name(std::string_view arg) {
  const bool valid = tube_name::is_valid(arg);
  FUZZ_CHECK(valid == oracle_tube(arg));
  tube_name made("before");
  const std::error_code ec = tube_name::make(arg, made);
  FUZZ_CHECK(valid ? !ec && made.view() == arg
                   : ec == errc::invalid_tube_name && made.view() == "before");
  bool thrown = false;
  try {
    const tube_name constructed(arg);
    FUZZ_CHECK(constructed.view() == arg);
  } catch (const beanpole::error& e) {
    thrown = true;
    FUZZ_CHECK(e.code() == errc::invalid_tube_name);
  }
  FUZZ_CHECK(thrown == !valid);
}

/// A number as a user might mean it: signed, any size; empty when not a number at all.
std::optional<long long> signed_number(std::string_view text) {
  long long value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

/// Encodes `cmd` into a buffer holding `prefix`; checks the all-or-nothing rule and the line.
template <class Command>
void check_encode(const Command& cmd, bool in_range, const std::string& want_line,
                  std::string_view body = {}, bool has_body = false) {
  const std::string prefix = "earlier command\r\n";
  std::string out = prefix;
  const std::error_code ec = cmd.encode(out);
  if (!in_range) {
    FUZZ_CHECK(ec == errc::value_out_of_range);
    FUZZ_CHECK(out == prefix);  // nothing written
    return;
  }
  FUZZ_CHECK(!ec);
  std::string want = prefix + want_line + "\r\n";
  if (has_body) want += std::string(body) + "\r\n";
  FUZZ_CHECK(out == want);
  FUZZ_CHECK(want_line.size() + 2 <= 224);
}

/// The command `word args` through the library, when its arguments have the right types.
void check_command(std::string_view word, const std::vector<std::string_view>& args,
                   std::string_view body) {
  std::vector<std::optional<long long>> n;
  std::vector<std::optional<tube_name>> t;
  for (const auto a : args) {
    n.push_back(signed_number(a));
    tube_name tube;
    t.push_back(tube_name::make(a, tube) ? std::nullopt : std::optional(tube));
  }
  const auto fits = [](long long v) { return v >= 0 && static_cast<std::uint64_t>(v) <= u32_max; };
  const auto id_of = [](long long v) { return job_id{static_cast<std::uint64_t>(v)}; };
  const auto arity = [&](std::size_t k) { return args.size() == k; };
  const std::string w(word);

  if (word == "put" && arity(4) && n[0] && n[1] && n[2] && fits(*n[0])) {
    const put_command cmd{static_cast<priority>(*n[0]), seconds(*n[1]), seconds(*n[2]), body};
    check_encode(cmd, fits(*n[1]) && fits(*n[2]),
                 "put " + std::to_string(*n[0]) + ' ' + std::to_string(*n[1]) + ' ' +
                     std::to_string(*n[2]) + ' ' + std::to_string(body.size()),
                 body, true);
  } else if ((word == "use" || word == "watch" || word == "ignore" || word == "stats-tube") &&
             arity(1) && t[0]) {
    const std::string line = w + ' ' + t[0]->str();
    if (word == "use") check_encode(use_command{*t[0]}, true, line);
    if (word == "watch") check_encode(watch_command{*t[0]}, true, line);
    if (word == "ignore") check_encode(ignore_command{*t[0]}, true, line);
    if (word == "stats-tube") check_encode(stats_tube_command{*t[0]}, true, line);
  } else if (word == "pause-tube" && arity(2) && t[0] && n[1]) {
    check_encode(pause_tube_command{*t[0], seconds(*n[1])}, fits(*n[1]),
                 "pause-tube " + t[0]->str() + ' ' + std::to_string(*n[1]));
  } else if (word == "reserve-with-timeout" && arity(1) && n[0]) {
    check_encode(reserve_with_timeout_command{seconds(*n[0])}, fits(*n[0]),
                 w + ' ' + std::to_string(*n[0]));
  } else if (word == "kick" && arity(1) && n[0] && *n[0] >= 0) {
    check_encode(kick_command{static_cast<std::uint64_t>(*n[0])}, fits(*n[0]),
                 w + ' ' + std::to_string(*n[0]));
  } else if (arity(1) && n[0] && *n[0] >= 0) {
    const std::string line = w + ' ' + std::to_string(*n[0]);
    const job_id id = id_of(*n[0]);
    if (word == "reserve-job") check_encode(reserve_job_command{id}, true, line);
    if (word == "delete") check_encode(delete_command{id}, true, line);
    if (word == "touch") check_encode(touch_command{id}, true, line);
    if (word == "peek") check_encode(peek_command{id}, true, line);
    if (word == "kick-job") check_encode(kick_job_command{id}, true, line);
    if (word == "stats-job") check_encode(stats_job_command{id}, true, line);
  } else if (word == "release" && arity(3) && n[0] && n[1] && n[2] && *n[0] >= 0 && fits(*n[1])) {
    check_encode(release_command{id_of(*n[0]), static_cast<priority>(*n[1]), seconds(*n[2])},
                 fits(*n[2]),
                 "release " + std::to_string(*n[0]) + ' ' + std::to_string(*n[1]) + ' ' +
                     std::to_string(*n[2]));
  } else if (word == "bury" && arity(2) && n[0] && n[1] && *n[0] >= 0 && fits(*n[1])) {
    check_encode(bury_command{id_of(*n[0]), static_cast<priority>(*n[1])}, true,
                 "bury " + std::to_string(*n[0]) + ' ' + std::to_string(*n[1]));
  } else if (arity(0)) {
    if (word == "reserve") check_encode(reserve_command{}, true, w);
    if (word == "peek-ready") check_encode(peek_state_command{job_state::ready}, true, w);
    if (word == "peek-delayed") check_encode(peek_state_command{job_state::delayed}, true, w);
    if (word == "peek-buried") check_encode(peek_state_command{job_state::buried}, true, w);
    if (word == "stats") check_encode(stats_command{}, true, w);
    if (word == "list-tubes") check_encode(list_tubes_command{}, true, w);
    if (word == "list-tube-used") check_encode(list_tube_used_command{}, true, w);
    if (word == "list-tubes-watched") check_encode(list_tubes_watched_command{}, true, w);
    if (word == "quit") check_encode(quit_command{}, true, w);
  }
}

/// A server address (`-a`, $BEANSTALKD_ADDR): refused with `invalid_address` leaving `out` alone,
/// or an endpoint that connect can use and whose `to_string()` parses back to it.
void check_endpoint(std::string_view text) {
  const endpoint before = endpoint::tcp("before", 1);
  endpoint ep = before;
  if (const std::error_code ec = endpoint::parse(text, ep)) {
    FUZZ_CHECK(ec == errc::invalid_address && ep == before);
    return;
  }
  if (ep.is_unix()) {
    FUZZ_CHECK(ep.host.empty());
  } else {
    FUZZ_CHECK(!ep.host.empty() && ep.port != 0);
  }
  endpoint again;
  FUZZ_CHECK(!endpoint::parse(ep.to_string(), again));
  FUZZ_CHECK(again == ep);
}

/// The seconds conversion every command uses, at and around its bounds.
void check_wire_seconds(long long v) {
  std::uint32_t out = 7;
  const std::error_code ec = to_wire_seconds(seconds(v), out);
  const bool fits = v >= 0 && static_cast<std::uint64_t>(v) <= u32_max;
  FUZZ_CHECK(fits ? !ec && out == static_cast<std::uint64_t>(v)
                  : ec == errc::value_out_of_range && out == 7);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto newline = input.find('\n');
  const std::string_view line = input.substr(0, newline);
  const std::string_view body =
      newline == std::string_view::npos ? std::string_view{} : input.substr(newline + 1);

  std::vector<std::string_view> words;
  for (std::size_t begin = 0;;) {
    const auto space = line.find(' ', begin);
    words.push_back(line.substr(begin, space - begin));
    if (space == std::string_view::npos) break;
    begin = space + 1;
  }
  for (const auto w : words) {
    check_cli(w);
    check_tube_name(w);
    check_endpoint(w);
    if (const auto v = signed_number(w)) check_wire_seconds(*v);
  }
  check_tube_name(body);  // longer and stranger than any argument
  check_endpoint(line);
  check_command(words[0], {words.begin() + 1, words.end()}, body);
  return 0;
}
