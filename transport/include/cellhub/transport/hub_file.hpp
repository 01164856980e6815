#pragma once

#include "cellhub/transport/result.hpp"
#include "cellhub/transport/shm_layout.hpp"

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace cellhub::transport {

/// Owns the hub file: the host creates it exclusively and holds an exclusive `flock`
/// for its whole life. It holds only the hub's header (identity and layout, for a
/// later host judging a stale file and for tools); no cell maps it, and the host
/// writes it with `pwrite` and keeps no mapping, so a process that truncates it
/// cannot fault the host.
class hub_file {
public:
  /// Creates the file at `path` (O_CREAT|O_EXCL, mode 0600), locks it, writes the
  /// header's magic, version and size, and reserves all `size` bytes
  /// (posix_fallocate). It applies the rules of `inspect_hub_site` first: a provably
  /// stale hub (a regular file of this user with the magic, this major version, the
  /// size its header gives, and a free lock) is removed with a warning; a live one
  /// fails with `hub_in_use`; anything else at the path fails with `path_occupied`
  /// and is left untouched; a filesystem without room fails with `no_space` (bytes
  /// needed and free), and the file it created is removed again.
  static result<hub_file> create(const std::string& path, std::uint64_t size);

  /// Creates an empty handle that owns nothing.
  hub_file() noexcept = default;
  hub_file(hub_file&& other) noexcept;
  hub_file& operator=(hub_file&& other) noexcept;
  hub_file(const hub_file&) = delete;
  hub_file& operator=(const hub_file&) = delete;
  /// Closes the file and removes it, if the path still names the file it created
  /// (same device and inode).
  ~hub_file();

  /// Writes `header` over the file's header (the host, once, after creation).
  result<void> write_header(const shm::hub_header& header);

  /// Returns the file's size.
  [[nodiscard]] std::uint64_t size() const noexcept { return size_; }
  /// Returns the path the file was created at.
  [[nodiscard]] const std::string& path() const noexcept { return path_; }

private:
  // Locks, sizes, stamps and reserves a file just created.
  result<void> reserve(std::uint64_t size, const std::string& directory);
  // Unlinks the path if it still names the file this handle created.
  void remove_own_file() const noexcept;
  void reset() noexcept;

  std::string path_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
  bool owner_ = false;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
};

} // namespace cellhub::transport
