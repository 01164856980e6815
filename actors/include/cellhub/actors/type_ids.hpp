#pragma once

// The actor layer's CAF type-id block: every message type and atom it declares. Only
// forward declarations are needed here, so the typed interfaces (interfaces.hpp) can
// name atoms without pulling in the message definitions; types.hpp adds those.

#include "cellhub/actors/fwd.hpp"

#include <caf/type_id.hpp>

#include <vector>

CAF_BEGIN_TYPE_ID_BLOCK(cellhub, caf::first_custom_type_id)

CAF_ADD_TYPE_ID(cellhub, (cellhub::actors::payload))
CAF_ADD_TYPE_ID(cellhub, (cellhub::actors::lifecycle_event))
CAF_ADD_TYPE_ID(cellhub, (cellhub::actors::watch_request))
CAF_ADD_TYPE_ID(cellhub, (cellhub::actors::unwatch_request))
CAF_ADD_TYPE_ID(cellhub, (cellhub::actors::doorbell_rang))
CAF_ADD_TYPE_ID(cellhub, (cellhub::actors::peer_dead))
CAF_ADD_TYPE_ID(cellhub, (cellhub::actors::life_end))
CAF_ADD_TYPE_ID(cellhub, (cellhub::actors::cell_life))
CAF_ADD_TYPE_ID(cellhub, (cellhub::actors::cell_message))
CAF_ADD_TYPE_ID(cellhub, (cellhub::actors::child_started))
CAF_ADD_TYPE_ID(cellhub, (cellhub::actors::child_ready))
CAF_ADD_TYPE_ID(cellhub, (cellhub::actors::remapped))
CAF_ADD_TYPE_ID(cellhub, (cellhub::actors::registry_entry))
CAF_ADD_TYPE_ID(cellhub, (cellhub::actors::bind_request))
CAF_ADD_TYPE_ID(cellhub, (cellhub::actors::unbind_request))
CAF_ADD_TYPE_ID(cellhub, (cellhub::actors::child_info))
CAF_ADD_TYPE_ID(cellhub, (cellhub::actors::child_counts))
CAF_ADD_TYPE_ID(cellhub, (std::vector<cellhub::actors::child_info>))
CAF_ADD_TYPE_ID(cellhub, (std::vector<cellhub::actors::registry_entry>))

// Traffic with cells.
CAF_ADD_ATOM(cellhub, cellhub::actors, call_atom, "call")
CAF_ADD_ATOM(cellhub, cellhub::actors, cast_atom, "cast")
// Peer actor life.
CAF_ADD_ATOM(cellhub, cellhub::actors, start_tmo_atom, "start_tmo")
CAF_ADD_ATOM(cellhub, cellhub::actors, hang_atom, "hangcheck")
CAF_ADD_ATOM(cellhub, cellhub::actors, stop_atom, "stop")
CAF_ADD_ATOM(cellhub, cellhub::actors, stop_step_atom, "stop_step")
CAF_ADD_ATOM(cellhub, cellhub::actors, expire_atom, "expire")
CAF_ADD_ATOM(cellhub, cellhub::actors, lane_atom, "lane")
// Supervisor control (OTP's API) and timers.
CAF_ADD_ATOM(cellhub, cellhub::actors, which_atom, "which")
CAF_ADD_ATOM(cellhub, cellhub::actors, count_atom, "count")
CAF_ADD_ATOM(cellhub, cellhub::actors, restart_atom, "restart")
CAF_ADD_ATOM(cellhub, cellhub::actors, terminate_atom, "terminate")
CAF_ADD_ATOM(cellhub, cellhub::actors, resize_atom, "resize")
CAF_ADD_ATOM(cellhub, cellhub::actors, backoff_atom, "backoff")
CAF_ADD_ATOM(cellhub, cellhub::actors, shutdown_atom, "shutdown")
// Registry.
CAF_ADD_ATOM(cellhub, cellhub::actors, lookup_atom, "lookup")
CAF_ADD_ATOM(cellhub, cellhub::actors, names_atom, "names")

CAF_END_TYPE_ID_BLOCK(cellhub)
