#pragma once

// Every atom and message type of the actor layer, complete: the type-id block
// (type_ids.hpp) with the definitions of the types it names. Register them with
// `cellhub::actors::prepare_config(cfg)` (see embedding.hpp).

#include "cellhub/actors/lifecycle_event.hpp"
#include "cellhub/actors/messages.hpp"
#include "cellhub/actors/payload.hpp"
#include "cellhub/actors/type_ids.hpp"
