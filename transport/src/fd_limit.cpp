#include "cellhub/transport/fd_limit.hpp"

#include <dirent.h>
#include <sys/resource.h>

#include <cstdio>
#include <limits>

namespace cellhub::transport {
namespace {

constexpr std::uint64_t unlimited = std::numeric_limits<std::uint64_t>::max();

std::uint64_t as_count(rlim_t value) noexcept {
  return value == RLIM_INFINITY ? unlimited : static_cast<std::uint64_t>(value);
}

// Reads the kernel's cap on any process's fd table (fs.nr_open), or 0.
std::uint64_t kernel_fd_cap() noexcept {
  std::FILE* file = std::fopen("/proc/sys/fs/nr_open", "re");
  if (file == nullptr)
    return 0;
  unsigned long long value = 0;
  const bool read = std::fscanf(file, "%llu", &value) == 1;
  std::fclose(file);
  return read ? value : 0;
}

} // namespace

fd_limits current_fd_limits() noexcept {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0)
    return {};
  return {as_count(limit.rlim_cur), as_count(limit.rlim_max)};
}

std::uint64_t raise_fd_limit() noexcept {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0)
    return 0;
  if (limit.rlim_cur == limit.rlim_max)
    return as_count(limit.rlim_cur);
  rlimit wanted = limit;
  wanted.rlim_cur = limit.rlim_max;
  if (limit.rlim_max == RLIM_INFINITY) {
    // setrlimit refuses a soft limit above fs.nr_open with EPERM.
    const auto cap = kernel_fd_cap();
    if (cap == 0 || cap <= as_count(limit.rlim_cur))
      return as_count(limit.rlim_cur);
    wanted.rlim_cur = static_cast<rlim_t>(cap);
  }
  if (::setrlimit(RLIMIT_NOFILE, &wanted) != 0)
    return as_count(limit.rlim_cur);
  return as_count(wanted.rlim_cur);
}

std::uint64_t count_open_fds() noexcept {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr)
    return 0;
  std::uint64_t count = 0;
  while (const dirent* entry = ::readdir(dir))
    if (entry->d_name[0] != '.')
      ++count;
  ::closedir(dir);
  return count > 0 ? count - 1 : 0; // the directory's own fd
}

} // namespace cellhub::transport
