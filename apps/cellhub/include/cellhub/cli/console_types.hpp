#pragma once

// The cellhub CLI's own messages, in a CAF type-id block of their own after the actor
// layer's: the console's timers for the request load and chaos. Register them with
// `cfg.add_message_types<caf::id_block::cellhub_cli>()` after `actors::prepare_config`.

#include "cellhub/actors/types.hpp"
#include "cellhub/cluster/type_ids.hpp"

#include <caf/type_id.hpp>

CAF_BEGIN_TYPE_ID_BLOCK(cellhub_cli, caf::id_block::cellhub_cluster::end)

// The console's timers: send the next round of requests, kill the next random cell.
CAF_ADD_ATOM(cellhub_cli, cellhub::cli, load_atom, "load")
CAF_ADD_ATOM(cellhub_cli, cellhub::cli, chaos_atom, "chaos")

CAF_END_TYPE_ID_BLOCK(cellhub_cli)
