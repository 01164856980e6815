#include "cellhub/transport/peer_region.hpp"

#include "fd_mappable.hpp"
#include "unique_fd.hpp"

#include <boost/interprocess/exceptions.hpp>
#include <boost/interprocess/mapped_region.hpp>
#include <fmt/format.h>

#include <cerrno>
#include <fcntl.h>
#include <string>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace cellhub::transport {
namespace {

namespace bip = boost::interprocess;

// The seals every region carries: its size is fixed, and no seal can be added.
constexpr int size_seals = F_SEAL_SHRINK | F_SEAL_GROW;

result<std::unique_ptr<bip::mapped_region>> map_read_write(int fd, std::uint64_t size) {
  try {
    return std::make_unique<bip::mapped_region>(detail::fd_mappable{fd, bip::read_write},
                                                bip::read_write, 0, static_cast<std::size_t>(size));
  } catch (const bip::interprocess_exception& e) {
    return make_error(errc::io_error,
                      fmt::format("map a peer region of {} bytes: {}", size, e.what()));
  }
}

} // namespace

result<peer_region> peer_region::create(std::uint64_t size, std::string_view name) {
  const std::string label{name};
  detail::unique_fd fd{::memfd_create(label.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING)};
  if (fd.get() < 0)
    return make_sys_error("memfd_create " + label);
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0)
    return make_sys_error(fmt::format("size peer region {} to {} bytes", label, size));
  if (::fcntl(fd.get(), F_ADD_SEALS, size_seals | F_SEAL_SEAL) != 0)
    return make_sys_error("seal peer region " + label);
  BOOST_OUTCOME_TRY(mapping, map_read_write(fd.get(), size));
  peer_region region;
  region.fd_ = fd.release();
  region.mapping_ = std::move(mapping);
  return region;
}

result<peer_region> peer_region::adopt(int fd, std::uint64_t expected_size) {
  detail::unique_fd owned{fd};
  struct stat st {};
  if (::fstat(owned.get(), &st) != 0)
    return make_sys_error("fstat the peer region");
  if (!S_ISREG(st.st_mode))
    return make_error(errc::bad_layout, "the peer region is not a memory object");
  if (expected_size == 0 || static_cast<std::uint64_t>(st.st_size) != expected_size)
    return make_error(errc::bad_layout,
                      fmt::format("the peer region has {} bytes, its layout needs {}", st.st_size,
                                  expected_size));
  const int access = ::fcntl(owned.get(), F_GETFL);
  if (access < 0 || (access & O_ACCMODE) != O_RDWR)
    return make_error(errc::bad_layout, "the peer region was not handed over read-write");
  const int seals = ::fcntl(owned.get(), F_GET_SEALS);
  if (seals < 0 || (seals & size_seals) != size_seals)
    return make_error(errc::bad_layout, "the peer region's size is not sealed");
  if ((seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) != 0)
    return make_error(errc::bad_layout, "the peer region is sealed against writing");
  auto mapping = map_read_write(owned.get(), expected_size);
  if (!mapping)
    return make_error(errc::bad_layout, mapping.error().detail);
  peer_region region;
  region.mapping_ = std::move(mapping).value();
  return region; // `owned` closes the descriptor: the mapping keeps the memory
}

peer_region::peer_region() noexcept = default;

peer_region::peer_region(peer_region&& other) noexcept
    : fd_{std::exchange(other.fd_, -1)}
    , mapping_{std::move(other.mapping_)} {}

peer_region& peer_region::operator=(peer_region&& other) noexcept {
  if (this != &other) {
    close_fd();
    fd_ = std::exchange(other.fd_, -1);
    mapping_ = std::move(other.mapping_);
  }
  return *this;
}

peer_region::~peer_region() {
  close_fd();
}

std::byte* peer_region::data() const noexcept {
  return mapping_ ? static_cast<std::byte*>(mapping_->get_address()) : nullptr;
}

std::uint64_t peer_region::size() const noexcept {
  return mapping_ ? mapping_->get_size() : 0;
}

void peer_region::close_fd() noexcept {
  if (fd_ >= 0)
    ::close(fd_);
  fd_ = -1;
}

} // namespace cellhub::transport
