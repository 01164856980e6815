#pragma once

// Private to the transport library: the checks `inspect_hub_site` and
// `hub_file::create` share.

#include "unique_fd.hpp"

#include "cellhub/transport/hub_site.hpp"

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace cellhub::transport::detail {

/// Holds a proven stale hub open read-only under its exclusive lock, so that no
/// other host can judge it stale or take it over while this object lives.
struct stale_hub {
  /// Owns the descriptor the lock is held through.
  unique_fd fd;
  /// Identifies the file (to check the path still names it before unlinking).
  dev_t dev = 0;
  /// Identifies the file together with `dev`.
  ino_t ino = 0;
  /// Holds the pid its dead host wrote into the header.
  std::uint32_t host_pid = 0;
};

/// Holds what `survey_hub_site` found.
struct site_survey {
  /// Describes the site.
  hub_site site;
  /// Holds the directory the hub lives in.
  std::string directory;
  /// Holds the stale hub at the path, locked, when `site.state` is `stale_hub`.
  std::optional<stale_hub> stale;
};

/// Applies every rule of `inspect_hub_site` and keeps a stale hub locked.
result<site_survey> survey_hub_site(const std::string& path, std::uint64_t file_size);

/// Builds the `no_space` error for a hub of `needed` bytes with `free` bytes left.
error no_space_error(const std::string& path, const std::string& directory, std::uint64_t needed,
                     std::uint64_t free);

/// Returns the bytes free to an unprivileged writer on `directory`'s filesystem.
result<std::uint64_t> free_bytes_in(const std::string& directory);

} // namespace cellhub::transport::detail
