#pragma once

#include "cellhub/transport/error.hpp"

#include <caf/fwd.hpp>

#include <array>
#include <cstdint>
#include <iosfwd>
#include <string_view>

namespace cellhub::actors {

/// Lists every way an actor-layer operation can fail; carried inside `caf::error`.
/// Values start at 1 because CAF reads code 0 as "no error".
enum class errc : std::uint8_t {
  /// Reports a cell that died while a request to it was pending.
  cell_died = 1,
  /// Reports a cell that exited or missed READY before its start timeout.
  start_failed,
  /// Reports a cell that stopped making progress while work waited for it.
  hung,
  /// Reports a cell that wrote shared-memory content breaking the protocol.
  protocol_violation,
  /// Reports a message addressed to a (peer id, incarnation) that is no longer alive.
  stale_peer,
  /// Reports a logical name that no registry entry carries.
  unknown_name,
  /// Reports a message by name refused because its cell is restarting.
  restarting,
  /// Reports a message by name dropped because the restart hold buffer is full.
  hold_buffer_full,
  /// Reports a supervisor that saw more restarts than its intensity allows.
  reached_max_restart_intensity,
  /// Reports a child that is parked after a crash loop until `restart_child`.
  quarantined,
  /// Reports a child id that the supervisor does not know.
  unknown_child,
  /// Reports a child id that is already in use.
  already_present,
  /// Reports an operation that needs the child stopped while it runs.
  running,
  /// Reports an operation a `simple_one_for_one` supervisor does not support.
  simple_one_for_one,
  /// Reports a child spec that cannot be used (empty binary, bad timeouts).
  invalid_spec,
  /// Reports a request to a cell that got no reply before its deadline.
  request_timeout,
  /// Reports a failure of the transport layer below.
  transport_failure,
  /// Reports a cell whose process ended without a goodbye (a signal or an exit code).
  crashed,
  /// Reports a request the cell answered with a non-zero status (in the context).
  cell_error,
  /// Reports a call or cast refused because `max_pending` messages already wait for
  /// the cell's current life.
  overloaded,
  /// Reports a tree whose cells need more file descriptors than the process may open.
  fd_limit,
  /// Reports an operation refused because the supervisor is shutting down.
  shutting_down,
  /// Reports a resize asked of a supervisor that is not a `simple_one_for_one` pool.
  not_a_pool,
  /// Reports a call or cast to a node of the cluster that is down or unreachable, and a
  /// call in flight to a node that went down.
  node_down,
  /// Reports a node name the cluster does not know.
  unknown_node,
  /// Reports a bare name that more than one node of the cluster carries (use `node/name`).
  ambiguous_name,
};

/// Holds every `errc` value once, in declaration order.
inline constexpr std::array all_errcs = {
    errc::cell_died,
    errc::start_failed,
    errc::hung,
    errc::protocol_violation,
    errc::stale_peer,
    errc::unknown_name,
    errc::restarting,
    errc::hold_buffer_full,
    errc::reached_max_restart_intensity,
    errc::quarantined,
    errc::unknown_child,
    errc::already_present,
    errc::running,
    errc::simple_one_for_one,
    errc::invalid_spec,
    errc::request_timeout,
    errc::transport_failure,
    errc::crashed,
    errc::cell_error,
    errc::overloaded,
    errc::fd_limit,
    errc::shutting_down,
    errc::not_a_pool,
    errc::node_down,
    errc::unknown_node,
    errc::ambiguous_name,
};

/// Returns the stable snake_case name of `code`.
std::string_view to_string(errc code) noexcept;

/// Writes the name of `code` to `out`.
std::ostream& operator<<(std::ostream& out, errc code);

/// Returns the CAF error category under which actor-layer errors travel.
caf::atom_value error_category() noexcept;

/// Wraps `code` into a `caf::error` of the cellhub category (found by ADL from `caf::error`).
caf::error make_error(errc code);

/// Wraps `code` into a `caf::error` with a context text.
caf::error make_error(errc code, std::string context);

/// Wraps a transport error into a `caf::error` with its message as context.
caf::error make_error(const transport::error& err);

/// Returns whether `err` is the actor-layer error `code`.
bool is(const caf::error& err, errc code) noexcept;

/// Registers the category's renderer so that `actor_system::render` prints names.
void add_error_category(caf::actor_system_config& cfg);

} // namespace cellhub::actors
