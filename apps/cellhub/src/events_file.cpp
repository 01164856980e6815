#include "cellhub/cli/events_file.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace cellhub::cli {

std::optional<events_file> events_file::open(const std::string& path, std::string& problem) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    problem = fmt::format("cannot open {} for appending: {}", path, std::strerror(errno));
    return std::nullopt;
  }
  return events_file{path, fd};
}

events_file::events_file(events_file&& other) noexcept
    : path_{std::move(other.path_)}
    , fd_{std::exchange(other.fd_, -1)}
    , failed_{other.failed_} {}

events_file& events_file::operator=(events_file&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0)
      ::close(fd_);
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
    failed_ = other.failed_;
  }
  return *this;
}

events_file::~events_file() {
  if (fd_ >= 0)
    ::close(fd_);
}

std::optional<std::string> events_file::write_line(std::string_view line) {
  if (failed_ || fd_ < 0)
    return fmt::format("cannot write to {}: an earlier write failed", path_);
  std::string text;
  text.reserve(line.size() + 1);
  text.append(line);
  text += '\n';
  std::size_t done = 0;
  while (done < text.size()) {
    const auto n = ::write(fd_, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      failed_ = true;
      const int err = n < 0 ? errno : ENOSPC;
      return fmt::format("cannot write to {}: {}", path_, std::strerror(err));
    }
    done += static_cast<std::size_t>(n);
  }
  return std::nullopt;
}

} // namespace cellhub::cli
