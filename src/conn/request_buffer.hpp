// Requests waiting to be written, kept so that no byte is copied twice:
// - large bodies stay where their operations keep them and are written from there (a gather
//   write), never copied into a write buffer;
// - the copied bytes go into chunks of about `chunk_bytes`: a full chunk is sealed and a new one
//   started, rather than growing one string (each growth copies everything written so far, which
//   was a twentieth of a pipelined put's instructions in a burst).
// Pure; unit-tested in tests/unit/request_buffer_test.cpp.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace beanpole::conn {

class request_buffer {
 public:
  /// About how many copied bytes a chunk holds before a new one is started.
  static constexpr std::size_t chunk_bytes = std::size_t{64} * 1024;

  /// Bytes written from where they are (a body, or a sealed chunk), after the first `at` bytes of
  /// `bytes()`. Several may share one `at`; they are in wire order.
  struct external {
    std::size_t at;
    std::string_view bytes;
  };

  /// The copied bytes of the current chunk; append to them directly.
  std::string& bytes() noexcept { return bytes_; }
  const std::string& bytes() const noexcept { return bytes_; }
  /// What is written from where it is, in wire order.
  const std::vector<external>& externals() const noexcept { return externals_; }

  /// The current chunk, ready for a request to be appended: a full chunk is sealed first, and a
  /// new chunk gets its full capacity at once (growing it would copy it).
  std::string& bytes_for_append() {
    if (bytes_.size() >= chunk_bytes) seal();
    if (bytes_.empty() && bytes_.capacity() < chunk_bytes) bytes_.reserve(chunk_bytes + slack);
    return bytes_;
  }

  /// Writes `body` from where it is, after the bytes copied so far. It must stay valid until
  /// the buffer is written, erased or cleared.
  void append_external(std::string_view body) {
    if (!body.empty()) externals_.push_back({bytes_.size(), body});
  }

  /// Appends everything of `other`, which is left empty; nothing is copied.
  void append(request_buffer& other) {
    if (other.empty()) return;
    if (empty()) {
      swap(other);
      return;
    }
    other.seal();
    for (const auto& e : other.externals_) externals_.push_back({bytes_.size(), e.bytes});
    for (auto& chunk : other.sealed_) sealed_.push_back(std::move(chunk));  // the strings stay put
    other.clear();
  }

  /// Drops the first `n` bytes of the requests; `n` ends a request, so no body is cut.
  void erase_prefix(std::size_t n) {
    std::size_t copied = 0;  // bytes of bytes() before the cut
    std::size_t dropped = 0;
    for (auto& e : externals_) {
      const std::size_t before = e.at - copied;  // copied bytes between the last external and e
      if (n <= before) break;
      n -= before;
      copied = e.at;
      if (n < e.bytes.size()) {  // the cut falls inside a sealed chunk
        e.bytes.remove_prefix(n);
        n = 0;
        break;
      }
      n -= e.bytes.size();
      ++dropped;
    }
    copied += n;
    externals_.erase(externals_.begin(), externals_.begin() + static_cast<std::ptrdiff_t>(dropped));
    for (auto& e : externals_) e.at -= copied;
    bytes_.erase(0, copied);
  }

  /// Every byte, copied and external.
  std::size_t size() const noexcept {
    std::size_t n = bytes_.size();
    for (const auto& e : externals_) n += e.bytes.size();
    return n;
  }
  bool empty() const noexcept { return bytes_.empty() && externals_.empty(); }

  /// Empties the buffer, keeping the current chunk's capacity unless it grew past `keep` bytes
  /// (a burst of large requests must not leave megabytes behind in every buffer it went through).
  void clear(std::size_t keep = static_cast<std::size_t>(-1)) {
    bytes_.clear();
    externals_.clear();
    sealed_.clear();
    if (bytes_.capacity() > keep) std::string().swap(bytes_);
  }

  void swap(request_buffer& other) noexcept {
    bytes_.swap(other.bytes_);
    externals_.swap(other.externals_);
    sealed_.swap(other.sealed_);
  }

 private:
  /// Room beyond a chunk, so that the request that fills it does not grow it.
  static constexpr std::size_t slack = std::size_t{4} * 1024;

  /// Turns the current chunk into externals (its copied pieces between the bodies, in order) at
  /// the start of a new, empty chunk.
  void seal() {
    if (bytes_.empty()) return;  // every external is at 0 already
    sealed_.push_back(std::make_unique<std::string>(std::move(bytes_)));
    bytes_ = std::string();
    const std::string_view chunk = *sealed_.back();
    std::vector<external> pieces;
    pieces.reserve(externals_.size() * 2 + 1);
    std::size_t at = 0;
    for (const auto& e : externals_) {
      if (e.at > at) pieces.push_back({0, chunk.substr(at, e.at - at)});
      pieces.push_back({0, e.bytes});
      at = e.at;
    }
    if (chunk.size() > at) pieces.push_back({0, chunk.substr(at)});
    externals_.swap(pieces);
  }

  std::string bytes_;
  std::vector<external> externals_;
  // Full chunks the externals point into; held by pointer so that their bytes never move (a
  // short string's bytes live inside the string object).
  std::vector<std::unique_ptr<std::string>> sealed_;
};

}  // namespace beanpole::conn
