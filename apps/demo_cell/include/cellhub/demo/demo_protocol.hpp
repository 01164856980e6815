#pragma once

// What the demo cell answers, so a host can check every reply it gets: the cell
// treats a request's payload as text and replies with a fixed 24-byte record,
// three little-endian 64-bit words in this order:
//
//   offset 0   fnv1a64  FNV-1a 64 over every payload byte
//   offset 8   words    runs of non-whitespace bytes (whitespace: space, \t \n \v \f \r)
//   offset 16  bytes    the payload's length
//
// Header-only and dependency-free, so load generators and tests include it as is.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace cellhub::demo {

/// Holds the answer to one request: the payload's hash, word count and length.
struct demo_reply {
  /// Holds FNV-1a 64 over the payload bytes.
  std::uint64_t fnv1a64 = 0;
  /// Counts the runs of non-whitespace bytes in the payload.
  std::uint64_t words = 0;
  /// Counts the payload's bytes.
  std::uint64_t bytes = 0;

  /// Compares every field.
  bool operator==(const demo_reply&) const = default;
};

/// Gives the size of an encoded `demo_reply` on the wire.
inline constexpr std::size_t demo_reply_size = 24;

/// Holds FNV-1a 64's starting value (its offset basis).
inline constexpr std::uint64_t fnv1a64_offset_basis = 0xcbf29ce484222325ull;

/// Holds FNV-1a 64's multiplier (its prime).
inline constexpr std::uint64_t fnv1a64_prime = 0x100000001b3ull;

/// Tells whether `b` separates words: ASCII space, tab, newline, vertical tab,
/// form feed or carriage return (never locale-dependent).
constexpr bool is_demo_whitespace(std::byte b) noexcept {
  const auto c = static_cast<unsigned char>(b);
  return c == ' ' || (c >= '\t' && c <= '\r');
}

/// Computes the reply the demo cell owes for a request carrying `payload`.
constexpr demo_reply compute_demo_reply(std::span<const std::byte> payload) noexcept {
  demo_reply out;
  out.fnv1a64 = fnv1a64_offset_basis;
  out.bytes = payload.size();
  bool in_word = false;
  for (const auto b : payload) {
    out.fnv1a64 ^= static_cast<std::uint8_t>(b);
    out.fnv1a64 *= fnv1a64_prime;
    const bool word_byte = !is_demo_whitespace(b);
    if (word_byte && !in_word)
      ++out.words;
    in_word = word_byte;
  }
  return out;
}

/// Encodes `reply` as its 24 little-endian bytes (whatever the machine's byte order).
constexpr std::array<std::byte, demo_reply_size>
encode_demo_reply(const demo_reply& reply) noexcept {
  std::array<std::byte, demo_reply_size> out{};
  const std::uint64_t fields[3] = {reply.fnv1a64, reply.words, reply.bytes};
  for (std::size_t field = 0; field < 3; ++field)
    for (std::size_t i = 0; i < 8; ++i)
      out[field * 8 + i] = static_cast<std::byte>((fields[field] >> (8 * i)) & 0xFFu);
  return out;
}

/// Decodes a reply payload; nothing unless it is exactly `demo_reply_size` bytes.
constexpr std::optional<demo_reply> decode_demo_reply(std::span<const std::byte> bytes) noexcept {
  if (bytes.size() != demo_reply_size)
    return std::nullopt;
  std::uint64_t fields[3] = {0, 0, 0};
  for (std::size_t field = 0; field < 3; ++field)
    for (std::size_t i = 0; i < 8; ++i)
      fields[field] |= static_cast<std::uint64_t>(bytes[field * 8 + i]) << (8 * i);
  return demo_reply{.fnv1a64 = fields[0], .words = fields[1], .bytes = fields[2]};
}

/// Tells whether `reply_bytes` is the correct answer to a request carrying `request`.
constexpr bool is_demo_reply_to(std::span<const std::byte> request,
                                std::span<const std::byte> reply_bytes) noexcept {
  const auto decoded = decode_demo_reply(reply_bytes);
  return decoded && *decoded == compute_demo_reply(request);
}

} // namespace cellhub::demo
