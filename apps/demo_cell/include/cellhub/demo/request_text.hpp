#pragma once

// The text a host sends the demo cell: words and whitespace that make both halves of
// its reply (demo_protocol.hpp), the checksum and the word count, worth checking.
// Header-only and dependency-free, like demo_protocol.hpp.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace cellhub::demo {

/// Builds `size` bytes of text for one request, a function of `seed` alone: words of
/// 1..12 letters and digits separated by runs of every kind of demo whitespace, so
/// that the demo cell's word count is exercised as much as its checksum.
inline std::vector<std::byte> make_request_text(std::size_t size, std::uint64_t seed) {
  constexpr std::string_view letters = "abcdefghijklmnopqrstuvwxyz0123456789";
  constexpr std::string_view blanks = " \t\n\r\v\f";
  std::vector<std::byte> out(size);
  // xorshift64: cheap, and any seed (even 0) gives a usable sequence after the mix.
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull;
  auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  std::size_t i = 0;
  while (i < size) {
    for (auto n = next() % 12 + 1; n > 0 && i < size; --n)
      out[i++] = static_cast<std::byte>(letters[next() % letters.size()]);
    for (auto n = next() % 3 + 1; n > 0 && i < size; --n)
      out[i++] = static_cast<std::byte>(blanks[next() % blanks.size()]);
  }
  return out;
}

} // namespace cellhub::demo
