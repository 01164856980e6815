#pragma once

#include "cellhub/transport/result.hpp"

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace cellhub::transport {

/// Owns an open, mapped hub file. The host creates it exclusively and holds an
/// exclusive `flock` for its whole life; cells open it and map it too.
class hub_file {
public:
  /// Creates the file at `path` (O_CREAT|O_EXCL, mode 0600), locks it, writes the
  /// header's magic, version and size, reserves all `size` bytes (posix_fallocate)
  /// and maps them zeroed. It applies the rules of `inspect_hub_site` first: a
  /// provably stale hub (a regular file of this user with the magic, this major
  /// version, the size its header gives, and a free lock) is removed with a warning;
  /// a live one fails with `hub_in_use`; anything else at the path fails with
  /// `path_occupied` and is left untouched; a filesystem without room fails with
  /// `no_space` (bytes needed and free), and the file it created is removed again.
  static result<hub_file> create(const std::string& path, std::uint64_t size);

  /// Opens and maps an existing hub file for a cell, without locking it.
  static result<hub_file> open(const std::string& path);

  /// Creates an empty handle that owns nothing.
  hub_file() noexcept = default;
  hub_file(hub_file&& other) noexcept;
  hub_file& operator=(hub_file&& other) noexcept;
  hub_file(const hub_file&) = delete;
  hub_file& operator=(const hub_file&) = delete;
  /// Unmaps and closes; the host's handle also removes the file, if the path still
  /// names the file it created (same device and inode).
  ~hub_file();

  /// Returns the start of the mapping.
  [[nodiscard]] std::byte* data() const noexcept { return data_; }
  /// Returns the mapped size.
  [[nodiscard]] std::uint64_t size() const noexcept { return size_; }
  /// Returns the path the file was created or opened at.
  [[nodiscard]] const std::string& path() const noexcept { return path_; }

  /// Tells whether a host still holds the file's lock (always true for the host itself).
  [[nodiscard]] bool host_alive() const noexcept;

private:
  // Locks, sizes, stamps, reserves and maps a file just created.
  result<void> reserve_and_map(std::uint64_t size, const std::string& directory);
  // Unlinks the path if it still names the file this handle created.
  void remove_own_file() const noexcept;
  void reset() noexcept;

  std::string path_;
  int fd_ = -1;
  std::byte* data_ = nullptr;
  std::uint64_t size_ = 0;
  bool owner_ = false;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
};

} // namespace cellhub::transport
