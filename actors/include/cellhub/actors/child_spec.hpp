#pragma once

#include "cellhub/actors/backoff.hpp"
#include "cellhub/actors/fwd.hpp"
#include "cellhub/transport/process.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace cellhub::actors {

/// Names how a supervisor reacts when one of its children ends.
enum class restart_strategy : std::uint8_t {
  /// Restarts only the child that ended.
  one_for_one,
  /// Stops every other child (reverse start order) and restarts all (start order).
  one_for_all,
  /// Restarts the child that ended and every child started after it.
  rest_for_one,
  /// Runs a resizable pool of replicas of one cell spec, each restarted on its own.
  simple_one_for_one,
};

/// Names when a child is restarted.
enum class restart_type : std::uint8_t {
  /// Always.
  permanent,
  /// Unless it ended `normal` (goodbye) or `shutdown` (asked to stop).
  transient,
  /// Never; its spec is deleted when it ends.
  temporary,
};

/// Names what happens when a child's restart would exceed its supervisor's intensity.
enum class intensity_action : std::uint8_t {
  /// The supervisor stops all its children and exits (its parent decides).
  escalate,
  /// The child is parked with its last causes until `restart_child` releases it.
  quarantine,
};

/// Names what happens to messages sent by name while their cell restarts.
enum class restart_delivery : std::uint8_t {
  /// They wait in a bounded buffer and reach the next life.
  hold,
  /// They fail at once with `restarting`.
  fail,
};

/// Returns the configuration word for `value` ("one_for_all", ...).
std::string_view to_string(restart_strategy value) noexcept;
/// Returns the configuration word for `value` ("transient", ...).
std::string_view to_string(restart_type value) noexcept;
/// Returns the configuration word for `value` ("quarantine", ...).
std::string_view to_string(intensity_action value) noexcept;
/// Returns the configuration word for `value` ("hold", ...).
std::string_view to_string(restart_delivery value) noexcept;

/// Describes how to run one cell and how to treat its lives.
struct cell_spec {
  /// Names the cell; the logical name that survives restarts.
  std::string name;
  /// Names the program to run (a path, or a name looked up in PATH).
  std::string binary;
  /// Lists its arguments (the ticket's arguments are appended).
  std::vector<std::string> args;
  /// Lists environment variables set on top of the host's.
  std::vector<std::pair<std::string, std::string>> env;
  /// Names the user, group and supplementary groups the cell runs as; empty runs it as
  /// the host runs. Setting it needs a host with CAP_SETUID and CAP_SETGID (root), and
  /// the binary must be executable by that user. A cell under a uid of its own cannot
  /// signal or trace the host or cells of other users, nor open the hub file (0600).
  std::optional<transport::spawn_identity> user;
  /// Starts the cell from a sealed, exec-only copy of its binary, so that it is
  /// non-dumpable from exec (see `transport::spawn_options::sealed_image`); turn it off
  /// to debug a cell with tools that read its binary through /proc.
  bool sealed_image = true;
  /// Says when the cell is restarted.
  restart_type restart = restart_type::permanent;
  /// Bounds the wait for READY; a later READY counts as a failed start.
  std::chrono::milliseconds start_timeout{2000};
  /// Bounds each step of a graceful stop (goodbye, then SIGTERM, then SIGKILL).
  std::chrono::milliseconds shutdown_timeout{1000};
  /// Bounds how long work may wait while the heartbeat stands still (0: never hung).
  std::chrono::milliseconds hang_timeout{3000};
  /// Spaces restarts out.
  backoff_config backoff;
  /// Says what happens when a restart would exceed the supervisor's intensity.
  intensity_action on_intensity = intensity_action::escalate;
  /// Says what happens to messages by name while the cell restarts.
  restart_delivery during_restart = restart_delivery::hold;
  /// Bounds the messages held while the cell restarts.
  std::size_t hold_capacity = 64;
  /// Bounds the calls and queued casts waiting for one life of the cell; past it a call
  /// or cast fails at once with `errc::overloaded`.
  std::size_t max_pending = 1024;
  /// Bounds the wait for each call's reply; a call not answered within it fails with
  /// `errc::request_timeout` and leaves the peer actor's table.
  std::chrono::milliseconds request_timeout{30000};

  /// Returns a description of the first impossible value, if any.
  [[nodiscard]] std::optional<std::string> validate() const;
};

/// Describes a supervisor: its strategy, intensity and children in start order.
struct supervisor_spec {
  /// Names the supervisor.
  std::string name;
  /// Says how the supervisor reacts to a child ending.
  restart_strategy strategy = restart_strategy::one_for_one;
  /// Bounds the restarts within `period` (OTP's intensity); more escalate.
  int max_restarts = 3;
  /// Sets the window of the intensity rule.
  std::chrono::milliseconds period{5000};
  /// Says when this supervisor, as a child of another, is restarted.
  restart_type restart = restart_type::permanent;
  /// Lists the children in start order; a simple_one_for_one pool has exactly
  /// one cell spec, its template. (`child_spec`, which holds a `supervisor_spec`,
  /// is defined below; `std::vector` allows an incomplete element type here.)
  std::vector<child_spec> children;
  /// Counts the replicas a simple_one_for_one pool starts with.
  std::size_t replicas = 0;

  /// Returns a description of the first impossible value in the whole subtree, if any.
  [[nodiscard]] std::optional<std::string> validate() const;
};

/// Is one child of a supervisor: a cell or another supervisor.
struct child_spec {
  /// Holds the child's description.
  std::variant<cell_spec, supervisor_spec> what;

  /// Wraps a cell spec.
  child_spec(cell_spec cell)
      : what{std::move(cell)} {}
  /// Wraps a supervisor spec.
  child_spec(supervisor_spec supervisor)
      : what{std::move(supervisor)} {}

  /// Returns the child's name.
  [[nodiscard]] const std::string& name() const noexcept;
  /// Returns the child's restart type.
  [[nodiscard]] restart_type restart() const noexcept;
  /// Tells whether the child is a supervisor.
  [[nodiscard]] bool is_supervisor() const noexcept {
    return std::holds_alternative<supervisor_spec>(what);
  }
};

} // namespace cellhub::actors
