#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace cellhub::cli {

/// Owns the `--events` file of `cellhub run`: opened for appending (created 0644 if
/// absent, never truncated, since cellhub may not have created it) and written one
/// whole line at a time. Move-only.
class events_file {
public:
  /// Opens `path` for appending; returns the file, or nothing with `problem` naming the
  /// path and the system's reason (a missing directory, a directory, no permission).
  static std::optional<events_file> open(const std::string& path, std::string& problem);

  events_file(events_file&& other) noexcept;
  events_file& operator=(events_file&& other) noexcept;
  events_file(const events_file&) = delete;
  events_file& operator=(const events_file&) = delete;
  /// Closes the file.
  ~events_file();

  /// Appends `line` and a newline in one write (so a reader never sees half of it, short
  /// writes aside); returns nothing, or the problem naming the path and the reason (a
  /// full disk, `/dev/full`, an I/O error). Nothing more is written after a failure.
  std::optional<std::string> write_line(std::string_view line);

  /// Returns the path it was opened with.
  [[nodiscard]] const std::string& path() const noexcept { return path_; }

private:
  events_file(std::string path, int fd) noexcept
      : path_{std::move(path)}
      , fd_{fd} {}

  std::string path_;
  int fd_ = -1;
  bool failed_ = false;
};

} // namespace cellhub::cli
