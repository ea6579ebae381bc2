// libFuzzer target for the stats and list decoders (proto/stats.hpp). The input is a body as the
// server sends it after `OK <bytes>`; the seeds (corpus/stats, tests/fixtures) are real ones.
//
// Every decoder reads the same body. Properties:
// - an error is `errc::bad_stats` and leaves the output untouched;
// - a typed decode succeeds only where the generic split into entries succeeds, and keeps every
//   key it does not know, with its last value, in `other`;
// - what was decoded, written back in the server's format, decodes to the same values;
// - the body inside an `OK` reply, parsed and interpreted as the clients do, gives the same.
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <system_error>
#include <variant>
#include <vector>

#include "beanpole/error.hpp"
#include "beanpole/proto/commands.hpp"
#include "beanpole/proto/reply_parser.hpp"
#include "beanpole/proto/stats.hpp"
#include "fuzz_check.hpp"

namespace {

using namespace beanpole::proto;

const std::error_code bad_stats = make_error_code(beanpole::errc::bad_stats);

/// Quoted, so that the decoder's unquoting gives the value back whatever its own quotes.
std::string quoted(std::string_view value) {
  return '"' + std::string(value) + '"';
}

std::string text_of(const stats_field& f) {
  if (const auto* n = std::get_if<std::uint64_t>(&f.value)) return std::to_string(*n);
  if (const auto* b = std::get_if<bool>(&f.value)) return *b ? "true" : "false";
  if (const auto* d = std::get_if<double>(&f.value)) {
    char buf[512];  // fixed notation of the largest double: 309 digits
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, *d, std::chars_format::fixed);
    FUZZ_CHECK(ec == std::errc{});
    return std::string(buf, end);
  }
  return quoted(std::get<std::string_view>(f.value));
}

/// The fields as the server writes them: `---`, then `key: value` lines.
std::string body_of(const std::vector<stats_field>& fields) {
  std::string body = "---\n";
  for (const auto& f : fields) body += std::string(f.key) + ": " + text_of(f) + '\n';
  return body;
}

/// Comparable copies of the fields (the views point into the struct).
using flat =
    std::vector<std::pair<std::string, std::variant<std::uint64_t, double, bool, std::string>>>;
flat flatten(const std::vector<stats_field>& fields) {
  flat out;
  for (const auto& f : fields) {
    std::variant<std::uint64_t, double, bool, std::string> v;
    std::visit(
        [&](auto x) {
          if constexpr (std::is_same_v<decltype(x), std::string_view>) {
            v = std::string(x);
          } else {
            v = x;
          }
        },
        f.value);
    out.emplace_back(std::string(f.key), std::move(v));
  }
  return out;
}

template <class Stats>
void check_typed(std::string_view body, std::error_code (*parse)(std::string_view, Stats&),
                 const std::vector<stats_entry>* entries) {
  Stats out;
  out.other["untouched"] = "yes";
  const std::error_code ec = parse(body, out);
  if (ec) {
    FUZZ_CHECK(ec == bad_stats);
    FUZZ_CHECK(out.other.size() == 1 && out.other.count("untouched") == 1);
    return;
  }
  FUZZ_CHECK(entries != nullptr);  // a typed success is a generic success
  const auto fields = fields_of(out);

  // `other` holds exactly the keys the struct has no member for, with their last value.
  std::map<std::string, std::string, std::less<>> unknown;
  for (const auto& e : *entries) {
    bool known = false;
    for (const auto& f : fields) known = known || (f.known && f.key == e.key);
    if (!known) unknown.insert_or_assign(e.key, e.value);
  }
  FUZZ_CHECK(unknown == out.other);

  Stats again;
  FUZZ_CHECK(!parse(body_of(fields), again));
  FUZZ_CHECK(flatten(fields_of(again)) == flatten(fields));
}

/// The body inside an OK reply, through the parser and the command, gives what `parse` gives.
template <class Command, class Stats>
void check_through_reply(std::string_view body,
                         std::error_code (*parse)(std::string_view, Stats&)) {
  const std::string wire =
      "OK " + std::to_string(body.size()) + "\r\n" + std::string(body) + "\r\n";
  reply_parser parser;
  const auto [status, consumed] = parser.parse(wire);
  FUZZ_CHECK(status == parse_status::ready && consumed == wire.size());
  std::error_code via_reply;
  const Stats got = Command{}.interpret(parser.take(), via_reply);
  Stats want;
  const std::error_code direct = parse(body, want);
  FUZZ_CHECK(via_reply == direct);
  if (!direct) FUZZ_CHECK(flatten(fields_of(got)) == flatten(fields_of(want)));
}

std::error_code parse_list(std::string_view body, std::vector<std::string>& out) {
  return parse_name_list(body, out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);

  std::vector<stats_entry> entries{{"untouched", "yes"}};
  const std::error_code split = parse_stats_entries(body, entries);
  if (split) {
    FUZZ_CHECK(split == bad_stats);
    FUZZ_CHECK(entries.size() == 1 && entries[0].key == "untouched");
  } else {
    std::string again_body = "---\n";
    for (const auto& e : entries) {
      FUZZ_CHECK(!e.key.empty());
      FUZZ_CHECK(e.key.find('\n') == std::string::npos && e.key.find(": ") == std::string::npos);
      FUZZ_CHECK(e.value.find('\n') == std::string::npos);
      again_body += e.key + ": " + quoted(e.value) + '\n';
    }
    std::vector<stats_entry> again;
    FUZZ_CHECK(!parse_stats_entries(again_body, again));
    FUZZ_CHECK(again.size() == entries.size());
    for (std::size_t i = 0; i < again.size(); ++i) {
      FUZZ_CHECK(again[i].key == entries[i].key && again[i].value == entries[i].value);
    }
  }
  const auto* generic = split ? nullptr : &entries;
  check_typed<server_stats>(body, parse_server_stats, generic);
  check_typed<tube_stats>(body, parse_tube_stats, generic);
  check_typed<job_stats>(body, parse_job_stats, generic);

  std::vector<std::string> names{"untouched"};
  if (const std::error_code ec = parse_list(body, names)) {
    FUZZ_CHECK(ec == bad_stats);
    FUZZ_CHECK(names.size() == 1 && names[0] == "untouched");
  } else {
    std::string again_body = "---\n";
    for (const auto& name : names) {
      FUZZ_CHECK(!name.empty() && name.find('\n') == std::string::npos);
      again_body += "- " + quoted(name) + '\n';
    }
    std::vector<std::string> again;
    FUZZ_CHECK(!parse_list(again_body, again));
    FUZZ_CHECK(again == names);
  }

  check_through_reply<stats_command>(body, parse_server_stats);
  check_through_reply<stats_tube_command>(body, parse_tube_stats);
  check_through_reply<stats_job_command>(body, parse_job_stats);
  std::error_code via_reply;
  {
    const std::string wire =
        "OK " + std::to_string(body.size()) + "\r\n" + std::string(body) + "\r\n";
    reply_parser parser;
    FUZZ_CHECK(parser.parse(wire).status == parse_status::ready);
    const auto got = list_tubes_command{}.interpret(parser.take(), via_reply);
    std::vector<std::string> want;
    FUZZ_CHECK(via_reply == parse_list(body, want));
    if (!via_reply) FUZZ_CHECK(got == want);
  }
  return 0;
}
