#pragma once

// cell_manager — the Rust seed's CellManager example (docs: "Cell Lifecycle") written
// against cellhub::transport alone: no actors, one thread, one epoll set.

#include "cellhub/transport/death_watch.hpp"
#include "cellhub/transport/epoll_set.hpp"
#include "cellhub/transport/hub_host.hpp"
#include "cellhub/transport/peer_transport.hpp"
#include "cellhub/transport/process.hpp"
#include "cellhub/transport/result.hpp"
#include "cellhub/transport/stop_escalation.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cellhub::examples {

/// Holds what is needed to start a cell again: binary, arguments, environment, and
/// how many times it was relaunched so far.
struct cell_recipe {
  /// Names the cell's executable.
  std::string binary;
  /// Lists the cell's own arguments (the ticket's are added at each spawn).
  std::vector<std::string> args;
  /// Lists variables set for the cell on top of the manager's environment.
  std::vector<std::pair<std::string, std::string>> env;
  /// Counts the relaunches of this logical cell so far.
  std::uint32_t relaunch_count = 0;
};

/// Chooses how the manager relaunches and stops cells.
struct cell_manager_options {
  /// Bounds the relaunches of one logical cell; the next death after that is final.
  std::uint32_t max_relaunches = 5;
  /// Sets the first relaunch delay: relaunch n of a cell (0 for the first) waits
  /// `backoff_base * 2^min(n, backoff_cap_exponent)` after its death, as in the seed.
  std::chrono::milliseconds backoff_base{100};
  /// Caps the backoff exponent (the manager never shifts by more than 30 whatever it says).
  std::uint32_t backoff_cap_exponent = 10;
  /// Bounds how long a cell whose death was seen may take to exit before it gets SIGKILL.
  std::chrono::milliseconds exit_grace{2000};
  /// Bounds how long `stop` waits for cells to exit: it asks them to say goodbye, sends
  /// SIGTERM half of it later and SIGKILL at its end (`transport::stop_escalation`).
  std::chrono::milliseconds stop_timeout{2000};
  /// Reads the time that backoff and every deadline are measured in; empty means
  /// `std::chrono::steady_clock::now`. A test injects a clock it moves by hand.
  std::function<std::chrono::steady_clock::time_point()> now;
};

/// Receives one event line (`started ...`, `died ...`), without the newline.
using event_sink = std::function<void(std::string_view line)>;

/// Queues the peer ids `on_death` reports and wakes the manager's epoll set through an
/// eventfd, so a death noticed on any thread is handled on the manager's.
class death_queue {
public:
  /// Creates the queue and its eventfd.
  static transport::result<std::unique_ptr<death_queue>> create();

  death_queue(const death_queue&) = delete;
  death_queue& operator=(const death_queue&) = delete;
  /// Closes the eventfd.
  ~death_queue();

  /// Adds `peer_id` and wakes the reader; never blocks for longer than a short lock.
  void push(std::uint16_t peer_id) noexcept;

  /// Takes every queued peer id and resets the eventfd.
  std::vector<std::uint16_t> take_all();

  /// Returns the eventfd, readable while the queue is not empty.
  [[nodiscard]] int fd() const noexcept { return fd_; }

private:
  explicit death_queue(int fd) noexcept
      : fd_{fd} {}

  int fd_ = -1;
  std::mutex mutex_;
  std::vector<std::uint16_t> queued_;
};

/// Keeps a set of named cells running on a hub: spawns each one from its recipe,
/// sees deaths eagerly (a `transport::death_watch` over doorbells and pidfds), relaunches crashed
/// cells under a new peer id with exponential backoff up to a limit, leaves cells
/// that said goodbye alone, and stops them all cleanly.
///
/// Threading: every member runs on one thread; only the `on_death` callbacks it hands
/// to the hub may run elsewhere.
class cell_manager {
public:
  /// Names the clock deadlines and backoff are measured with.
  using clock = std::chrono::steady_clock;

  /// Creates a manager for `hub` that writes its event lines to `sink`.
  static transport::result<std::unique_ptr<cell_manager>>
  create(std::shared_ptr<transport::hub_host> hub, cell_manager_options options, event_sink sink);

  cell_manager(const cell_manager&) = delete;
  cell_manager& operator=(const cell_manager&) = delete;
  /// Kills and reaps any cell still running (through the transports' process handles).
  ~cell_manager();

  /// Spawns the cell `name` from `recipe` and returns its peer id.
  transport::result<std::uint16_t> spawn_cell(std::string name, cell_recipe recipe);

  /// Handles cell events until `stop_fd` turns readable or `until` passes (no deadline
  /// when empty). `stop_fd` may be -1.
  transport::result<void> run(int stop_fd, std::optional<clock::time_point> until);

  /// Waits up to `max_wait` for cell events (less when a relaunch or a kill is due
  /// sooner), handles them, then starts the relaunches and kills that are due.
  transport::result<void> run_once(std::chrono::milliseconds max_wait);

  /// Drops pending relaunches and stops every cell with the stop escalation: goodbye,
  /// SIGTERM after half of `stop_timeout`, SIGKILL at its end; then reaps them all.
  void stop();

  /// Returns the current peer id of the logical cell `name`, if it has a live one.
  [[nodiscard]] std::optional<std::uint16_t> peer_of(const std::string& name) const;

  /// Returns when the pending relaunch of the logical cell `name` is due, if one is.
  [[nodiscard]] std::optional<clock::time_point> relaunch_due(const std::string& name) const;

  /// Counts the cells that have a process (running, dying or stopping).
  [[nodiscard]] std::size_t live_cells() const noexcept { return cells_.size(); }

private:
  enum class stage : std::uint8_t { running, dying };

  // One life of one logical cell, keyed by peer id as in the seed.
  struct cell_life {
    std::string name;
    cell_recipe recipe;
    std::shared_ptr<transport::peer_transport> transport;
    stage at = stage::running;
    bool stopping = false;
    // Ends a stopping cell, or a dying one that has not exited yet (SIGKILL only).
    std::optional<transport::stop_escalation> escalation;
  };

  struct pending_relaunch {
    std::string name;
    cell_recipe recipe;
    std::uint16_t old_peer_id = 0;
    clock::time_point due;
  };

  enum class fd_kind : std::uint8_t { watch = 1, deaths = 3, stop = 4 };

  cell_manager(std::shared_ptr<transport::hub_host> hub, cell_manager_options options,
               event_sink sink, transport::epoll_set set, transport::death_watch watch,
               std::unique_ptr<death_queue> deaths);

  static std::uint64_t key_of(std::uint16_t peer_id, std::uint32_t incarnation);
  cell_life* find(std::uint64_t key);

  [[nodiscard]] clock::time_point now() const;
  transport::result<void> step(std::optional<clock::time_point> until, bool& stop_seen,
                               std::chrono::milliseconds max_wait = std::chrono::milliseconds{-1});
  void handle(const transport::fd_event& event, bool& stop_seen);
  void on_notice(const transport::life_notice& notice);
  void take_messages(cell_life& life);
  void handle_deaths();
  void kill_all() noexcept;
  void begin_dying(cell_life& life);
  void finish(std::uint16_t peer_id);
  void schedule_relaunch(std::string name, cell_recipe recipe, std::uint16_t old_peer_id);
  void run_timers();
  void relaunch(pending_relaunch due);
  [[nodiscard]] std::optional<clock::time_point> next_timer() const;
  [[nodiscard]] std::chrono::milliseconds backoff(std::uint32_t relaunches) const;
  void emit(std::string_view line) const;

  std::shared_ptr<transport::hub_host> hub_;
  cell_manager_options options_;
  event_sink sink_;
  transport::epoll_set set_;
  // Watches every cell life's doorbell and pidfd; sits in `set_`.
  transport::death_watch watch_;
  // Declared before `cells_`: the transports' on_death callbacks point at it.
  std::unique_ptr<death_queue> deaths_;
  std::map<std::uint16_t, cell_life> cells_;
  std::map<std::string, std::uint16_t> current_;
  std::vector<pending_relaunch> pending_;
  // Set by `stop`: deaths from then on are final.
  bool stopping_ = false;
};

} // namespace cellhub::examples
