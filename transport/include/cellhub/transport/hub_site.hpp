#pragma once

#include "cellhub/transport/result.hpp"

#include <cstdint>
#include <string>

namespace cellhub::transport {

/// Tells what is at a hub path that a host could create its hub at.
enum class hub_site_state : std::uint8_t {
  /// Nothing is at the path.
  absent,
  /// A stale cellhub hub is at the path: a host would remove it (with a warning).
  stale_hub,
};

/// Describes a path where a hub can be created, as `inspect_hub_site` found it.
struct hub_site {
  /// Holds the path as given.
  std::string path;
  /// Counts the bytes the hub needs (reserved at creation).
  std::uint64_t file_size = 0;
  /// Counts the bytes available to it on the path's filesystem, including the
  /// space the removal of a stale hub at the path gives back.
  std::uint64_t free_bytes = 0;
  /// Tells whether the path is free or holds a stale hub.
  hub_site_state state = hub_site_state::absent;
};

/// Checks, without changing anything, that a hub of `file_size` bytes can be
/// created at `path`, by the rules `hub_file::create` applies. Fails with
/// `invalid_argument` when the path is empty, holds a NUL, is relative, ends in '/',
/// or its parent is missing or not a directory; with `io_error` when the parent is
/// not writable; with `path_occupied` when something other than a provably stale
/// cellhub hub is at the path (a directory, FIFO, device, socket or symbolic link,
/// another user's file, a file without the magic, of another major layout version,
/// too small for a header, or whose size differs from its header's); with
/// `hub_in_use` when a live host holds the hub there; and with `no_space` when the
/// filesystem lacks the bytes (the detail gives needed and free).
result<hub_site> inspect_hub_site(const std::string& path, std::uint64_t file_size);

/// Returns `bytes` for a person: `682.3 MiB (715403264 bytes)`.
std::string describe_bytes(std::uint64_t bytes);

} // namespace cellhub::transport
