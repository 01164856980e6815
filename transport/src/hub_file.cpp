#include "cellhub/transport/hub_file.hpp"

#include "hub_site_survey.hpp"

#include "cellhub/transport/log.hpp"
#include "cellhub/transport/quoted.hpp"
#include "cellhub/transport/shm_layout.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace cellhub::transport {
namespace {

// Bounds the retries of the remove-stale-then-create race with another host.
constexpr int create_attempts = 5;

// Removes the proven stale hub `stale`, whose lock is held, if `path` still names
// it. No cellhub host can put another file there meanwhile: judging the stale hub
// takes its lock, and a host removes at exit only the file it created.
result<void> remove_stale(const std::string& path, const detail::stale_hub& stale) {
  struct stat now {};
  if (::lstat(path.c_str(), &now) != 0)
    return errno == ENOENT ? result<void>{success()} : make_sys_error("lstat " + path);
  if (now.st_dev != stale.dev || now.st_ino != stale.ino)
    return success(); // replaced meanwhile: the next attempt inspects the newcomer
  if (::unlink(path.c_str()) != 0)
    return errno == ENOENT ? result<void>{success()} : make_sys_error("unlink stale hub " + path);
  logger()->warn("removed stale hub {} left by host pid {} (its lock was free)", quoted(path),
                 stale.host_pid);
  return success();
}

// Writes what proves the file a cellhub hub (magic, version, size), so that a host
// killed from then on leaves a stale hub the next host can recover.
result<void> write_identity(int fd, std::uint64_t size, const std::string& path) {
  shm::hub_header header{};
  std::memcpy(header.magic, shm::magic, sizeof(header.magic));
  header.version_major = shm::version_major;
  header.version_minor = shm::version_minor;
  header.file_size = size;
  header.host_pid = static_cast<std::uint32_t>(::getpid());
  if (::pwrite(fd, &header, sizeof(header), 0) != static_cast<ssize_t>(sizeof(header)))
    return make_sys_error("write the header of " + path);
  return success();
}

} // namespace

result<hub_file> hub_file::create(const std::string& path, std::uint64_t size) {
  if (size < sizeof(shm::hub_header))
    return make_error(errc::invalid_argument,
                      fmt::format("hub size {} is smaller than its header", size));
  for (int attempt = 0; attempt < create_attempts; ++attempt) {
    BOOST_OUTCOME_TRY(survey, detail::survey_hub_site(path, size));
    if (survey.stale) {
      BOOST_OUTCOME_TRY(remove_stale(path, *survey.stale));
      survey.stale.reset();
    }
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
      if (errno == EEXIST)
        continue; // something appeared since the survey: survey it
      return make_sys_error("create " + path);
    }
    hub_file file;
    file.path_ = path;
    file.fd_ = fd;
    struct stat st {};
    if (::fstat(fd, &st) != 0)
      return make_sys_error("fstat new hub " + path); // not provably ours: left in place
    // From here on the file is provably ours: any failure removes it (see reset()).
    file.owner_ = true;
    file.dev_ = st.st_dev;
    file.ino_ = st.st_ino;
    BOOST_OUTCOME_TRY(file.reserve(size, survey.directory));
    return file;
  }
  return make_error(errc::hub_in_use, path + " keeps reappearing; another host races for it");
}

result<void> hub_file::reserve(std::uint64_t size, const std::string& directory) {
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0)
    return make_sys_error("flock " + path_);
  if (::ftruncate(fd_, static_cast<off_t>(size)) != 0)
    return make_sys_error(fmt::format("size {} to {} bytes", path_, size));
  // Reserve the page first: on a full filesystem even the header's write would fail,
  // and this says so with the numbers.
  if (const int err = ::posix_fallocate(fd_, 0, static_cast<off_t>(size)); err != 0) {
    // Measure what is free once the partial reservation is given back.
    reset();
    if (err == ENOSPC) {
      const auto free = detail::free_bytes_in(directory);
      return detail::no_space_error(path_, directory, size, free ? free.value() : 0);
    }
    return make_sys_error(fmt::format("reserve {} bytes for {}", size, path_), err);
  }
  BOOST_OUTCOME_TRY(write_identity(fd_, size, path_));
  size_ = size;
  return success();
}

result<void> hub_file::write_header(const shm::hub_header& header) {
  if (fd_ < 0)
    return make_error(errc::closed, "the hub file is closed");
  if (::pwrite(fd_, &header, sizeof(header), 0) != static_cast<ssize_t>(sizeof(header)))
    return make_sys_error("write the header of " + path_);
  return success();
}

hub_file::hub_file(hub_file&& other) noexcept
    : path_{std::move(other.path_)}
    , fd_{std::exchange(other.fd_, -1)}
    , size_{std::exchange(other.size_, 0)}
    , owner_{std::exchange(other.owner_, false)}
    , dev_{std::exchange(other.dev_, 0)}
    , ino_{std::exchange(other.ino_, 0)} {}

hub_file& hub_file::operator=(hub_file&& other) noexcept {
  if (this != &other) {
    reset();
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
    size_ = std::exchange(other.size_, 0);
    owner_ = std::exchange(other.owner_, false);
    dev_ = std::exchange(other.dev_, 0);
    ino_ = std::exchange(other.ino_, 0);
  }
  return *this;
}

hub_file::~hub_file() {
  reset();
}

void hub_file::remove_own_file() const noexcept {
  struct stat now {};
  if (::lstat(path_.c_str(), &now) != 0)
    return; // already gone
  if (now.st_dev == dev_ && now.st_ino == ino_) {
    ::unlink(path_.c_str());
    return;
  }
  try {
    logger()->warn("hub path {} no longer names the hub this host created; left what is there",
                   quoted(path_));
  } catch (...) {
    // Logging must not throw out of a destructor.
  }
}

void hub_file::reset() noexcept {
  // The owner removes the file while it still holds the lock: a new host never
  // sees a half-dead hub. It removes only the file it created: if the path names
  // another file now, that file is not the host's to delete.
  if (owner_ && fd_ >= 0)
    remove_own_file();
  if (fd_ >= 0)
    ::close(fd_);
  fd_ = -1;
  size_ = 0;
  owner_ = false;
  dev_ = 0;
  ino_ = 0;
}

} // namespace cellhub::transport
