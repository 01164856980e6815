#pragma once

// The invariants a soak checks, and the record of each: held or violated, how often,
// the first violations in words, and the numbers that back the verdict.

#include <array>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace cellhub::soak {

/// Lists the invariants, in the order the summary prints them.
enum class invariant : std::uint8_t {
  /// Requires the host to reach its final report: no crash, no sanitizer report.
  host_alive,
  /// Requires every reply's FNV-1a checksum, word and byte count to match its request.
  replies_correct,
  /// Requires every request answered or failed within its deadline plus the grace.
  requests_within_deadline,
  /// Requires every cell READY and answering a checked call once chaos stopped.
  cells_ready_at_end,
  /// Bounds the host's RSS growth from the end of warm-up to the end of load.
  rss_flat,
  /// Bounds the host's fds at rest after the run by the count before plus the bound,
  /// and every sample by the rest count plus the fds every cell may hold.
  fds_flat,
  /// Requires the hub audit after the tree stopped to equal a fresh hub's: every entry
  /// free, no slot in flight or leased.
  hub_audit_baseline,
  /// Requires, after the tree is gone, the hub file removed, no cell process seen in the
  /// run left (nor any other child of the host), and no ended life's process lingering.
  nothing_left,
  /// Requires every strike's effect within its bound: kill → crashed by SIGKILL,
  /// garbage → protocol violation, linger → ended, stop → hung or resumed.
  chaos_handled,
  /// Requires that no cell dies without being struck.
  no_unprovoked_deaths,
};

/// Holds every invariant once, in declaration order.
inline constexpr std::array all_invariants = {
    invariant::host_alive,          invariant::replies_correct, invariant::requests_within_deadline,
    invariant::cells_ready_at_end,  invariant::rss_flat,        invariant::fds_flat,
    invariant::hub_audit_baseline,  invariant::nothing_left,    invariant::chaos_handled,
    invariant::no_unprovoked_deaths};

/// Returns the invariant's name ("replies_correct", ...).
std::string_view to_string(invariant which) noexcept;

/// Holds what is known about one invariant.
struct invariant_record {
  /// Counts the violations seen.
  std::uint64_t violations = 0;
  /// Holds the first few violations in words.
  std::vector<std::string> examples;
  /// Holds the numbers behind the verdict, in words ("0 corrupt of 11890 replies").
  std::string figures;

  /// Tells whether the invariant held.
  [[nodiscard]] bool held() const noexcept { return violations == 0; }
};

/// Records violations and figures per invariant; optionally prints each violation
/// as it happens (the first few per invariant).
class invariant_book {
public:
  /// Keeps (and prints) this many violations per invariant; the rest are counted.
  static constexpr std::size_t kept_examples = 5;

  /// Creates a book that prints violations to `live` as they come (nullptr: silent).
  explicit invariant_book(std::FILE* live = nullptr) noexcept
      : live_{live} {}

  /// Records one violation of `which`, described by `what`.
  void violate(invariant which, std::string what);

  /// Sets the figures that back `which`'s verdict.
  void set_figures(invariant which, std::string figures);

  /// Returns the record of `which`.
  [[nodiscard]] const invariant_record& record(invariant which) const noexcept;

  /// Tells whether every invariant held.
  [[nodiscard]] bool all_held() const noexcept;

  /// Lists the invariants violated, in order.
  [[nodiscard]] std::vector<invariant> violated() const;

private:
  std::FILE* live_;
  std::array<invariant_record, all_invariants.size()> records_{};
};

} // namespace cellhub::soak
