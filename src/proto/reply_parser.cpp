#include "beanpole/proto/reply_parser.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <ostream>

#include "beanpole/error.hpp"
#include "beanpole/types.hpp"

namespace beanpole::proto {
namespace {

/// What may follow a reply word on its line.
enum class args : std::uint8_t {
  none,         ///< nothing
  number,       ///< exactly one number
  opt_number,   ///< nothing or one number (BURIED, KICKED)
  tube,         ///< one tube name (USING)
  id_and_body,  ///< <id> <bytes>, then a body (RESERVED, FOUND)
  body,         ///< <bytes>, then a body (OK)
};

struct word_entry {
  std::string_view word;
  reply_kind kind;
  args shape;
};

// Ordered like reply_kind, so to_string can index it.
constexpr word_entry words[] = {
    {"INSERTED", reply_kind::inserted, args::number},
    {"BURIED", reply_kind::buried, args::opt_number},
    {"USING", reply_kind::using_tube, args::tube},
    {"RESERVED", reply_kind::reserved, args::id_and_body},
    {"DEADLINE_SOON", reply_kind::deadline_soon, args::none},
    {"TIMED_OUT", reply_kind::timed_out, args::none},
    {"DELETED", reply_kind::deleted, args::none},
    {"NOT_FOUND", reply_kind::not_found, args::none},
    {"RELEASED", reply_kind::released, args::none},
    {"TOUCHED", reply_kind::touched, args::none},
    {"WATCHING", reply_kind::watching, args::number},
    {"NOT_IGNORED", reply_kind::not_ignored, args::none},
    {"FOUND", reply_kind::found, args::id_and_body},
    {"KICKED", reply_kind::kicked, args::opt_number},
    {"OK", reply_kind::ok, args::body},
    {"PAUSED", reply_kind::paused, args::none},
    {"EXPECTED_CRLF", reply_kind::expected_crlf, args::none},
    {"JOB_TOO_BIG", reply_kind::job_too_big, args::none},
    {"DRAINING", reply_kind::draining, args::none},
    {"OUT_OF_MEMORY", reply_kind::out_of_memory, args::none},
    {"INTERNAL_ERROR", reply_kind::internal_error, args::none},
    {"BAD_FORMAT", reply_kind::bad_format, args::none},
    {"UNKNOWN_COMMAND", reply_kind::unknown_command, args::none},
};

/// The entries of `words` by the reply word's first letter (at most three share one), so a
/// lookup compares one or two words instead of scanning the table: it runs for every reply.
struct word_index {
  static constexpr std::size_t per_letter = 3;
  std::array<std::array<std::uint8_t, per_letter>, 26> entries{};
  std::array<std::uint8_t, 26> count{};
};

constexpr word_index make_word_index() {
  word_index index;
  for (std::size_t i = 0; i < std::size(words); ++i) {
    const auto letter = static_cast<std::size_t>(words[i].word[0] - 'A');
    index.entries[letter][index.count[letter]++] = static_cast<std::uint8_t>(i);
  }
  return index;
}

constexpr word_index by_letter = make_word_index();

constexpr std::size_t longest_word() {
  std::size_t n = 0;
  for (const auto& e : words) n = std::max(n, e.word.size());
  return n;
}
static_assert(longest_word() <= 16, "same_bytes compares at most 16 bytes");

template <class Word>
Word load(const char* p) {
  Word w;
  std::memcpy(&w, p, sizeof w);  // a single unaligned load
  return w;
}

/// memcmp(a, b, n) == 0 for the reply words (2 to 15 bytes) without a call: two overlapping
/// loads from each side.
bool same_bytes(const char* a, const char* b, std::size_t n) {
  if (n >= 8) {
    return load<std::uint64_t>(a) == load<std::uint64_t>(b) &&
           load<std::uint64_t>(a + n - 8) == load<std::uint64_t>(b + n - 8);
  }
  if (n >= 4) {
    return load<std::uint32_t>(a) == load<std::uint32_t>(b) &&
           load<std::uint32_t>(a + n - 4) == load<std::uint32_t>(b + n - 4);
  }
  return std::memcmp(a, b, n) == 0;
}

/// The entry whose word begins `line` and ends there or at a space, or null. Compares only the
/// words that share the line's first letter, and never scans the line for its first space.
const word_entry* find_word(std::string_view line) {
  if (line.empty()) return nullptr;
  const auto letter = static_cast<unsigned>(static_cast<unsigned char>(line[0]) - 'A');
  if (letter >= 26) return nullptr;
  for (std::size_t i = 0; i < by_letter.count[letter]; ++i) {
    const word_entry& e = words[by_letter.entries[letter][i]];
    const std::size_t n = e.word.size();
    if (line.size() >= n && (line.size() == n || line[n] == ' ') &&
        same_bytes(line.data(), e.word.data(), n)) {
      return &e;
    }
  }
  return nullptr;
}

/// Splits off the next space-separated token; the protocol uses exactly one space. Tokens are a
/// few bytes long, so a plain loop beats a call to memchr.
std::string_view next_token(std::string_view& rest) {
  std::size_t i = 0;
  while (i < rest.size() && rest[i] != ' ') ++i;
  const std::string_view token(rest.data(), i);
  rest = i == rest.size() ? std::string_view{}
                          : std::string_view(rest.data() + i + 1, rest.size() - i - 1);
  return token;
}

/// Parses a decimal number: digits only (no sign, no spaces), no overflow. One pass: this runs
/// for nearly every reply.
bool parse_number(std::string_view text, std::uint64_t& out) {
  if (text.empty() || text.size() > 20) return false;
  std::uint64_t value = 0;
  for (const char c : text) {
    const auto digit = static_cast<unsigned>(c - '0');
    if (digit > 9) return false;
    value = value * 10 + digit;
  }
  // Up to 19 digits always fit; 20 digits fit when not above 2^64-1, whose text sorts last.
  if (text.size() == 20 && text > "18446744073709551615") return false;
  out = value;
  return true;
}

/// A number argument: missing (or an empty token from a doubled space) is a malformed line; one
/// that is not decimal digits or overflows is a bad number. `errc{}` when it is fine (an `errc`,
/// not a `std::error_code`, whose construction costs a call on every reply).
errc read_number(std::string_view text, std::uint64_t& out) {
  if (text.empty()) return errc::malformed_reply;
  if (!parse_number(text, out)) return errc::bad_number;
  return {};
}

/// The common case of `next_token` and `read_number` in one pass: a number of at most 19 digits
/// (it cannot overflow) that ends `rest` or is followed by a space. Consumes it and its space;
/// false, leaving `rest` alone, for anything else (the general path then finds the error).
/// The most body bytes reserved before any has arrived (see decode_line).
constexpr std::size_t upfront_body_bytes = std::size_t{1} << 20;

bool take_short_number(std::string_view& rest, std::uint64_t& out) {
  const std::size_t limit = std::min<std::size_t>(rest.size(), 19);
  std::uint64_t value = 0;
  std::size_t i = 0;
  for (; i < limit; ++i) {
    const auto digit = static_cast<unsigned>(rest[i] - '0');
    if (digit > 9) break;
    value = value * 10 + digit;
  }
  if (i == 0) return false;
  if (i == rest.size()) {
    rest = {};
  } else if (rest[i] == ' ') {
    rest.remove_prefix(i + 1);
  } else {
    return false;
  }
  out = value;
  return true;
}

}  // namespace

std::string_view to_string(reply_kind kind) noexcept {
  return words[static_cast<std::size_t>(kind)].word;
}

std::ostream& operator<<(std::ostream& os, const reply& r) {
  os << to_string(r.kind);
  if (r.has_number) os << ' ' << r.number;
  if (r.kind == reply_kind::using_tube) os << ' ' << r.body;
  if (r.kind == reply_kind::reserved || r.kind == reply_kind::found || r.kind == reply_kind::ok) {
    os << " [" << r.body.size() << (r.body_torn ? " bytes, torn]" : " bytes]");
  }
  return os;
}

reply reply_parser::take() {
  // Field by field, and the body only when there is one (most replies have none): moving whole
  // replies costs more than the rest of a short reply's decoding.
  reply out;
  out.kind = reply_.kind;
  out.has_number = reply_.has_number;
  out.number = reply_.number;
  out.body_torn = reply_.body_torn;
  if (!reply_.body.empty()) {
    out.body = std::move(reply_.body);
    reply_.body.clear();
  }
  reply_.kind = reply{}.kind;
  reply_.has_number = false;
  reply_.number = 0;
  reply_.body_torn = false;
  state_ = state::line;
  return out;
}

void reply_parser::reset() noexcept {
  state_ = state::line;
  line_size_ = 0;
  body_left_ = 0;
  crlf_seen_ = 0;
  reply_ = reply{};
  error_ = {};
}

std::size_t reply_parser::min_bytes_to_complete() const noexcept {
  switch (state_) {
    case state::line:
      return line_size_ == 0 ? min_reply_size : 1;
    case state::body:
      return body_left_ + 2;
    case state::body_crlf:
      return 2 - crlf_seen_;
    case state::done:
    case state::failed:
      return min_reply_size;
  }
  return 1;
}

reply_parser::result reply_parser::fail(std::error_code ec, std::size_t consumed) {
  state_ = state::failed;
  error_ = ec;
  return {parse_status::error, consumed};
}

errc reply_parser::decode_line(std::string_view line) {
  const word_entry* entry = find_word(line);
  if (entry == nullptr) return errc::unknown_reply;
  const std::string_view word = entry->word;
  std::string_view rest =
      line.size() == word.size() ? std::string_view{} : line.substr(word.size() + 1);
  // next_token cannot tell "5" from "5 " at the end of a line: refuse the trailing space here.
  if (line.back() == ' ') return errc::malformed_reply;

  reply_.kind = entry->kind;  // take() left reply_ empty; reset it without reallocating
  reply_.has_number = false;
  reply_.number = 0;
  reply_.body_torn = false;
  reply_.body.clear();
  switch (entry->shape) {
    case args::none:
      return rest.empty() && line.size() == word.size() ? errc{} : errc::malformed_reply;
    case args::opt_number:
      if (line.size() == word.size()) return {};
      [[fallthrough]];
    case args::number: {
      if (std::uint64_t n = 0; take_short_number(rest, n)) {
        if (!rest.empty()) return errc::malformed_reply;
        reply_.number = n;
        reply_.has_number = true;
        return {};
      }
      const auto text = next_token(rest);
      if (!rest.empty()) return errc::malformed_reply;
      if (const auto e = read_number(text, reply_.number); e != errc{}) return e;
      reply_.has_number = true;
      return {};
    }
    case args::tube:
      if (!tube_name::is_valid(rest)) return errc::malformed_reply;
      reply_.body.assign(rest);
      return {};
    case args::id_and_body:
    case args::body: {
      if (entry->shape == args::id_and_body) {
        if (!take_short_number(rest, reply_.number)) {
          if (const auto e = read_number(next_token(rest), reply_.number); e != errc{}) return e;
        }
        reply_.has_number = true;
      }
      std::uint64_t size = 0;
      if (take_short_number(rest, size)) {
        if (!rest.empty()) return errc::malformed_reply;
      } else {
        const auto size_text = next_token(rest);
        if (!rest.empty()) return errc::malformed_reply;
        if (const auto e = read_number(size_text, size); e != errc{}) return e;
      }
      if (size > limits_.max_body) return errc::body_too_large;
      body_left_ = static_cast<std::size_t>(size);
      // Room for the announced body, but no more than bytes that can arrive soon: a hostile
      // server's 25-byte line announcing 64 MiB must not make every connection allocate that.
      // Beyond it, the body grows as its bytes come (a copy per doubling, for large bodies only).
      reply_.body.reserve(std::min(body_left_, upfront_body_bytes));
      state_ = state::body;
      return {};
    }
  }
  return errc::unknown_reply;
}

reply_parser::result reply_parser::parse(std::string_view input) {
  std::size_t used = 0;
  if (state_ == state::failed) return {parse_status::error, 0};
  if (state_ == state::done) state_ = state::line;  // a reply was left in place: start the next

  if (state_ == state::line) {
    const auto newline = input.find('\n');
    const std::size_t take_bytes = newline == std::string_view::npos ? input.size() : newline + 1;
    if (line_size_ + take_bytes > parser_limits::max_line) {
      return fail(errc::reply_line_too_long, std::min(input.size(), parser_limits::max_line));
    }
    std::string_view line;
    if (line_size_ == 0 && newline != std::string_view::npos) {
      line = input.substr(0, take_bytes);  // the whole line is in the input: no copy
    } else {
      // memcpy wants non-null pointers even for 0 bytes, and an empty view may have none.
      if (take_bytes > 0) std::memcpy(line_.data() + line_size_, input.data(), take_bytes);
      line_size_ += take_bytes;
      if (newline == std::string_view::npos) return {parse_status::need_more, take_bytes};
      line = std::string_view(line_.data(), line_size_);
    }
    used = take_bytes;
    line_size_ = 0;
    if (line.size() < 2 || line[line.size() - 2] != '\r') return fail(errc::malformed_reply, used);
    if (const auto e = decode_line(line.substr(0, line.size() - 2)); e != errc{}) {
      return fail(e, used);
    }
    if (state_ == state::line) {
      state_ = state::done;
      return {parse_status::ready, used};
    }
  }

  if (state_ == state::body) {
    const std::size_t n = std::min(body_left_, input.size() - used);
    reply_.body.append(input.data() + used, n);
    used += n;
    body_left_ -= n;
    if (body_left_ > 0) return {parse_status::need_more, used};
    state_ = state::body_crlf;
    crlf_seen_ = 0;
  }

  // state::body_crlf: the two bytes after the body must be exactly "\r\n". A job's body
  // without them is a job torn by a server crash (see reply::body_torn): beanstalkd still sends
  // the announced length plus two bytes, so they are consumed and the stream stays in step. Any
  // other body (OK: stats, lists) must be whole.
  while (crlf_seen_ < 2 && used < input.size()) {
    if (input[used] != "\r\n"[crlf_seen_] && !reply_.body_torn) {
      if (reply_.kind == reply_kind::ok) return fail(errc::missing_body_crlf, used);
      reply_.body_torn = true;
    }
    ++crlf_seen_;
    ++used;
  }
  if (crlf_seen_ < 2) return {parse_status::need_more, used};
  state_ = state::done;
  return {parse_status::ready, used};
}

}  // namespace beanpole::proto
