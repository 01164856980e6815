#include "exec_image.hpp"

#include "cellhub/transport/log.hpp"
#include "cellhub/transport/quoted.hpp"

#include <fmt/format.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <unordered_map>

namespace cellhub::transport::detail {
namespace {

// Linux 6.3 asks memfds that are meant to be executed to say so (`vm.memfd_noexec`);
// older headers lack the flag, and older kernels refuse it with EINVAL.
#ifndef MFD_EXEC
constexpr unsigned int MFD_EXEC = 0x0010U;
#endif

// Identifies one version of a file: a copy is reused only while the file at its path
// is still this one.
struct file_version {
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = 0;
  timespec modified{};
  timespec changed{};

  static file_version of(const struct stat& st) noexcept {
    return {st.st_dev, st.st_ino, st.st_size, st.st_mtim, st.st_ctim};
  }

  bool operator==(const file_version& other) const noexcept {
    const auto same_time = [](const timespec& a, const timespec& b) {
      return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
    };
    return device == other.device && inode == other.inode && size == other.size &&
           same_time(modified, other.modified) && same_time(changed, other.changed);
  }
};

// What is known about one path: the version seen, and its copy, or none when that
// version is exec'd as it is.
struct known_binary {
  file_version version;
  unique_fd image;
};

error image_error(const std::string& path, std::string_view what, int err) {
  return error{errc::spawn_failed, fmt::format("exec image of {}: {}", quoted(path), what), err};
}

result<unique_fd> create_executable_memfd(const std::string& path) {
  const unsigned int flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
  int fd = ::memfd_create("cellhub-image", flags | MFD_EXEC);
  if (fd < 0 && errno == EINVAL)
    fd = ::memfd_create("cellhub-image", flags); // a kernel before 6.3
  if (fd < 0) {
    const int err = errno;
    return image_error(path,
                       err == EACCES ? "memfd_create refused an executable memfd "
                                       "(vm.memfd_noexec is 2); spawn with sealed_image off"
                                     : "memfd_create failed",
                       err);
  }
  return unique_fd{fd};
}

// Copies the open file `source` of `size` bytes into a new memfd, then makes it
// exec-only and seals it.
result<unique_fd> copy_sealed(const std::string& path, int source, off_t size) {
  BOOST_OUTCOME_TRY(image, create_executable_memfd(path));
  off_t offset = 0;
  while (offset < size) {
    const ssize_t copied =
        ::sendfile(image.get(), source, &offset, static_cast<std::size_t>(size - offset));
    if (copied < 0 && errno == EINTR)
      continue;
    if (copied < 0)
      return image_error(path, "copying the binary failed", errno);
    if (copied == 0)
      return image_error(path, "the binary shrank while it was copied", EIO);
  }
  // Exec-only for everyone: the child may exec the copy but not read it, and so is
  // not dumpable. Nobody else holds the memfd, and the seals keep it as copied.
  if (::fchmod(image.get(), 0111) != 0)
    return image_error(path, "fchmod 0111 failed", errno);
  if (::fcntl(image.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) !=
      0)
    return image_error(path, "sealing the copy failed", errno);
  return image;
}

// Holds the copies made so far, by path; one per binary a host starts cells from.
class image_cache {
public:
  static image_cache& instance() {
    static image_cache cache;
    return cache;
  }

  result<unique_fd> image_of(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
      return unique_fd{}; // exec says why
    std::lock_guard guard{mutex_};
    auto known = binaries_.find(path);
    if (known == binaries_.end() || !(known->second.version == file_version::of(st))) {
      BOOST_OUTCOME_TRY(fresh, examine(path));
      known = binaries_.insert_or_assign(path, std::move(fresh)).first;
    }
    if (known->second.image.get() < 0)
      return unique_fd{};
    const int copy = ::fcntl(known->second.image.get(), F_DUPFD_CLOEXEC, 0);
    if (copy < 0)
      return image_error(path, "dup of the copy failed", errno);
    return unique_fd{copy};
  }

private:
  // Opens the binary and copies it, or decides it is exec'd as it is.
  static result<known_binary> examine(const std::string& path) {
    unique_fd source{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY)};
    if (source.get() < 0) {
      const int err = errno;
      if (err == EACCES || err == EPERM) {
        // Unreadable by the host: the child cannot read it either and exec already
        // makes it non-dumpable. The version is the one stat saw.
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0)
          return image_error(path, "stat failed", errno);
        return known_binary{file_version::of(st), unique_fd{}};
      }
      return image_error(path, "open failed", err);
    }
    struct stat st {};
    if (::fstat(source.get(), &st) != 0)
      return image_error(path, "fstat failed", errno);
    const auto version = file_version::of(st);
    if (!S_ISREG(st.st_mode))
      return known_binary{version, unique_fd{}};
    char magic[2] = {};
    if (::pread(source.get(), magic, sizeof magic, 0) == 2 && magic[0] == '#' && magic[1] == '!')
      return known_binary{version, unique_fd{}}; // its interpreter must read it
    BOOST_OUTCOME_TRY(image, copy_sealed(path, source.get(), st.st_size));
    logger()->debug("exec image of {}: {} bytes copied into a sealed exec-only memfd", quoted(path),
                    st.st_size);
    return known_binary{version, std::move(image)};
  }

  std::mutex mutex_;
  std::unordered_map<std::string, known_binary> binaries_;
};

} // namespace

result<unique_fd> sealed_exec_image(const std::string& path) {
  return image_cache::instance().image_of(path);
}

} // namespace cellhub::transport::detail
