#pragma once

#include "cellhub/actors/lifecycle_event.hpp"
#include "cellhub/actors/messages.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace cellhub::cli {

/// Shows one child of the tree as the live view does.
struct cell_row {
  /// Holds the logical name.
  std::string name;
  /// Holds the supervisor it belongs to.
  std::string supervisor;
  /// Holds the current peer id, or -1.
  std::int32_t peer_id = -1;
  /// Holds the current incarnation.
  std::uint32_t incarnation = 0;
  /// Holds the current pid, or 0.
  std::int32_t pid = 0;
  /// Holds the state as the events tell it (`idle` after `died` until `restarting`).
  actors::child_state state = actors::child_state::starting;
  /// Counts restarts seen.
  std::uint32_t restarts = 0;
  /// Tells how its last life ended, if one did.
  std::optional<actors::life_end> last_end;
  /// Holds when the current life became ready.
  std::optional<std::chrono::steady_clock::time_point> ready_since;
};

/// Builds the cluster's live status from lifecycle events (no actors, no I/O):
/// one row per child whose spec the tree holds (a `removed` event drops the row),
/// request counters, and the last events.
class cluster_view {
public:
  using clock = std::chrono::steady_clock;

  /// Takes one event into account.
  void apply(const actors::lifecycle_event& event, clock::time_point now);

  /// Sets a line shown under the table (what the run is doing, e.g. stopping).
  void set_note(std::string note) { note_ = std::move(note); }

  /// Counts a request the load generator got an answer for (`ok`) or not.
  void count_request(bool ok) noexcept { ++(ok ? served_ : failed_); }

  /// Returns the rows, sorted by supervisor then name.
  [[nodiscard]] std::vector<cell_row> rows() const;

  /// Returns the rows as `child_info`s for remote status (uptime as of `now`).
  [[nodiscard]] std::vector<actors::child_info> as_child_infos(clock::time_point now) const;

  /// Renders the table for a terminal: a header, one line per row, counters, the
  /// last events and the note, if any.
  [[nodiscard]] std::string render_table(clock::time_point now) const;

  /// Counts the rows by what they are doing.
  struct tally {
    /// Counts rows whose current life is READY.
    std::size_t running = 0;
    /// Counts rows starting their first life.
    std::size_t starting = 0;
    /// Counts rows whose supervisor announced another life (`restarting`) and rows
    /// starting a life after the first.
    std::size_t restarting = 0;
    /// Counts rows that are not coming back by themselves: stopped, quarantined, or
    /// died without a restart announced.
    std::size_t down = 0;
    /// Sums the restarts of every row.
    std::uint64_t restarts = 0;
  };

  /// Returns how many rows run, start, restart and stay down.
  [[nodiscard]] tally count_states() const;

  /// Renders one line for a log (stdout is not a terminal):
  /// `t=… cells=… running=… starting=… restarting=… down=… restarts=… served=… failed=…`.
  [[nodiscard]] std::string render_line(clock::time_point now) const;

  /// Counts requests answered correctly.
  [[nodiscard]] std::uint64_t served() const noexcept { return served_; }
  /// Counts requests that failed or got a wrong answer.
  [[nodiscard]] std::uint64_t failed() const noexcept { return failed_; }

private:
  // Keeps the event's line for the terminal's "recent events" (not started/ready).
  void remember(const actors::lifecycle_event& event);

  std::map<std::string, cell_row> rows_;
  std::deque<std::string> recent_;
  std::string note_;
  std::uint64_t served_ = 0;
  std::uint64_t failed_ = 0;
  std::uint64_t deaths_ = 0;
  clock::time_point started_ = clock::now();
};

} // namespace cellhub::cli
