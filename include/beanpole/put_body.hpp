// The body of an asynchronous put, owned by the operation.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace beanpole {

/// The body of an `async_client::async_put`, owned by the operation so that nothing the caller
/// holds must outlive the call, whatever the completion token (a deferred operation may start
/// long after `async_put` returned).
///
/// Made implicitly from what a caller has:
/// - a `std::string` rvalue (`std::move(body)`): taken as it is, never copied, and written to the
///   socket from where it is (a gather write) when it is large;
/// - anything else (`std::string_view`, a `const std::string&`, a string literal): copied at the
///   call. A body of up to `inline_capacity` bytes is copied into the operation itself, which
///   costs no allocation; a longer one into a `std::string` of its own.
class put_body {
 public:
  /// The longest body kept inside the operation, without an allocation of its own.
  static constexpr std::size_t inline_capacity = 200;

  /// Takes `body` without copying it.
  put_body(std::string&& body)  // NOLINT(google-explicit-constructor): a body is a body
      : large_(std::make_unique<std::string>(std::move(body))), size_(large_->size()) {}
  /// Copies `body`.
  put_body(std::string_view body)  // NOLINT(google-explicit-constructor)
      : size_(body.size()) {
    if (size_ > inline_capacity) {
      large_ = std::make_unique<std::string>(body);
    } else if (size_ > 0) {
      std::memcpy(small_, body.data(), size_);
    }
  }
  /// Copies `body`.
  put_body(const std::string& body)  // NOLINT(google-explicit-constructor)
      : put_body(std::string_view(body)) {}
  /// Copies `body`, a NUL-terminated string.
  put_body(const char* body)  // NOLINT(google-explicit-constructor)
      : put_body(std::string_view(body)) {}

  /// Moves the body; an inline body is copied (only its own bytes).
  put_body(put_body&& other) noexcept : large_(std::move(other.large_)), size_(other.size_) {
    if (!large_ && size_ > 0) std::memcpy(small_, other.small_, size_);
  }
  /// Moves the body; an inline body is copied (only its own bytes).
  put_body& operator=(put_body&& other) noexcept {
    if (this != &other) {
      large_ = std::move(other.large_);
      size_ = other.size_;
      if (!large_ && size_ > 0) std::memcpy(small_, other.small_, size_);
    }
    return *this;
  }
  /// Copies the body.
  put_body(const put_body& other) : put_body(other.view()) {}
  /// Copies the body.
  put_body& operator=(const put_body& other) {
    if (this != &other) *this = put_body(other.view());
    return *this;
  }
  ~put_body() = default;

  /// The bytes of the body.
  std::string_view view() const noexcept {
    return large_ ? std::string_view(*large_) : std::string_view(small_, size_);
  }
  /// The length of the body in bytes.
  std::size_t size() const noexcept { return size_; }
  /// Whether the body is kept in a string of its own (taken, or too long to keep inline), which
  /// does not move while the operation lives: a large one is written from there.
  bool stands_alone() const noexcept { return large_ != nullptr; }

 private:
  // A pointer rather than a string member: moving and destroying an inline body, the common
  // case, then costs a pointer's worth, and a string taken keeps its bytes where they are.
  std::unique_ptr<std::string> large_;
  std::size_t size_ = 0;
  // Left uninitialized: only the first size_ bytes are ever read.
  char small_[inline_capacity];  // NOLINT(cppcoreguidelines-pro-type-member-init)
};

}  // namespace beanpole
