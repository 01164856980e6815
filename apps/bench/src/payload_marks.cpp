#include "cellhub/bench/payload_marks.hpp"

#include <cstring>

namespace cellhub::bench {

std::vector<std::byte> marked_payload(std::size_t size) {
  std::vector<std::byte> bytes(size, std::byte{0x11});
  if (!bytes.empty()) {
    bytes.front() = std::byte{0x5a};
    bytes.back() = std::byte{0xa5};
  }
  return bytes;
}

bool carries_marker(std::span<const std::byte> bytes) noexcept {
  if (bytes.empty())
    return true;
  if (bytes.size() == 1)
    return bytes.front() == std::byte{0x5a} || bytes.front() == std::byte{0xa5};
  return bytes.front() == std::byte{0x5a} && bytes.back() == std::byte{0xa5};
}

std::uint64_t payload_checksum(std::span<const std::byte> bytes) noexcept {
  std::uint64_t sum = 0;
  const std::size_t words = bytes.size() / sizeof(std::uint64_t);
  for (std::size_t i = 0; i < words; ++i) {
    std::uint64_t word = 0;
    std::memcpy(&word, bytes.data() + i * sizeof word, sizeof word);
    sum += word;
  }
  if (const auto rest = bytes.size() % sizeof sum; rest != 0) {
    std::uint64_t tail = 0;
    std::memcpy(&tail, bytes.data() + words * sizeof tail, rest);
    sum += tail;
  }
  return sum;
}

} // namespace cellhub::bench
