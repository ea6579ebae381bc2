// A FIFO of operations linked through `op_base::next`: no allocation per push.
#pragma once

#include <cstddef>

#include "beanpole/detail/async_op.hpp"

namespace beanpole::detail {

class op_queue {
 public:
  op_queue() = default;
  op_queue(const op_queue&) = delete;
  op_queue& operator=(const op_queue&) = delete;
  op_queue(op_queue&& other) noexcept { splice_back(other); }
  op_queue& operator=(op_queue&& other) noexcept {
    if (this != &other) {
      head_ = tail_ = nullptr;
      size_ = 0;
      splice_back(other);
    }
    return *this;
  }

  bool empty() const noexcept { return head_ == nullptr; }
  std::size_t size() const noexcept { return size_; }
  op_base* front() const noexcept { return head_; }

  void push_back(op_base* op) noexcept {
    op->next = nullptr;
    if (tail_ != nullptr) {
      tail_->next = op;
    } else {
      head_ = op;
    }
    tail_ = op;
    ++size_;
  }

  op_base* pop_front() noexcept {
    op_base* op = head_;
    if (op == nullptr) return nullptr;
    head_ = op->next;
    if (head_ == nullptr) tail_ = nullptr;
    op->next = nullptr;
    --size_;
    return op;
  }

  /// Moves every op of `other` to the back of this queue.
  void splice_back(op_queue& other) noexcept {
    if (other.head_ == nullptr) return;
    if (tail_ != nullptr) {
      tail_->next = other.head_;
    } else {
      head_ = other.head_;
    }
    tail_ = other.tail_;
    size_ += other.size_;
    other.head_ = other.tail_ = nullptr;
    other.size_ = 0;
  }

 private:
  op_base* head_ = nullptr;
  op_base* tail_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace beanpole::detail
