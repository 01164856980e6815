#pragma once

#include "cellhub/transport/result.hpp"
#include "cellhub/transport/shm_layout.hpp"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <optional>
#include <type_traits>

namespace cellhub::transport {

namespace detail {

/// Builds the `protocol_violation` for a ring index the other side published outside
/// the range it may take: `index_name` ("head", "tail") at `index`, outside
/// `[low, high]`. Out of line, so the template below pulls no formatting library into
/// every user of the rings.
error ring_index_violation(const char* index_name, std::uint64_t index, std::uint64_t low,
                           std::uint64_t high);

} // namespace detail

/// Writes into one SPSC ring in shared memory. The producer's index is kept
/// privately (the shared copy is only published); the consumer's index is read
/// from shared memory and checked, since the other side may be hostile.
template <class T>
class ring_producer {
  static_assert(std::is_trivially_copyable_v<T>);

public:
  /// Creates a producer that owns nothing.
  ring_producer() noexcept = default;

  /// Attaches to the ring `header` followed by `capacity` elements at `elements`.
  ring_producer(shm::ring_header* header, T* elements, std::uint32_t capacity) noexcept
      : header_{header}
      , elements_{elements}
      , capacity_{capacity}
      , head_{header->head.load(std::memory_order_relaxed)}
      , cached_tail_{head_} {}

  /// Publishes `value`; `ring_full` when the consumer lags a whole ring behind.
  result<void> push(const T& value) noexcept {
    if (head_ - cached_tail_ >= capacity_) {
      BOOST_OUTCOME_TRY(refresh_tail());
      if (head_ - cached_tail_ >= capacity_)
        return make_error(errc::ring_full, {}); // routine: nothing to allocate
    }
    std::memcpy(&elements_[head_ % capacity_], &value, sizeof(T));
    ++head_;
    header_->head.store(head_, std::memory_order_release);
    return success();
  }

  /// Counts published elements the consumer has not taken yet (as last seen): a tail
  /// outside [last accepted, head] is the consumer's nonsense, so the last accepted one
  /// counts (the next push that needs room reports it as a protocol violation).
  [[nodiscard]] std::uint64_t pending() const noexcept {
    const auto tail = header_->tail.load(std::memory_order_acquire);
    return head_ - (tail < cached_tail_ || tail > head_ ? cached_tail_ : tail);
  }

private:
  result<void> refresh_tail() noexcept {
    const auto tail = header_->tail.load(std::memory_order_acquire);
    // The consumer may only move forward and never past what was published.
    if (tail < cached_tail_ || tail > head_)
      return detail::ring_index_violation("tail", tail, cached_tail_, head_);
    cached_tail_ = tail;
    return success();
  }

  shm::ring_header* header_ = nullptr;
  T* elements_ = nullptr;
  std::uint32_t capacity_ = 0;
  std::uint64_t head_ = 0;
  std::uint64_t cached_tail_ = 0;
};

/// Reads from one SPSC ring in shared memory, copying each element out before
/// anyone looks at it, and checking the producer's index it reads.
template <class T>
class ring_consumer {
  static_assert(std::is_trivially_copyable_v<T>);

public:
  /// Creates a consumer that owns nothing.
  ring_consumer() noexcept = default;

  /// Attaches to the ring `header` followed by `capacity` elements at `elements`.
  ring_consumer(shm::ring_header* header, const T* elements, std::uint32_t capacity) noexcept
      : header_{header}
      , elements_{elements}
      , capacity_{capacity}
      , tail_{header->tail.load(std::memory_order_relaxed)}
      , cached_head_{tail_} {}

  /// Takes the next element, or nothing when the ring is empty.
  result<std::optional<T>> pop() noexcept {
    if (tail_ == cached_head_) {
      BOOST_OUTCOME_TRY(refresh_head());
      if (tail_ == cached_head_)
        return std::optional<T>{};
    }
    T value;
    std::memcpy(&value, &elements_[tail_ % capacity_], sizeof(T));
    ++tail_;
    header_->tail.store(tail_, std::memory_order_release);
    return std::optional<T>{value};
  }

  /// Tells whether the producer published something not yet taken (a seq_cst read,
  /// so it pairs with a sleeper's flag store).
  [[nodiscard]] bool has_pending() const noexcept {
    return header_->head.load(std::memory_order_seq_cst) != tail_;
  }

  /// Tells whether the shared indices show something not yet taken. Reads only the
  /// header's atomics, so unlike `has_pending` it is safe on a thread that does not
  /// consume: a hint to take the consumer's lock, never a promise.
  [[nodiscard]] bool looks_nonempty() const noexcept {
    return header_->head.load(std::memory_order_acquire) !=
           header_->tail.load(std::memory_order_relaxed);
  }

  /// Counts elements waiting, as far as they look sane (0 for a nonsense head).
  [[nodiscard]] std::uint64_t pending() const noexcept {
    const auto head = header_->head.load(std::memory_order_acquire);
    return head >= tail_ && head - tail_ <= capacity_ ? head - tail_ : 0;
  }

private:
  result<void> refresh_head() noexcept {
    const auto head = header_->head.load(std::memory_order_acquire);
    if (head < cached_head_ || head - tail_ > capacity_)
      return detail::ring_index_violation("head", head, cached_head_, tail_ + capacity_);
    cached_head_ = head;
    return success();
  }

  shm::ring_header* header_ = nullptr;
  const T* elements_ = nullptr;
  std::uint32_t capacity_ = 0;
  std::uint64_t tail_ = 0;
  std::uint64_t cached_head_ = 0;
};

} // namespace cellhub::transport
