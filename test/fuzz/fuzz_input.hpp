#pragma once

// What every fuzz target shares: a reader that turns the fuzzer's bytes into values, and a
// check that stops the run with a message when an invariant breaks (libFuzzer and the
// corpus replayer both treat the abort as a finding and keep the input).

#include <fmt/format.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string_view>
#include <type_traits>

namespace cellhub::fuzz {

/// Reads little-endian values from the front of a fuzz input; past its end every value is 0,
/// so any input decodes to a complete, deterministic program.
class fuzz_input {
public:
  /// Reads from `data`, which must outlive the reader.
  fuzz_input(const std::uint8_t* data, std::size_t size) noexcept
      : data_{data}
      , size_{size} {}

  /// Tells whether every byte has been read.
  [[nodiscard]] bool empty() const noexcept { return at_ >= size_; }

  /// Counts the bytes not read yet.
  [[nodiscard]] std::size_t remaining() const noexcept { return empty() ? 0 : size_ - at_; }

  /// Takes the next `sizeof(T)` bytes as a little-endian integer (zeros past the end).
  template <class T>
  T take() noexcept {
    static_assert(std::is_integral_v<T>);
    using unsigned_t = std::make_unsigned_t<T>;
    unsigned_t value = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i)
      value = static_cast<unsigned_t>(value | (static_cast<unsigned_t>(take_byte()) << (8 * i)));
    return static_cast<T>(value);
  }

  /// Takes up to `count` bytes into `out` (zeros past the end of the input).
  void take_bytes(std::span<std::byte> out) noexcept {
    for (auto& b : out)
      b = static_cast<std::byte>(take_byte());
  }

private:
  std::uint8_t take_byte() noexcept { return at_ < size_ ? data_[at_++] : 0; }

  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t at_ = 0;
};

/// Stops the run: prints which invariant broke, where, and why, then aborts.
[[noreturn]] inline void invariant_failed(const char* expression, const char* file, int line,
                                          const std::string& why) {
  std::fprintf(stderr, "%s:%d: invariant broken: %s\n  %s\n", file, line, expression, why.c_str());
  std::abort();
}

} // namespace cellhub::fuzz

/// Checks an invariant of the code under fuzzing; the message arguments are fmt-formatted.
#define FUZZ_CHECK(condition, ...)                                                                 \
  do {                                                                                             \
    if (!(condition))                                                                              \
      ::cellhub::fuzz::invariant_failed(#condition, __FILE__, __LINE__,                            \
                                        ::fmt::format(__VA_ARGS__));                               \
  } while (false)
