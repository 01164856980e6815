#pragma once

// The checksummed payloads tests exchange with test_cell: [fnv1a(body)][body].
// The cell answers a request with [fnv1a(reversed body)][reversed body], so a
// matching reply proves both sides read and wrote every byte.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace cellhub::test {

/// Hashes `bytes` with 64-bit FNV-1a.
inline std::uint64_t fnv1a(std::span<const std::byte> bytes) noexcept {
  std::uint64_t hash = 0xcbf29ce484222325ull;
  for (auto b : bytes) {
    hash ^= static_cast<std::uint8_t>(b);
    hash *= 0x100000001b3ull;
  }
  return hash;
}

/// Builds a checksummed payload of `size` bytes (>= 8) whose body depends on `seed`.
inline std::vector<std::byte> make_payload(std::size_t size, std::uint64_t seed) {
  std::vector<std::byte> out(std::max<std::size_t>(size, 8));
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (std::size_t i = 8; i < out.size(); ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    out[i] = static_cast<std::byte>(x);
  }
  const auto hash = fnv1a(std::span{out}.subspan(8));
  std::memcpy(out.data(), &hash, 8);
  return out;
}

/// Tells whether `payload` carries a correct checksum.
inline bool checksum_ok(std::span<const std::byte> payload) noexcept {
  if (payload.size() < 8)
    return false;
  std::uint64_t stored = 0;
  std::memcpy(&stored, payload.data(), 8);
  return stored == fnv1a(payload.subspan(8));
}

/// Writes the answer to `request` into `out` (same size): reversed body, new checksum.
inline void write_answer(std::span<const std::byte> request, std::span<std::byte> out) noexcept {
  std::reverse_copy(request.begin() + 8, request.end(), out.begin() + 8);
  const auto hash = fnv1a(out.subspan(8));
  std::memcpy(out.data(), &hash, 8);
}

/// Tells whether `answer` is the right answer to `request`.
inline bool is_answer(std::span<const std::byte> request, std::span<const std::byte> answer) {
  if (request.size() != answer.size() || !checksum_ok(answer))
    return false;
  return std::equal(request.begin() + 8, request.end(), answer.rbegin(), answer.rend() - 8);
}

} // namespace cellhub::test
