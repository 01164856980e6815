#pragma once

// The name registry: one per supervision tree. Supervisors tell it when a cell
// life becomes ready (bind) and when it ends (unbind); applications call and cast
// to cells by logical name through it and subscribe to restarts (`remapped`).

#include "cellhub/actors/child_spec.hpp"
#include "cellhub/actors/error.hpp"
#include "cellhub/actors/interfaces.hpp"
#include "cellhub/actors/messages.hpp"
#include "cellhub/actors/payload.hpp"
#include "cellhub/actors/types.hpp"

#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/response_promise.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace cellhub::actors {

// The registry's protocol (`registry_actor`, declared in interfaces.hpp):
//
// - `bind_request{entry, delivery, hold_capacity}` → `ok`: the life `entry` is ready.
//   Publishes `remapped` to every subscriber when the name had a life before (not on
//   its very first bind), then hands it the messages held while it restarted, in
//   arrival order. `delivery` and `hold_capacity` rule the next restart. Fails with
//   `invalid_spec` when the entry has no name or no actor.
// - `unbind_request{name, reason}` → `ok`: the life ended.
//   `restarting`: messages by name are held (up to `hold_capacity`, beyond it they
//   fail with `hold_buffer_full`) or fail at once with `restarting`, per the last
//   bind. `unknown_child` or `unknown_name` (child deleted or terminated): held
//   messages fail with that reason and the name is forgotten, so later messages
//   fail with `unknown_name`. Any other reason (`quarantined`, ...): held messages
//   fail with it, and so do later messages, until the name binds again. Unbinding
//   a name the registry does not know is a no-op.
// - `(call_atom, name, payload)` → `payload`: forwards `(call_atom, payload)` to
//   the current life and relays its answer. A life that ended before the call
//   reached it answers `cell_died`, exactly like one that died while serving it.
//   The life answers `overloaded` at once when `max_pending` messages already wait
//   for it, and `request_timeout` when the cell does not answer in time.
// - `(cast_atom, name, payload)` → `void`: forwards `(cast_atom, payload)` and
//   answers once the life took it, or with the life's `overloaded`. A held cast is
//   answered once it reached the new life (or failed).
// - `(lookup_atom, name)` → `registry_entry` (`peer_id` -1 and no actor while restarting).
// - `(names_atom)` → every registered name's entry, sorted by name.
// - `(caf::subscribe_atom, subscriber)` → `ok`: `subscriber` receives `remapped`
//   until it goes down.

/// Holds the registry's routing table and subscribers.
struct registry_state {
  /// Names where messages for a name go.
  enum class status : std::uint8_t {
    /// Sends them to the life in `entry.actor`.
    bound,
    /// Holds them for the next life, or fails them with `restarting`, per `delivery`.
    restarting,
    /// Fails them with `removed_reason`.
    removed,
  };

  /// Holds one message that waits for the next life of its cell.
  struct held_message {
    /// Tells a call (answered by the cell) from a cast.
    bool is_call = false;
    /// Holds the message's bytes.
    payload data;
    /// Answers the sender once the message reached a life or failed.
    caf::response_promise promise;
  };

  /// Holds everything known about one logical name.
  struct record {
    /// Describes the current life (`peer_id` -1 and no actor unless bound).
    registry_entry entry;
    /// Says where messages go.
    status state = status::bound;
    /// Holds the peer id of the last life, reported as `old_peer_id` on the next bind.
    std::int32_t last_peer_id = -1;
    /// Says what a restart does to messages, per the last bind.
    restart_delivery delivery = restart_delivery::hold;
    /// Bounds `held`, per the last bind.
    std::uint64_t hold_capacity = 0;
    /// Holds messages for the next life, in arrival order.
    std::deque<held_message> held;
    /// Holds the reason the name was removed (valid when `state == removed`).
    errc removed_reason = errc::unknown_name;
  };

  /// Maps logical names to their records, sorted by name.
  std::map<std::string, record, std::less<>> names;
  /// Lists the actors that receive `remapped`.
  std::vector<caf::actor> subscribers;
  /// Holds the callers of calls and casts forwarded to a life and not answered yet,
  /// by a number of the registry's own. Bounded by the lives: each answers every
  /// message within its `request_timeout`, refuses those past `max_pending`, and
  /// fails the rest when it ends.
  std::map<std::uint64_t, caf::response_promise> forwarded;
  /// Numbers the next forwarded call.
  std::uint64_t next_forward = 0;

  /// Fails messages still held or forwarded when the registry stops, so that no
  /// caller waits forever.
  ~registry_state();

  /// Names the actor in CAF's diagnostics.
  static inline const char* name = "cellhub_registry";
};

/// Returns the registry's behavior. Spawn it with `spawn_registry`: CAF 0.17 trips
/// UBSan when a function-based actor is spawned without arguments.
registry_actor::behavior_type registry(registry_actor::stateful_pointer<registry_state> self);

/// Spawns a registry with no names and no subscribers.
registry_actor spawn_registry(caf::actor_system& sys);

} // namespace cellhub::actors
