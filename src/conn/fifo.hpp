// A FIFO of nodes linked through their own `next` member: no allocation per push. The queues of
// the connection machines and of the async driver are all of this kind.
#pragma once

#include <cstddef>

namespace beanpole::conn {

/// An intrusive first-in-first-out queue. `Node` has a `Node* next` member, which belongs to the
/// queue while the node is in it. The queue does not own its nodes.
template <class Node>
class fifo {
 public:
  fifo() = default;
  fifo(const fifo&) = delete;
  fifo& operator=(const fifo&) = delete;
  fifo(fifo&& other) noexcept { splice_back(other); }
  fifo& operator=(fifo&& other) noexcept {
    if (this != &other) {
      head_ = tail_ = nullptr;
      size_ = 0;
      splice_back(other);
    }
    return *this;
  }
  ~fifo() = default;

  bool empty() const noexcept { return head_ == nullptr; }
  std::size_t size() const noexcept { return size_; }
  Node* front() const noexcept { return head_; }

  void push_back(Node* node) noexcept {
    node->next = nullptr;
    if (tail_ != nullptr) {
      tail_->next = node;
    } else {
      head_ = node;
    }
    tail_ = node;
    ++size_;
  }

  Node* pop_front() noexcept {
    Node* node = head_;
    if (node == nullptr) return nullptr;
    head_ = node->next;
    if (head_ == nullptr) tail_ = nullptr;
    node->next = nullptr;
    --size_;
    return node;
  }

  /// Moves every node of `other` to the back of this queue.
  void splice_back(fifo& other) noexcept {
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
  Node* head_ = nullptr;
  Node* tail_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace beanpole::conn
