#include "cellhub/transport/hub_site.hpp"

#include "hub_site_survey.hpp"

#include "cellhub/transport/quoted.hpp"
#include "cellhub/transport/shm_layout.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

namespace cellhub::transport {
namespace {

constexpr std::uint64_t kib = 1024;
constexpr std::uint64_t mib = kib * 1024;
constexpr std::uint64_t gib = mib * 1024;

// Names what a non-regular file is, for the refusal message.
std::string_view kind_of(mode_t mode) noexcept {
  if (S_ISDIR(mode))
    return "a directory";
  if (S_ISLNK(mode))
    return "a symbolic link";
  if (S_ISFIFO(mode))
    return "a FIFO";
  if (S_ISSOCK(mode))
    return "a socket";
  if (S_ISCHR(mode))
    return "a character device";
  if (S_ISBLK(mode))
    return "a block device";
  return "not a regular file";
}

error occupied(const std::string& path, std::string_view what) {
  return make_error(errc::path_occupied,
                    fmt::format("{} exists and {}; refusing to remove it", path, what));
}

error not_a_hub(const std::string& path, std::string_view why) {
  return occupied(path, fmt::format("is not a cellhub hub ({})", why));
}

// Checks the path's form and its directory; returns the directory.
result<std::string> check_path(const std::string& path) {
  if (path.empty())
    return make_error(errc::invalid_argument, "empty hub path");
  if (const auto nul = path.find('\0'); nul != std::string::npos)
    return make_error(errc::invalid_argument,
                      fmt::format("hub path {} holds a NUL byte at offset {}", quoted(path), nul));
  if (path.front() != '/')
    return make_error(errc::invalid_argument,
                      fmt::format("hub path {} is relative; it must be absolute", path));
  if (path.back() == '/')
    return make_error(errc::invalid_argument,
                      fmt::format("hub path {} ends in '/'; it must name a file", path));
  const auto slash = path.rfind('/');
  std::string directory = slash == 0 ? std::string{"/"} : path.substr(0, slash);
  struct stat st {};
  if (::stat(directory.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT)
      return make_error(
          errc::invalid_argument,
          fmt::format("the directory {} of hub path {} does not exist", directory, path));
    if (err == ENOTDIR)
      return make_error(errc::invalid_argument,
                        fmt::format("the directory {} of hub path {} is not a directory "
                                    "(a component of it is a file)",
                                    directory, path));
    return make_sys_error("stat " + directory, err);
  }
  if (!S_ISDIR(st.st_mode))
    return make_error(
        errc::invalid_argument,
        fmt::format("the directory {} of hub path {} is not a directory", directory, path));
  // Creating the hub, or removing a stale one, needs both.
  if (::faccessat(AT_FDCWD, directory.c_str(), W_OK | X_OK, AT_EACCESS) != 0)
    return make_sys_error(fmt::format("the hub directory {} is not writable", directory));
  return directory;
}

bool same_file(const struct stat& a, const struct stat& b) noexcept {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

// Proves the file at `path` is a stale cellhub hub and returns it locked; nothing
// (absent) when no file is there; an error naming what is there otherwise.
// Looks before it opens: only a regular file is opened, read-only, never created.
result<std::optional<detail::stale_hub>> find_stale_hub(const std::string& path) {
  struct stat seen {};
  if (::lstat(path.c_str(), &seen) != 0) {
    if (errno == ENOENT)
      return std::optional<detail::stale_hub>{};
    return make_sys_error("lstat " + path);
  }
  if (!S_ISREG(seen.st_mode))
    return occupied(path, fmt::format("is {}, not a cellhub hub", kind_of(seen.st_mode)));
  if (seen.st_uid != ::geteuid())
    return occupied(path, fmt::format("belongs to uid {}, not to this user (uid {})", seen.st_uid,
                                      ::geteuid()));
  const auto size = static_cast<std::uint64_t>(seen.st_size);
  if (size < sizeof(shm::hub_header))
    return not_a_hub(path, fmt::format("{} bytes, too small for a hub header", size));

  // O_NONBLOCK: should a FIFO be swapped in after the lstat, opening it must not hang.
  detail::unique_fd fd{
      ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)};
  if (fd.get() < 0) {
    if (errno == ENOENT)
      return std::optional<detail::stale_hub>{};
    if (errno == ELOOP)
      return occupied(path, "is a symbolic link, not a cellhub hub");
    return make_sys_error("open " + path);
  }
  struct stat opened {};
  if (::fstat(fd.get(), &opened) != 0)
    return make_sys_error("fstat " + path);
  if (!same_file(seen, opened) || opened.st_mode != seen.st_mode || opened.st_uid != seen.st_uid ||
      opened.st_size != seen.st_size)
    return occupied(path, "changed while it was inspected");

  shm::hub_header header{};
  const auto got = ::pread(fd.get(), &header, sizeof(header), 0);
  if (got != static_cast<ssize_t>(sizeof(header)))
    return got < 0 ? make_sys_error("read the header of " + path)
                   : not_a_hub(path, "its header could not be read whole");
  if (std::memcmp(header.magic, shm::magic, sizeof(shm::magic)) != 0)
    return not_a_hub(path, "no CELLHUB magic");
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK)
      return make_error(errc::hub_in_use, header.host_pid != 0
                                              ? fmt::format("{} is held by a live host (pid {})",
                                                            path, header.host_pid)
                                              : fmt::format("{} is held by a live host", path));
    return make_sys_error("flock " + path);
  }
  if (header.version_major != shm::version_major)
    return occupied(path,
                    fmt::format("is a cellhub hub of layout version {}.{}, not {}.x",
                                header.version_major, header.version_minor, shm::version_major));
  if (header.file_size != size)
    return not_a_hub(
        path, fmt::format("its header says {} bytes, the file has {}", header.file_size, size));
  detail::stale_hub stale;
  stale.fd = std::move(fd);
  stale.dev = opened.st_dev;
  stale.ino = opened.st_ino;
  stale.host_pid = header.host_pid;
  return std::optional<detail::stale_hub>{std::move(stale)};
}

} // namespace

std::string describe_bytes(std::uint64_t bytes) {
  const auto scaled = [&](std::uint64_t unit, std::string_view name) {
    return fmt::format("{:.1f} {} ({} bytes)",
                       static_cast<double>(bytes) / static_cast<double>(unit), name, bytes);
  };
  if (bytes >= gib)
    return scaled(gib, "GiB");
  if (bytes >= mib)
    return scaled(mib, "MiB");
  if (bytes >= kib)
    return scaled(kib, "KiB");
  return fmt::format("{} bytes", bytes);
}

namespace detail {

result<std::uint64_t> free_bytes_in(const std::string& directory) {
  struct statvfs fs {};
  if (::statvfs(directory.c_str(), &fs) != 0)
    return make_sys_error("statvfs " + directory);
  // f_bavail: what an unprivileged writer may use (no root reserve).
  const auto blocks = static_cast<std::uint64_t>(fs.f_bavail);
  const auto block_size = static_cast<std::uint64_t>(fs.f_frsize);
  if (block_size != 0 && blocks > UINT64_MAX / block_size)
    return UINT64_MAX;
  return blocks * block_size;
}

error no_space_error(const std::string& path, const std::string& directory, std::uint64_t needed,
                     std::uint64_t free) {
  return make_error(errc::no_space,
                    fmt::format("hub {} needs {}, {} has {} free", path, describe_bytes(needed),
                                directory, describe_bytes(free)));
}

result<site_survey> survey_hub_site(const std::string& path, std::uint64_t file_size) {
  site_survey survey;
  BOOST_OUTCOME_TRY(directory, check_path(path));
  survey.directory = std::move(directory);
  BOOST_OUTCOME_TRY(stale, find_stale_hub(path));
  BOOST_OUTCOME_TRY(free, free_bytes_in(survey.directory));
  if (stale) {
    // Removing the stale hub gives its blocks back (once its orphaned cells unmap it).
    struct stat st {};
    if (::fstat(stale->fd.get(), &st) == 0) {
      const auto reclaimed = static_cast<std::uint64_t>(st.st_blocks) * 512;
      free = free > UINT64_MAX - reclaimed ? UINT64_MAX : free + reclaimed;
    }
    survey.site.state = hub_site_state::stale_hub;
    survey.stale = std::move(stale);
  }
  survey.site.path = path;
  survey.site.file_size = file_size;
  survey.site.free_bytes = free;
  if (file_size > free)
    return no_space_error(path, survey.directory, file_size, free);
  return survey;
}

} // namespace detail

result<hub_site> inspect_hub_site(const std::string& path, std::uint64_t file_size) {
  BOOST_OUTCOME_TRY(survey, detail::survey_hub_site(path, file_size));
  return std::move(survey.site);
}

} // namespace cellhub::transport
