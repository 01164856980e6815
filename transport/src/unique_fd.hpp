#pragma once

// Private to the transport library: an owned file descriptor.

#include <unistd.h>
#include <utility>

namespace cellhub::transport::detail {

/// Owns one file descriptor and closes it when destroyed; move-only.
class unique_fd {
public:
  /// Creates a handle that owns nothing.
  unique_fd() noexcept = default;
  /// Takes ownership of `fd` (-1 for none).
  explicit unique_fd(int fd) noexcept
      : fd_{fd} {}
  unique_fd(unique_fd&& other) noexcept
      : fd_{std::exchange(other.fd_, -1)} {}
  unique_fd& operator=(unique_fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  /// Closes the descriptor.
  ~unique_fd() { reset(); }

  /// Returns the descriptor, or -1.
  [[nodiscard]] int get() const noexcept { return fd_; }
  /// Gives up ownership and returns the descriptor.
  [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }
  /// Closes the descriptor, if any.
  void reset() noexcept {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = -1;
  }

private:
  int fd_ = -1;
};

} // namespace cellhub::transport::detail
