#pragma once

#include "cellhub/transport/result.hpp"

#include <boost/interprocess/interprocess_fwd.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace cellhub::transport {

/// Owns one peer life's memory: an anonymous memory object (a memfd) that only the
/// host and that life's cell can reach, and this process's mapping of it.
///
/// The host creates a fresh region for every life and hands its descriptor to the
/// cell over the doorbell (`doorbell::send_fd`); no path names it, so no other
/// process can open it. Its size is sealed (`F_SEAL_SHRINK | F_SEAL_GROW`, then
/// `F_SEAL_SEAL`), so a cell cannot shrink it under the host's mapping (which would
/// make the host's next access a SIGBUS). A region is never reused for another life:
/// a dead cell's descendants may still hold its descriptor.
class peer_region {
public:
  /// Creates a zeroed region of `size` bytes (a multiple of the page size) named
  /// `name` (shown in /proc/PID/fd and /proc/PID/maps as `memfd:NAME`), seals its size
  /// and maps it read-write. Pages are allocated when first touched.
  static result<peer_region> create(std::uint64_t size, std::string_view name);

  /// Maps the region whose descriptor `fd` a cell received (taking ownership of
  /// `fd` and closing it once mapped), after checking that it is a sealed memory
  /// object of exactly `expected_size` bytes (`bad_layout` otherwise).
  static result<peer_region> adopt(int fd, std::uint64_t expected_size);

  /// Creates an empty handle that owns nothing.
  peer_region() noexcept;
  peer_region(peer_region&& other) noexcept;
  peer_region& operator=(peer_region&& other) noexcept;
  peer_region(const peer_region&) = delete;
  peer_region& operator=(const peer_region&) = delete;
  /// Unmaps the region and closes its descriptor, if still open.
  ~peer_region();

  /// Returns the start of the mapping.
  [[nodiscard]] std::byte* data() const noexcept;
  /// Returns the mapped size.
  [[nodiscard]] std::uint64_t size() const noexcept;
  /// Returns the region's descriptor (the host's, until `close_fd`), or -1.
  [[nodiscard]] int fd() const noexcept { return fd_; }
  /// Closes the descriptor; the mapping stays. The host calls it once the descriptor
  /// is on its way to the cell.
  void close_fd() noexcept;

private:
  int fd_ = -1;
  std::unique_ptr<boost::interprocess::mapped_region> mapping_;
};

} // namespace cellhub::transport
