// libFuzzer target for proto::reply_parser: arbitrary bytes, cut into chunks chosen by the input
// itself, must never crash the parser nor break its contract. The bytes are also parsed in one
// piece by a second parser; both must find the same replies and the same error.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "beanpole/error.hpp"
#include "beanpole/proto/reply_parser.hpp"
#include "beanpole/types.hpp"

namespace {

using beanpole::proto::parse_status;
using beanpole::proto::parser_limits;
using beanpole::proto::reply;
using beanpole::proto::reply_kind;
using beanpole::proto::reply_parser;

#define FUZZ_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (false)

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
}

/// What one parser made of the stream: its replies, then its error (if it failed).
struct outcome {
  std::vector<reply> replies;
  std::error_code error;
};

/// Feeds the chunks in order; checks the parse() contract on every call.
outcome run(reply_parser& parser, const std::vector<std::string_view>& chunks,
            const parser_limits& limits) {
  outcome out;
  for (std::string_view chunk : chunks) {
    while (true) {
      const auto [status, consumed] = parser.parse(chunk);
      FUZZ_CHECK(consumed <= chunk.size());
      chunk.remove_prefix(consumed);
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
        break;
      }
      FUZZ_CHECK(status == parse_status::ready);
      check_reply(parser.get(), limits);
      out.replies.push_back(parser.take());
      if (chunk.empty()) break;
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider input(data, size);
  parser_limits limits;
  if (input.ConsumeBool()) limits.max_body = input.ConsumeIntegralInRange<std::size_t>(0, 300);

  // Chunk lengths come from the end of the input, the bytes from its front.
  std::vector<std::string> storage;
  while (input.remaining_bytes() > 0) {
    const auto length = input.ConsumeIntegralInRange<std::size_t>(0, 300);
    storage.push_back(input.ConsumeBytesAsString(length));
  }
  std::string stream;
  std::vector<std::string_view> chunks;
  for (const auto& s : storage) {
    stream += s;
    // An empty chunk as a default view (null data), as a socket layer may well pass it.
    chunks.push_back(s.empty() ? std::string_view{} : std::string_view(s));
  }
  // Again after the first pass, so that every error is also fed more input.
  chunks.emplace_back("DELETED\r\n");

  reply_parser chunked(limits);
  const outcome got = run(chunked, chunks, limits);

  reply_parser whole(limits);
  const outcome want = run(whole, {std::string_view(stream), "DELETED\r\n"}, limits);

  FUZZ_CHECK(got.replies == want.replies);
  FUZZ_CHECK(got.error == want.error);

  // reset() makes any parser usable again, whatever it went through.
  chunked.reset();
  const auto again = chunked.parse("KICKED 3\r\n");
  FUZZ_CHECK(again.status == parse_status::ready && again.consumed == 10);
  FUZZ_CHECK(chunked.get().kind == reply_kind::kicked && chunked.get().number == 3);
  return 0;
}
