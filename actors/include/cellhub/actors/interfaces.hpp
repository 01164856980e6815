#pragma once

// The typed interfaces of the actor layer's actors, in one place so that the
// messages that carry handles (registry_entry, child_info, watch_request) can name
// them without a cycle. Each actor's header includes this one and documents its
// protocol; the public API hands out these handles only.

#include "cellhub/actors/fwd.hpp"
#include "cellhub/actors/type_ids.hpp"

#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace cellhub::actors {

/// Names what the doorbell watcher tells the owner of a watched life: its doorbell
/// rang, or it is gone (see doorbell_watcher.hpp).
using life_listener = caf::typed_actor<caf::reacts_to<doorbell_rang>, caf::reacts_to<peer_dead>>;

/// Names the doorbell watcher's protocol (see doorbell_watcher.hpp).
using doorbell_watcher_actor =
    caf::typed_actor<caf::reacts_to<watch_request>, caf::reacts_to<unwatch_request>>;

/// Names the protocol of the actor that shadows one cell life (see peer_actor.hpp):
/// calls and casts to its cell, `stop_atom` from its supervisor, the spawner's answer,
/// the watcher's notices, its own timers, and `lane_atom` from a caller that wants the
/// life's lane (see cell_lane.hpp).
using peer_actor = life_listener::extend<
    caf::reacts_to<spawn_done>, caf::replies_to<call_atom, payload>::with<payload>,
    caf::replies_to<lane_atom>::with<lane_handle>, caf::replies_to<cast_atom, payload>::with<void>,
    caf::reacts_to<stop_atom>, caf::reacts_to<expire_atom>, caf::reacts_to<stop_step_atom>,
    caf::reacts_to<start_tmo_atom>, caf::reacts_to<hang_atom>>;

/// Names the cell spawner's protocol (see cell_spawner.hpp).
using cell_spawner_actor =
    caf::typed_actor<caf::reacts_to<spawn_job>, caf::reacts_to<retired_life>>;

/// Names a supervisor's protocol (see supervisor.hpp): OTP's supervisor API for
/// operators, and what its children and its own timers send it.
using supervisor_actor =
    caf::typed_actor<caf::replies_to<which_atom>::with<std::vector<child_info>>,
                     caf::replies_to<count_atom>::with<child_counts>,
                     caf::replies_to<restart_atom, std::string>::with<caf::ok_atom>,
                     caf::replies_to<terminate_atom, std::string>::with<caf::ok_atom>,
                     caf::replies_to<caf::delete_atom, std::string>::with<caf::ok_atom>,
                     caf::replies_to<resize_atom, std::uint64_t>::with<caf::ok_atom>,
                     caf::replies_to<caf::subscribe_atom, caf::actor>::with<caf::ok_atom>,
                     caf::replies_to<shutdown_atom>::with<caf::ok_atom>,
                     caf::reacts_to<child_started>, caf::reacts_to<child_ready>,
                     caf::reacts_to<lifecycle_event>, caf::reacts_to<backoff_atom, std::uint64_t>>;

/// Names the name registry's protocol (see registry.hpp).
using registry_actor =
    caf::typed_actor<caf::replies_to<bind_request>::with<caf::ok_atom>,
                     caf::replies_to<unbind_request>::with<caf::ok_atom>,
                     caf::replies_to<call_atom, std::string, payload>::with<payload>,
                     caf::replies_to<cast_atom, std::string, payload>::with<void>,
                     caf::replies_to<lookup_atom, std::string>::with<registry_entry>,
                     caf::replies_to<names_atom>::with<std::vector<registry_entry>>,
                     caf::replies_to<caf::subscribe_atom, caf::actor>::with<caf::ok_atom>>;

} // namespace cellhub::actors
