#pragma once

// What the soak knows about every cell: its current life (process, READY or not,
// struck by which chaos and when), how each life ended and whether that was the
// effect its strike should have, and every ended life's process until it is seen gone.

#include "cellhub/actors/lifecycle_event.hpp"
#include "cellhub/soak/chaos_kind.hpp"
#include "cellhub/soak/invariant_book.hpp"
#include "cellhub/soak/latency_histogram.hpp"
#include "cellhub/soak/process_probe.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace cellhub::soak {

/// Bounds the host's reaction to each strike and the cleanup of each ended life.
struct census_bounds {
  /// Bounds strike → end event for kill and garbage.
  std::chrono::milliseconds reaction{std::chrono::seconds{10}};
  /// Bounds strike → end event for linger (the shutdown timeouts come on top).
  std::chrono::milliseconds linger{std::chrono::seconds{11}};
  /// Makes a resumed (SIGCONT) life eligible again after this long without dying.
  std::chrono::milliseconds resumed_quiet{std::chrono::seconds{2}};
  /// Bounds end event → the process gone (reaped, not merely dead).
  std::chrono::milliseconds gone{std::chrono::seconds{5}};
};

/// Holds a cell that chaos may strike now.
struct chaos_victim {
  /// Holds the cell's logical name.
  std::string name;
  /// Holds its current life's process.
  process_identity process;
};

/// Counts the strikes of one kind and their effects.
struct strike_counts {
  /// Counts strikes delivered.
  std::uint64_t struck = 0;
  /// Counts strikes dropped: no cell was eligible, or the victim was gone.
  std::uint64_t skipped = 0;
  /// Counts lives that ended the way the strike should end them.
  std::uint64_t ended = 0;
  /// Counts stopped lives that resumed and lived on (stop only).
  std::uint64_t resumed = 0;
  /// Counts lives that ended some other way.
  std::uint64_t unexpected = 0;
  /// Counts lives that had not ended within their bound.
  std::uint64_t late = 0;
  /// Measures strike → end event.
  latency_histogram reaction;
};

/// Tracks every cell's lives through lifecycle events.
class cell_census {
public:
  /// Names the clock of every time given to the census.
  using clock = std::chrono::steady_clock;

  /// Creates a census of the cells `names`, none of them started yet.
  cell_census(std::vector<std::string> names, census_bounds bounds);

  /// Takes one lifecycle event into account (events of supervisors are counted only).
  void on_event(const actors::lifecycle_event& event, clock::time_point now, invariant_book& book);

  /// Lists the cells chaos may strike: READY, not struck yet, process known.
  [[nodiscard]] std::vector<chaos_victim> eligible() const;

  /// Records that `kind` struck `name`'s current life.
  void struck(const std::string& name, chaos_kind kind, clock::time_point now);

  /// Records a strike of `kind` that found no victim.
  void skipped(chaos_kind kind);

  /// Records that the stopped process `who` of `name` was sent SIGCONT.
  void resumed(const std::string& name, const process_identity& who, clock::time_point now);

  /// Checks the bounds: strikes without effect, resumed lives that lived on, ended
  /// lives whose process is still there.
  void check(clock::time_point now, invariant_book& book);

  /// Tells whether every cell's current life is READY and not awaiting a strike's effect.
  [[nodiscard]] bool all_ready() const;

  /// Describes the cells that are not ready, with what is known of them.
  [[nodiscard]] std::vector<std::string> not_ready() const;

  /// Lists every process the census still has to see gone: current lives and ended
  /// lives not yet verified.
  [[nodiscard]] std::vector<process_identity> tracked_processes() const;

  /// Returns the names.
  [[nodiscard]] const std::vector<std::string>& names() const noexcept { return names_; }
  /// Returns the counts of `kind`.
  [[nodiscard]] const strike_counts& strikes(chaos_kind kind) const noexcept {
    return strikes_[index_of(kind)];
  }
  /// Counts ended lives by what struck them ("kill", ..., "none") and how they ended
  /// ("died crashed SIGKILL", "stopped shutdown", ...).
  [[nodiscard]] const std::map<std::string, std::map<std::string, std::uint64_t>>&
  endings() const noexcept {
    return endings_;
  }
  /// Counts the cell processes seen.
  [[nodiscard]] std::uint64_t processes_seen() const noexcept { return processes_seen_; }
  /// Counts the ended lives whose process was verified gone.
  [[nodiscard]] std::uint64_t processes_verified_gone() const noexcept { return verified_gone_; }
  /// Counts ended lives whose process was still there past the bound.
  [[nodiscard]] std::uint64_t processes_lingering() const noexcept { return lingering_; }
  /// Counts deaths of lives nothing struck.
  [[nodiscard]] std::uint64_t unprovoked() const noexcept { return unprovoked_; }
  /// Counts `restarting` events.
  [[nodiscard]] std::uint64_t restarts() const noexcept { return restarts_; }
  /// Counts `quarantined` and `escalated` events.
  [[nodiscard]] std::uint64_t give_ups() const noexcept { return give_ups_; }

private:
  struct life {
    process_identity process;
    std::int32_t peer_id = -1;
    std::uint32_t incarnation = 0;
    bool ready = false;
    std::optional<chaos_kind> struck;
    clock::time_point struck_at{};
    std::optional<clock::time_point> resumed_at;
    bool late = false;
  };
  struct cell {
    std::optional<life> current;
    // Describes how the last life ended, for not_ready().
    std::string last_end;
  };
  struct ending {
    std::string name;
    process_identity process;
    clock::time_point since;
  };

  life& begin_life(cell& c, const actors::lifecycle_event& event);
  void end_life(const std::string& name, cell& c, const actors::lifecycle_event& event,
                clock::time_point now, invariant_book& book);
  void judge(const std::string& name, const life& l, const actors::lifecycle_event& event,
             const std::string& ending_text, clock::time_point now, invariant_book& book);
  std::optional<std::chrono::milliseconds> bound(chaos_kind kind) const noexcept;

  std::vector<std::string> names_;
  census_bounds bounds_;
  std::map<std::string, cell, std::less<>> cells_;
  std::vector<ending> endings_pending_;
  std::array<strike_counts, all_chaos_kinds.size()> strikes_{};
  std::map<std::string, std::map<std::string, std::uint64_t>> endings_;
  std::uint64_t processes_seen_ = 0;
  std::uint64_t verified_gone_ = 0;
  std::uint64_t lingering_ = 0;
  std::uint64_t unprovoked_ = 0;
  std::uint64_t restarts_ = 0;
  std::uint64_t give_ups_ = 0;
};

} // namespace cellhub::soak
