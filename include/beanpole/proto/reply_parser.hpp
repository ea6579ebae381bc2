// An incremental, sans-I/O parser of server replies: bytes in, one reply out at a time.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>
#include <system_error>

#include "beanpole/proto/reply.hpp"

namespace beanpole {
enum class errc;  // beanpole/error.hpp
}  // namespace beanpole

namespace beanpole::proto {

/// Bounds that keep a hostile or broken server from making the client buffer without limit.
struct parser_limits {
  /// Longest reply line, CRLF included. The longest legal line is `USING` with a 200-byte tube
  /// name (208 bytes); the bound leaves room and is fixed so a line can be buffered on the stack.
  static constexpr std::size_t max_line = 256;

  /// Largest body of a RESERVED, FOUND or OK reply, in bytes. Checked before any allocation.
  /// Default 64 MiB, well above beanstalkd's default max-job-size of 65535; raise it for servers
  /// run with a larger `-z`. Zero refuses every non-empty body.
  std::size_t max_body = std::size_t{64} << 20;
};

/// What `reply_parser::parse` found.
enum class parse_status : std::uint8_t {
  need_more,  ///< All input was consumed and the reply is not complete yet.
  ready,      ///< A reply is complete: read it with `get()` / `take()`.
  error,      ///< The input violates the protocol: `error()` says how. The parser stays failed.
};

/// Decodes replies incrementally from byte chunks of any size, one reply at a time.
///
/// Feed it with `parse(bytes)`; it consumes what it needs and reports `need_more`, `ready` (the
/// reply is complete; bytes after it are left unconsumed for the next reply) or `error`. After
/// `ready`, take the reply and call `parse` again with the rest; the next call starts a new
/// reply. It never allocates more than the announced body size, and only after checking that
/// size against `parser_limits::max_body`.
///
/// Thread safety: none; one parser per connection.
class reply_parser {
 public:
  /// The result of one `parse` call.
  struct result {
    parse_status status;   ///< Need more, ready or error.
    std::size_t consumed;  ///< Bytes of the input that belong to the current reply.
  };

  /// A parser at the start of a reply, refusing what breaks `limits`.
  explicit reply_parser(parser_limits limits = {}) noexcept : limits_(limits) {}

  /// Consumes bytes of `input` toward the current reply. See the class comment.
  result parse(std::string_view input);

  /// The completed reply (valid after `parse` returned `ready`).
  reply& get() noexcept { return reply_; }
  /// Moves the completed reply out and readies the parser for the next one.
  reply take();

  /// Why the parser failed (valid after `parse` returned `error`).
  std::error_code error() const noexcept { return error_; }

  /// Forgets any partial reply and any error: for a fresh connection.
  void reset() noexcept;

  /// The shortest complete reply: "BURIED\r\n", "KICKED\r\n" and "PAUSED\r\n" are 8 bytes.
  static constexpr std::size_t min_reply_size = 8;

  /// A lower bound on the bytes still needed to complete the current reply: exact inside a body,
  /// 1 inside a line, `min_reply_size` between replies. Lets a reader wait for a batch of
  /// replies (SO_RCVLOWAT) without ever waiting for bytes that will not come.
  std::size_t min_bytes_to_complete() const noexcept;

  /// The memory the parser holds for the reply in progress, in bytes. A body is given room as
  /// its bytes arrive (at most 1 MiB ahead of them), never all that its reply line announces.
  std::size_t memory_held() const noexcept { return reply_.body.capacity() + line_.size(); }

 private:
  enum class state : std::uint8_t { line, body, body_crlf, done, failed };

  result fail(std::error_code ec, std::size_t consumed);
  errc decode_line(std::string_view line);

  parser_limits limits_;
  state state_ = state::line;
  std::array<char, parser_limits::max_line> line_{};
  std::size_t line_size_ = 0;
  std::size_t body_left_ = 0;
  std::size_t crlf_seen_ = 0;
  reply reply_;
  std::error_code error_;
};

}  // namespace beanpole::proto
