#include "cellhub/transport/hub_file.hpp"

#include "cellhub/transport/log.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace cellhub::transport {
namespace {

// Bounds the retries of the remove-stale-then-create race with another host.
constexpr int create_attempts = 5;

result<std::byte*> map_shared(int fd, std::uint64_t size, const std::string& path) {
  void* addr = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (addr == MAP_FAILED)
    return make_sys_error("mmap " + path);
  return static_cast<std::byte*>(addr);
}

// Removes a leftover hub at `path` if no live host holds its lock.
result<void> remove_if_stale(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return errno == ENOENT ? result<void>{success()} : make_sys_error("open " + path);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK)
      return make_error(errc::hub_in_use, path + " is held by a live host");
    return make_sys_error("flock " + path, err);
  }
  // Unlink while holding the lock, so no second host can judge the same file stale.
  const int rc = ::unlink(path.c_str());
  const int err = errno;
  ::close(fd);
  if (rc != 0 && err != ENOENT)
    return make_sys_error("unlink stale hub " + path, err);
  logger()->info("removed stale hub file {} (its host is gone)", path);
  return success();
}

} // namespace

result<hub_file> hub_file::create(const std::string& path, std::uint64_t size) {
  if (path.empty())
    return make_error(errc::invalid_argument, "empty hub path");
  hub_file file;
  file.path_ = path;
  for (int attempt = 0; attempt < create_attempts && file.fd_ < 0; ++attempt) {
    file.fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (file.fd_ >= 0)
      break;
    if (errno != EEXIST)
      return make_sys_error("create " + path);
    BOOST_OUTCOME_TRY(remove_if_stale(path));
  }
  if (file.fd_ < 0)
    return make_error(errc::hub_in_use, path + " keeps reappearing; another host races for it");
  file.owner_ = true;
  if (::flock(file.fd_, LOCK_EX | LOCK_NB) != 0)
    return make_sys_error("flock " + path);
  if (::ftruncate(file.fd_, static_cast<off_t>(size)) != 0)
    return make_sys_error(fmt::format("size {} to {} bytes", path, size));
  BOOST_OUTCOME_TRY(data, map_shared(file.fd_, size, path));
  file.data_ = data;
  file.size_ = size;
  return file;
}

result<hub_file> hub_file::open(const std::string& path) {
  hub_file file;
  file.path_ = path;
  file.fd_ = ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  if (file.fd_ < 0)
    return make_sys_error("open hub " + path);
  struct stat st {};
  if (::fstat(file.fd_, &st) != 0)
    return make_sys_error("stat hub " + path);
  if (st.st_size <= 0)
    return make_error(errc::bad_layout, path + " is empty");
  const auto size = static_cast<std::uint64_t>(st.st_size);
  BOOST_OUTCOME_TRY(data, map_shared(file.fd_, size, path));
  file.data_ = data;
  file.size_ = size;
  return file;
}

hub_file::hub_file(hub_file&& other) noexcept
    : path_{std::move(other.path_)}
    , fd_{std::exchange(other.fd_, -1)}
    , data_{std::exchange(other.data_, nullptr)}
    , size_{std::exchange(other.size_, 0)}
    , owner_{std::exchange(other.owner_, false)} {}

hub_file& hub_file::operator=(hub_file&& other) noexcept {
  if (this != &other) {
    reset();
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    owner_ = std::exchange(other.owner_, false);
  }
  return *this;
}

hub_file::~hub_file() {
  reset();
}

void hub_file::reset() noexcept {
  if (data_ != nullptr)
    ::munmap(data_, size_);
  // The owner removes the file while it still holds the lock: a new host never
  // sees a half-dead hub.
  if (owner_ && fd_ >= 0)
    ::unlink(path_.c_str());
  if (fd_ >= 0)
    ::close(fd_);
  fd_ = -1;
  data_ = nullptr;
  size_ = 0;
  owner_ = false;
}

bool hub_file::host_alive() const noexcept {
  if (owner_)
    return true;
  if (fd_ < 0)
    return false;
  if (::flock(fd_, LOCK_SH | LOCK_NB) == 0) {
    ::flock(fd_, LOCK_UN);
    return false;
  }
  return errno == EWOULDBLOCK;
}

} // namespace cellhub::transport
