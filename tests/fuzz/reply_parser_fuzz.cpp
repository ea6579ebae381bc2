// libFuzzer target for proto::reply_parser. The input is the byte stream a server sends, so the
// seeds (corpus/reply_parser) are replies captured from a real beanstalkd as they are.
//
// The stream is parsed whole, in random chunks (sizes drawn from a generator seeded by the input)
// and one byte at a time, each under the default limits and under a small body limit; every way
// of feeding it must find the same replies and the same error. Each reply must keep the shape
// rules, and writing it back in the server's format must parse to the same reply.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "beanpole/error.hpp"
#include "beanpole/proto/reply_parser.hpp"
#include "beanpole/types.hpp"
#include "fuzz_check.hpp"

namespace {

using beanpole::proto::parse_status;
using beanpole::proto::parser_limits;
using beanpole::proto::reply;
using beanpole::proto::reply_kind;
using beanpole::proto::reply_parser;

/// The shape rules every reply the parser hands out must obey.
void check_reply(const reply& r, const parser_limits& limits) {
  switch (r.kind) {
    case reply_kind::inserted:
    case reply_kind::watching:
    case reply_kind::reserved:
    case reply_kind::found:
      FUZZ_CHECK(r.has_number);
      break;
    case reply_kind::buried:
    case reply_kind::kicked:
      break;  // with or without a number
    default:
      FUZZ_CHECK(!r.has_number);
  }
  if (!r.has_number) FUZZ_CHECK(r.number == 0);
  switch (r.kind) {
    case reply_kind::using_tube:
      FUZZ_CHECK(beanpole::tube_name::is_valid(r.body));
      break;
    case reply_kind::reserved:
    case reply_kind::found:
    case reply_kind::ok:
      FUZZ_CHECK(r.body.size() <= limits.max_body);
      break;
    default:
      FUZZ_CHECK(r.body.empty());
  }
  // Only a job's body may be torn (a stats or list body without its CRLF is an error).
  if (r.body_torn) FUZZ_CHECK(r.kind == reply_kind::reserved || r.kind == reply_kind::found);
}

/// The reply as the server would have written it. A torn job ends, as beanstalkd 1.12 sends one
/// replayed from a torn binlog record, in two zero bytes where its CRLF should be.
std::string wire_of(const reply& r) {
  std::string out(to_string(r.kind));
  if (r.kind == reply_kind::using_tube) out += ' ' + r.body;
  if (r.has_number) out += ' ' + std::to_string(r.number);
  const bool has_body =
      r.kind == reply_kind::reserved || r.kind == reply_kind::found || r.kind == reply_kind::ok;
  if (has_body) out += ' ' + std::to_string(r.body.size());
  out += "\r\n";
  if (has_body) out += r.body + (r.body_torn ? std::string(2, '\0') : std::string("\r\n"));
  return out;
}

/// What one parser made of the stream: its replies, then its error (if it failed).
struct outcome {
  std::vector<reply> replies;
  std::error_code error;
};

/// Feeds the chunks in order; checks the parse() contract on every call, and that
/// min_bytes_to_complete() never claims more bytes than the reply then took (a reader waits for
/// that many: more would be a wait for bytes that never come).
outcome run(reply_parser& parser, const std::vector<std::string_view>& chunks,
            const parser_limits& limits) {
  outcome out;
  std::size_t promised = parser.min_bytes_to_complete();
  std::size_t taken = 0;  // bytes of the current reply since `promised` was read
  for (std::string_view chunk : chunks) {
    while (true) {
      const auto [status, consumed] = parser.parse(chunk);
      FUZZ_CHECK(consumed <= chunk.size());
      chunk.remove_prefix(consumed);
      taken += consumed;
      if (status == parse_status::error) {
        FUZZ_CHECK(parser.error());
        if (!out.error) out.error = parser.error();
        FUZZ_CHECK(parser.error() == out.error);  // once failed, always the same failure
        FUZZ_CHECK(out.error.category() == beanpole::error_category());
        break;
      }
      FUZZ_CHECK(!out.error);  // never anything but error after an error
      if (status == parse_status::need_more) {
        FUZZ_CHECK(chunk.empty());
        promised = parser.min_bytes_to_complete();
        FUZZ_CHECK(promised >= 1);
        taken = 0;
        break;
      }
      FUZZ_CHECK(status == parse_status::ready);
      FUZZ_CHECK(taken >= promised);
      check_reply(parser.get(), limits);
      out.replies.push_back(parser.take());
      promised = parser.min_bytes_to_complete();
      taken = 0;
      if (chunk.empty()) break;
    }
  }
  return out;
}

/// xorshift64: chunk sizes that change with every input but are the same for the same input.
struct chunk_sizes {
  std::uint64_t state;
  std::size_t next(std::size_t max) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return static_cast<std::size_t>(state % (max + 1));
  }
};

std::uint64_t fnv1a(std::string_view bytes) {
  std::uint64_t h = 1469598103934665603u;
  for (const char c : bytes) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211u;
  return h | 1;  // never 0: xorshift would stay 0
}

/// Feeding `stream` whole, in random chunks and byte by byte gives the same outcome.
void check_splits(std::string_view stream, const parser_limits& limits, chunk_sizes& sizes) {
  // After the stream, more input: a failed parser must stay failed, a good one go on.
  constexpr std::string_view more = "DELETED\r\n";

  reply_parser whole(limits);
  const outcome want = run(whole, {stream, more}, limits);

  std::vector<std::string_view> chunks;
  const std::size_t scale = 1 + sizes.next(63);  // mostly small chunks, sometimes large
  for (std::string_view rest = stream; !rest.empty();) {
    const std::size_t n = sizes.next(scale);
    // An empty chunk as a default view (null data), as a socket layer may well pass it.
    chunks.push_back(n == 0 ? std::string_view{} : rest.substr(0, n));
    rest.remove_prefix(std::min(n, rest.size()));
  }
  chunks.push_back(more);
  reply_parser chunked(limits);
  const outcome got = run(chunked, chunks, limits);
  FUZZ_CHECK(got.replies == want.replies);
  FUZZ_CHECK(got.error == want.error);

  chunks.clear();
  for (std::size_t i = 0; i < stream.size(); ++i) chunks.push_back(stream.substr(i, 1));
  chunks.push_back(more);
  reply_parser bytewise(limits);
  const outcome one_by_one = run(bytewise, chunks, limits);
  FUZZ_CHECK(one_by_one.replies == want.replies);
  FUZZ_CHECK(one_by_one.error == want.error);

  // Every reply, written back as the server writes it, parses to itself in one call.
  for (const reply& r : want.replies) {
    const std::string wire = wire_of(r);
    reply_parser again(limits);
    const auto [status, consumed] = again.parse(wire);
    FUZZ_CHECK(status == parse_status::ready && consumed == wire.size());
    FUZZ_CHECK(again.get() == r);
  }

  // reset() makes any parser usable again, whatever it went through.
  chunked.reset();
  const auto [status, consumed] = chunked.parse("KICKED 3\r\n");
  FUZZ_CHECK(status == parse_status::ready && consumed == 10);
  FUZZ_CHECK(chunked.get().kind == reply_kind::kicked && chunked.get().number == 3);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view stream(reinterpret_cast<const char*>(data), size);
  chunk_sizes sizes{fnv1a(stream)};
  check_splits(stream, parser_limits{}, sizes);
  // A small body limit, so that bodies at and just past it are common.
  parser_limits small;
  small.max_body = sizes.next(300);
  check_splits(stream, small, sizes);
  return 0;
}
