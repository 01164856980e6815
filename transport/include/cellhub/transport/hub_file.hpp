#pragma once

#include "cellhub/transport/result.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

namespace cellhub::transport {

/// Owns an open, mapped hub file. The host creates it exclusively and holds an
/// exclusive `flock` for its whole life; cells open it and map it too.
class hub_file {
public:
  /// Creates the file at `path` (O_CREAT|O_EXCL, mode 0600), locks it and maps `size`
  /// zeroed bytes. A leftover file whose lock is free is a dead host's: it is removed
  /// and recreated (with a log line). A file whose lock is held fails with `hub_in_use`.
  static result<hub_file> create(const std::string& path, std::uint64_t size);

  /// Opens and maps an existing hub file for a cell, without locking it.
  static result<hub_file> open(const std::string& path);

  /// Creates an empty handle that owns nothing.
  hub_file() noexcept = default;
  hub_file(hub_file&& other) noexcept;
  hub_file& operator=(hub_file&& other) noexcept;
  hub_file(const hub_file&) = delete;
  hub_file& operator=(const hub_file&) = delete;
  /// Unmaps and closes; the host's handle also removes the file.
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
  void reset() noexcept;

  std::string path_;
  int fd_ = -1;
  std::byte* data_ = nullptr;
  std::uint64_t size_ = 0;
  bool owner_ = false;
};

} // namespace cellhub::transport
