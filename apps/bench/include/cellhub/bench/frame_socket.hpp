#pragma once

// The socket baselines' wire format: every frame is an 8-byte header (length,
// kind) followed by the payload, over a connected Unix SOCK_STREAM socket.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

namespace cellhub::bench {

/// Names what a frame asks of its receiver.
enum class frame_kind : std::uint32_t {
  /// Carries a one-way message (a sink counts it).
  data = 1,
  /// Asks for an answer (an echo sends the payload back, a sink its count).
  request = 2,
  /// Answers a request, or announces that a socket cell is up.
  reply = 3,
};

/// Describes one received frame; its payload is in the caller's buffer.
struct frame_header {
  /// Counts the payload's bytes.
  std::uint32_t length = 0;
  /// Names what the frame is.
  frame_kind kind = frame_kind::data;
};

/// Owns one end of a connected Unix stream socket and speaks length-prefixed frames
/// over it, blocking. Move-only.
class frame_socket {
public:
  /// Creates a connected pair of close-on-exec stream sockets.
  static std::optional<std::pair<frame_socket, frame_socket>> create_pair();

  /// Takes ownership of `fd` (an inherited socket in a cell).
  explicit frame_socket(int fd) noexcept
      : fd_{fd} {}
  /// Creates a socket that owns nothing.
  frame_socket() noexcept = default;
  frame_socket(frame_socket&& other) noexcept;
  frame_socket& operator=(frame_socket&& other) noexcept;
  frame_socket(const frame_socket&) = delete;
  frame_socket& operator=(const frame_socket&) = delete;
  /// Closes the socket.
  ~frame_socket();

  /// Returns the fd, or -1.
  [[nodiscard]] int fd() const noexcept { return fd_; }

  /// Gives up ownership of the fd and returns it.
  [[nodiscard]] int release() noexcept;

  /// Sends one frame (header and payload in one `writev` where the kernel allows);
  /// false when the peer is gone.
  bool send(frame_kind kind, std::span<const std::byte> payload) noexcept;

  /// Receives one frame into `buffer` (grown as needed, never shrunk); nothing at
  /// end of stream or on an error.
  std::optional<frame_header> receive(std::vector<std::byte>& buffer) noexcept;

private:
  bool read_exactly(std::byte* into, std::size_t length) noexcept;

  int fd_ = -1;
};

} // namespace cellhub::bench
