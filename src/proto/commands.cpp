#include "beanpole/proto/commands.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <limits>

#include "beanpole/error.hpp"

namespace beanpole::proto {
namespace {

/// "00" "01" ... "99": two digits per lookup.
constexpr auto digit_pairs = [] {
  std::array<char, 200> pairs{};
  for (std::size_t i = 0; i < 100; ++i) {
    pairs[2 * i] = static_cast<char>('0' + i / 10);
    pairs[2 * i + 1] = static_cast<char>('0' + i % 10);
  }
  return pairs;
}();

/// Writes `n` in decimal at `p`, which has room for 20 digits, and returns the end. Up to three
/// digits (a put's usual priority, delay, ttr and body size) skip std::to_chars' length
/// computation and loop.
inline char* write_decimal(char* p, std::uint64_t n) {
  if (n < 10) {
    *p = static_cast<char>('0' + n);
    return p + 1;
  }
  if (n < 100) {
    std::memcpy(p, &digit_pairs[2 * n], 2);
    return p + 2;
  }
  if (n < 1000) {
    const std::uint64_t hundreds = n / 100;
    p[0] = static_cast<char>('0' + hundreds);
    std::memcpy(p + 1, &digit_pairs[2 * (n - 100 * hundreds)], 2);
    return p + 3;
  }
  return std::to_chars(p, p + 20, n).ptr;
}

/// Builds one command line on the stack and appends it with a single copy. The longest line is
/// `pause-tube` with a 200-byte tube name and a 10-digit delay: 224 bytes, the server's own limit.
class line_writer {
 public:
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init): buf_, see below
  explicit line_writer(std::string_view word) { put(word); }

  line_writer& number(std::uint64_t n) {
    if (size_ > sizeof buf_ - 21) return *this;  // cannot happen: lines are at most 224 bytes
    buf_[size_] = ' ';
    size_ = static_cast<std::size_t>(write_decimal(buf_ + size_ + 1, n) - buf_);
    return *this;
  }

  line_writer& tube(const tube_name& t) {
    put(" ");
    put(t.view());
    return *this;
  }

  /// Appends the line and CRLF to `out`.
  void finish(std::string& out) {
    put("\r\n");
    out.append(buf_, size_);
  }

 private:
  void put(std::string_view text) {
    const std::size_t n = std::min(text.size(), sizeof buf_ - size_);  // never past the buffer
    std::memcpy(buf_ + size_, text.data(), n);
    size_ += n;
  }

  // Left uninitialized: only the first size_ bytes are ever read, and zeroing 256 bytes per
  // command would be most of a put's encoding cost.
  char buf_[256];
  std::size_t size_ = 0;
};

/// The answers any command may get (protocol errors) plus those that belong to no command we
/// sent (`unexpected_reply`, which closes the connection).
std::error_code general_error(reply_kind kind) {
  switch (kind) {
    case reply_kind::out_of_memory:
      return errc::out_of_memory;
    case reply_kind::internal_error:
      return errc::internal_error;
    case reply_kind::bad_format:
      return errc::bad_format;
    case reply_kind::unknown_command:
      return errc::unknown_command;
    default:
      return errc::unexpected_reply;
  }
}

/// For commands whose only success is one reply word and whose only other answer is NOT_FOUND.
void expect_word(const reply& r, reply_kind success, std::error_code& ec) {
  if (r.kind == success) return;
  ec = r.kind == reply_kind::not_found ? make_error_code(errc::not_found) : general_error(r.kind);
}

/// A job from RESERVED or FOUND. A torn one keeps its id, so that the caller can bury or delete
/// it, and loses its body, which is not the one that was put.
job take_job(reply&& r, std::error_code& ec) {
  if (r.body_torn) {
    ec = errc::corrupt_job;
    return job{job_id{r.number}, {}};
  }
  return job{job_id{r.number}, std::move(r.body)};
}

/// peek*: FOUND is a job, NOT_FOUND is nothing.
std::optional<job> interpret_peek(reply&& r, std::error_code& ec) {
  if (r.kind == reply_kind::found) return take_job(std::move(r), ec);
  if (r.kind != reply_kind::not_found) ec = general_error(r.kind);
  return std::nullopt;
}

/// reserve*: RESERVED is a job, DEADLINE_SOON is an error every reserve shares.
std::optional<job> interpret_reserved(reply&& r, std::error_code& ec) {
  if (r.kind == reply_kind::reserved) return take_job(std::move(r), ec);
  if (r.kind == reply_kind::deadline_soon) {
    ec = errc::deadline_soon;
  } else {
    ec = general_error(r.kind);
  }
  return std::nullopt;
}

template <class Stats>
Stats interpret_stats(reply&& r, std::error_code& ec,
                      std::error_code (*parse)(std::string_view, Stats&)) {
  Stats out;
  if (r.kind == reply_kind::ok) {
    ec = parse(r.body, out);
  } else {
    expect_word(r, reply_kind::ok, ec);
  }
  return out;
}

std::vector<std::string> interpret_list(reply&& r, std::error_code& ec) {
  std::vector<std::string> out;
  if (r.kind == reply_kind::ok) {
    ec = parse_name_list(r.body, out);
  } else {
    ec = general_error(r.kind);
  }
  return out;
}

std::error_code encode_id_command(std::string& out, std::string_view word, job_id id) {
  line_writer(word).number(id.value).finish(out);
  return {};
}

std::error_code encode_word(std::string& out, std::string_view word) {
  line_writer(word).finish(out);
  return {};
}

std::error_code encode_tube_command(std::string& out, std::string_view word,
                                    const tube_name& tube) {
  line_writer(word).tube(tube).finish(out);
  return {};
}

}  // namespace

std::error_code to_wire_seconds(std::chrono::seconds s, std::uint32_t& out) noexcept {
  if (s.count() < 0 || s.count() > std::numeric_limits<std::uint32_t>::max()) {
    return errc::value_out_of_range;
  }
  out = static_cast<std::uint32_t>(s.count());
  return {};
}

// ---------------------------------------------------------------------------------------- put

namespace {

/// Writes a put's command line into `buf` (room for 64 bytes); returns its end, or null when
/// `delay` or `ttr` does not fit 32 bits (as to_wire_seconds).
char* write_put_line(const put_command& cmd, char* buf) {
  constexpr std::int64_t max_seconds = std::numeric_limits<std::uint32_t>::max();
  if (cmd.delay.count() < 0 || cmd.delay.count() > max_seconds || cmd.ttr.count() < 0 ||
      cmd.ttr.count() > max_seconds) {
    return nullptr;
  }
  char* p = buf;
  std::memcpy(p, "put ", 4);
  p = write_decimal(p + 4, cmd.pri);
  *p++ = ' ';
  p = write_decimal(p, static_cast<std::uint64_t>(cmd.delay.count()));
  *p++ = ' ';
  p = write_decimal(p, static_cast<std::uint64_t>(cmd.ttr.count()));
  *p++ = ' ';
  p = write_decimal(p, cmd.body.size());
  *p++ = '\r';
  *p++ = '\n';
  return p;
}

}  // namespace

std::error_code put_command::encode(std::string& out) const {
  // The line, and a body that fits beside it, are built on the stack and appended in one copy:
  // this runs for every put, and each append costs a call and a capacity check.
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init): only the bytes written are read
  char buf[512];
  char* p = write_put_line(*this, buf);
  if (p == nullptr) return errc::value_out_of_range;
  const auto line = static_cast<std::size_t>(p - buf);
  if (body.size() + 2 <= sizeof buf - line) {
    if (!body.empty()) std::memcpy(p, body.data(), body.size());  // data() may be null if empty
    p += body.size();
    *p++ = '\r';
    *p++ = '\n';
    out.append(buf, static_cast<std::size_t>(p - buf));
  } else {
    out.reserve(out.size() + line + body.size() + 2);
    out.append(buf, line);
    out += body;
    out += "\r\n";
  }
  return {};
}

std::error_code put_command::encode_line(std::string& out) const {
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init): only the bytes written are read
  char buf[64];
  const char* end = write_put_line(*this, buf);
  if (end == nullptr) return errc::value_out_of_range;
  out.append(buf, static_cast<std::size_t>(end - buf));
  return {};
}

job_id put_command::interpret(reply&& r, std::error_code& ec) const {
  switch (r.kind) {
    case reply_kind::inserted:
      return job_id{r.number};
    case reply_kind::buried:
      // BURIED <id>: the job exists, buried because the server ran out of memory. Keep the id.
      if (!r.has_number) {
        ec = errc::malformed_reply;
        return {};
      }
      ec = errc::buried;
      return job_id{r.number};
    case reply_kind::expected_crlf:
      ec = errc::expected_crlf;
      return {};
    case reply_kind::job_too_big:
      ec = errc::job_too_big;
      return {};
    case reply_kind::draining:
      ec = errc::draining;
      return {};
    default:
      ec = general_error(r.kind);
      return {};
  }
}

// ---------------------------------------------------------------------------------------- use

std::error_code use_command::encode(std::string& out) const {
  return encode_tube_command(out, "use", tube);
}

void use_command::interpret(reply&& r, std::error_code& ec) const {
  if (r.kind != reply_kind::using_tube) {
    ec = general_error(r.kind);
  } else if (r.body != tube.view()) {
    ec = errc::unexpected_reply;  // the server says it uses another tube than we asked for
  }
}

// ------------------------------------------------------------------------------------ reserve

std::error_code reserve_command::encode(std::string& out) const {
  return encode_word(out, "reserve");
}

job reserve_command::interpret(reply&& r, std::error_code& ec) const {
  if (r.kind == reply_kind::timed_out) {
    ec = errc::timed_out;  // a plain reserve only times out on a half-closed connection
    return {};
  }
  auto j = interpret_reserved(std::move(r), ec);
  return j ? std::move(*j) : job{};
}

std::error_code reserve_with_timeout_command::encode(std::string& out) const {
  std::uint32_t wire = 0;
  if (auto ec = to_wire_seconds(timeout, wire)) return ec;
  line_writer("reserve-with-timeout").number(wire).finish(out);
  return {};
}

std::optional<job> reserve_with_timeout_command::interpret(reply&& r, std::error_code& ec) const {
  if (r.kind == reply_kind::timed_out) return std::nullopt;
  return interpret_reserved(std::move(r), ec);
}

std::error_code reserve_job_command::encode(std::string& out) const {
  return encode_id_command(out, "reserve-job", id);
}

std::optional<job> reserve_job_command::interpret(reply&& r, std::error_code& ec) const {
  switch (r.kind) {
    case reply_kind::not_found:
      return std::nullopt;
    // Servers before 1.12 do not know reserve-job and, reading "reserve" as a prefix, answer
    // BAD_FORMAT. Say so plainly instead of a vague format error.
    case reply_kind::bad_format:
    case reply_kind::unknown_command:
      ec = errc::reserve_job_unsupported;
      return std::nullopt;
    // Unlike reserve, reserve-job never answers DEADLINE_SOON (beanstalkd chose not to).
    case reply_kind::deadline_soon:
      ec = errc::unexpected_reply;
      return std::nullopt;
    default:
      return interpret_reserved(std::move(r), ec);
  }
}

// ----------------------------------------------------------------------- delete/release/bury

std::error_code delete_command::encode(std::string& out) const {
  return encode_id_command(out, "delete", id);
}

void delete_command::interpret(reply&& r, std::error_code& ec) const {
  expect_word(r, reply_kind::deleted, ec);
}

std::error_code release_command::encode(std::string& out) const {
  std::uint32_t wire_delay = 0;
  if (auto ec = to_wire_seconds(delay, wire_delay)) return ec;
  line_writer("release").number(id.value).number(pri).number(wire_delay).finish(out);
  return {};
}

void release_command::interpret(reply&& r, std::error_code& ec) const {
  if (r.kind == reply_kind::buried && !r.has_number) {
    ec = errc::buried;
    return;
  }
  expect_word(r, reply_kind::released, ec);
}

std::error_code bury_command::encode(std::string& out) const {
  line_writer("bury").number(id.value).number(pri).finish(out);
  return {};
}

void bury_command::interpret(reply&& r, std::error_code& ec) const {
  if (r.kind == reply_kind::buried && r.has_number) {
    ec = errc::malformed_reply;  // bury answers a bare BURIED
    return;
  }
  expect_word(r, reply_kind::buried, ec);
}

std::error_code touch_command::encode(std::string& out) const {
  return encode_id_command(out, "touch", id);
}

void touch_command::interpret(reply&& r, std::error_code& ec) const {
  expect_word(r, reply_kind::touched, ec);
}

// ------------------------------------------------------------------------------ watch/ignore

std::error_code watch_command::encode(std::string& out) const {
  return encode_tube_command(out, "watch", tube);
}

std::size_t watch_command::interpret(reply&& r, std::error_code& ec) const {
  if (r.kind == reply_kind::watching) return static_cast<std::size_t>(r.number);
  ec = general_error(r.kind);
  return 0;
}

std::error_code ignore_command::encode(std::string& out) const {
  return encode_tube_command(out, "ignore", tube);
}

std::size_t ignore_command::interpret(reply&& r, std::error_code& ec) const {
  if (r.kind == reply_kind::watching) return static_cast<std::size_t>(r.number);
  ec = r.kind == reply_kind::not_ignored ? make_error_code(errc::not_ignored)
                                         : general_error(r.kind);
  return 0;
}

// --------------------------------------------------------------------------------------- peek

std::error_code peek_command::encode(std::string& out) const {
  return encode_id_command(out, "peek", id);
}

std::optional<job> peek_command::interpret(reply&& r, std::error_code& ec) const {
  return interpret_peek(std::move(r), ec);
}

std::error_code peek_state_command::encode(std::string& out) const {
  switch (state) {
    case job_state::ready:
      return encode_word(out, "peek-ready");
    case job_state::delayed:
      return encode_word(out, "peek-delayed");
    case job_state::buried:
      return encode_word(out, "peek-buried");
  }
  return errc::value_out_of_range;
}

std::optional<job> peek_state_command::interpret(reply&& r, std::error_code& ec) const {
  return interpret_peek(std::move(r), ec);
}

// --------------------------------------------------------------------------------------- kick

std::error_code kick_command::encode(std::string& out) const {
  if (bound > std::numeric_limits<std::uint32_t>::max()) return errc::value_out_of_range;
  line_writer("kick").number(bound).finish(out);
  return {};
}

std::uint64_t kick_command::interpret(reply&& r, std::error_code& ec) const {
  if (r.kind == reply_kind::kicked && r.has_number) return r.number;
  ec =
      r.kind == reply_kind::kicked ? make_error_code(errc::malformed_reply) : general_error(r.kind);
  return 0;
}

std::error_code kick_job_command::encode(std::string& out) const {
  return encode_id_command(out, "kick-job", id);
}

void kick_job_command::interpret(reply&& r, std::error_code& ec) const {
  if (r.kind == reply_kind::kicked && r.has_number) {
    ec = errc::malformed_reply;  // kick-job answers a bare KICKED
    return;
  }
  expect_word(r, reply_kind::kicked, ec);
}

// -------------------------------------------------------------------------------------- stats

std::error_code stats_job_command::encode(std::string& out) const {
  return encode_id_command(out, "stats-job", id);
}

job_stats stats_job_command::interpret(reply&& r, std::error_code& ec) const {
  return interpret_stats<job_stats>(std::move(r), ec, &parse_job_stats);
}

std::error_code stats_tube_command::encode(std::string& out) const {
  return encode_tube_command(out, "stats-tube", tube);
}

tube_stats stats_tube_command::interpret(reply&& r, std::error_code& ec) const {
  return interpret_stats<tube_stats>(std::move(r), ec, &parse_tube_stats);
}

std::error_code stats_command::encode(std::string& out) const {
  return encode_word(out, "stats");
}

server_stats stats_command::interpret(reply&& r, std::error_code& ec) const {
  if (r.kind == reply_kind::not_found) {  // the server always exists: NOT_FOUND answers another
    ec = errc::unexpected_reply;
    return {};
  }
  return interpret_stats<server_stats>(std::move(r), ec, &parse_server_stats);
}

// -------------------------------------------------------------------------------------- lists

std::error_code list_tubes_command::encode(std::string& out) const {
  return encode_word(out, "list-tubes");
}

std::vector<std::string> list_tubes_command::interpret(reply&& r, std::error_code& ec) const {
  return interpret_list(std::move(r), ec);
}

std::error_code list_tube_used_command::encode(std::string& out) const {
  return encode_word(out, "list-tube-used");
}

std::string list_tube_used_command::interpret(reply&& r, std::error_code& ec) const {
  if (r.kind == reply_kind::using_tube) return std::move(r.body);
  ec = general_error(r.kind);
  return {};
}

std::error_code list_tubes_watched_command::encode(std::string& out) const {
  return encode_word(out, "list-tubes-watched");
}

std::vector<std::string> list_tubes_watched_command::interpret(reply&& r,
                                                               std::error_code& ec) const {
  return interpret_list(std::move(r), ec);
}

// --------------------------------------------------------------------------- pause-tube, quit

std::error_code pause_tube_command::encode(std::string& out) const {
  std::uint32_t wire = 0;
  if (auto ec = to_wire_seconds(delay, wire)) return ec;
  line_writer("pause-tube").tube(tube).number(wire).finish(out);
  return {};
}

void pause_tube_command::interpret(reply&& r, std::error_code& ec) const {
  expect_word(r, reply_kind::paused, ec);
}

std::error_code quit_command::encode(std::string& out) const {
  return encode_word(out, "quit");
}

void quit_command::interpret(reply&& r, std::error_code& ec) const {
  ec = general_error(r.kind);  // quit has no reply: anything that arrives is unexpected
}

}  // namespace beanpole::proto
