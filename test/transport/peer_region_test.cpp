// peer_region::adopt, the cell's side of the handover: which memory objects a cell maps
// as its region, and that one it cannot map read-write is refused as a bad layout
// rather than failing (or faulting) in the mapping.
#include "cellhub/transport/peer_region.hpp"

#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace tr = cellhub::transport;

namespace {

// Is the size of the regions below: a few pages, as every region is a whole number of.
constexpr std::uint64_t region_size = 4 * 4096;

// The seals every region a host hands over carries: its size is fixed.
constexpr int size_seals = F_SEAL_SHRINK | F_SEAL_GROW;

// Returns a memfd of `size` bytes sealed as a host seals a region, plus `extra_seals`
// (then sealed against further seals).
int sealed_memfd(std::uint64_t size, int extra_seals = 0) {
  const int fd = ::memfd_create("peer-region-test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  BOOST_TEST_REQUIRE(fd >= 0, std::strerror(errno));
  BOOST_TEST_REQUIRE(::ftruncate(fd, static_cast<off_t>(size)) == 0, std::strerror(errno));
  BOOST_TEST_REQUIRE(::fcntl(fd, F_ADD_SEALS, size_seals | extra_seals | F_SEAL_SEAL) == 0,
                     std::strerror(errno));
  return fd;
}

// Returns the error with which adopt refused `fd` as a region of `expected_size` bytes;
// fails the test if adopt mapped it.
tr::error refusal_of(int fd, std::uint64_t expected_size) {
  auto adopted = tr::peer_region::adopt(fd, expected_size);
  BOOST_TEST_REQUIRE(!adopted.has_value(), "adopted a region it must refuse");
  return adopted.error();
}

} // namespace

BOOST_AUTO_TEST_SUITE(peer_region)

BOOST_AUTO_TEST_CASE(adopt_maps_a_size_sealed_read_write_region_of_the_expected_size) {
  const int fd = sealed_memfd(region_size);
  const int reader = ::dup(fd); // adopt takes `fd`; this one looks at the memory
  BOOST_TEST_REQUIRE(reader >= 0);
  auto adopted = tr::peer_region::adopt(fd, region_size);
  BOOST_TEST_REQUIRE(adopted.has_value(), (adopted ? "" : adopted.error().message()));
  BOOST_TEST(adopted.value().size() == region_size);
  BOOST_TEST(adopted.value().fd() == -1); // the mapping keeps the memory, not a descriptor
  // The mapping is the shared memory object itself, written through.
  adopted.value().data()[region_size - 1] = std::byte{0x5A};
  unsigned char last = 0;
  BOOST_TEST_REQUIRE(::pread(reader, &last, 1, static_cast<off_t>(region_size - 1)) == 1);
  BOOST_TEST(last == 0x5A);
  ::close(reader);
}

BOOST_AUTO_TEST_CASE(adopt_refuses_a_region_handed_over_read_only_as_bad_layout) {
  const int region = sealed_memfd(region_size);
  // The same memory object, reopened read-only: mmap(PROT_WRITE, MAP_SHARED) fails on it.
  const int read_only =
      ::open(("/proc/self/fd/" + std::to_string(region)).c_str(), O_RDONLY | O_CLOEXEC);
  BOOST_TEST_REQUIRE(read_only >= 0, std::strerror(errno));
  ::close(region);
  const auto refused = refusal_of(read_only, region_size);
  BOOST_TEST(refused.code == tr::errc::bad_layout, refused.message());
  BOOST_TEST(!refused.detail.empty());
}

BOOST_AUTO_TEST_CASE(adopt_refuses_a_region_sealed_against_writing_as_bad_layout) {
  for (const int seal : {F_SEAL_WRITE, F_SEAL_FUTURE_WRITE}) {
    BOOST_TEST_CONTEXT("seal " << std::showbase << std::hex << seal) {
      const auto refused = refusal_of(sealed_memfd(region_size, seal), region_size);
      BOOST_TEST(refused.code == tr::errc::bad_layout, refused.message());
      BOOST_TEST(!refused.detail.empty());
    }
  }
}

BOOST_AUTO_TEST_CASE(adopt_refuses_a_region_of_0_bytes_as_bad_layout) {
  // No layout fits in 0 bytes, whatever size the host announced with it: 0 included.
  for (const std::uint64_t announced : {std::uint64_t{0}, region_size}) {
    BOOST_TEST_CONTEXT("announced " << announced << " bytes") {
      const auto refused = refusal_of(sealed_memfd(0), announced);
      BOOST_TEST(refused.code == tr::errc::bad_layout, refused.message());
      BOOST_TEST(!refused.detail.empty());
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
