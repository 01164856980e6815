#pragma once

// The typed interface of a cluster node's actor, apart from the messages so that the
// messages that carry its handle (node_hello) can name it.

#include "cellhub/actors/interfaces.hpp"
#include "cellhub/cluster/fwd.hpp"
#include "cellhub/cluster/type_ids.hpp"

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <string>
#include <vector>

namespace cellhub::cluster {

/// Names what one node's actor offers the other nodes of its cluster: joining (a hello
/// answered with a snapshot of its cells), its cells' lifecycle events, calls and
/// casts to its own cells by name, and a heartbeat: `(heartbeat_atom, sender's name)`
/// answered with whether the receiver counts the sender as linked (a sender it has
/// given up on says hello again). Every link between nodes speaks
/// this protocol and nothing else.
using node_link_actor =
    caf::typed_actor<caf::replies_to<node_hello>::with<node_snapshot>, caf::reacts_to<node_update>,
                     caf::replies_to<node_call>::with<actors::payload>,
                     caf::replies_to<node_cast>::with<void>,
                     caf::replies_to<heartbeat_atom, std::string>::with<bool>>;

/// Names a node actor's whole protocol (see cluster_node.hpp): the links' protocol,
/// calls and casts by cluster name (`node/name` or a bare name unique in the cluster)
/// from this host, the cluster's view, subscriptions to `node_up`/`node_down`, the
/// local tree's registry and lifecycle events, and its own timer.
using node_actor = node_link_actor::extend<
    caf::replies_to<actors::call_atom, std::string, actors::payload>::with<actors::payload>,
    caf::replies_to<actors::cast_atom, std::string, actors::payload>::with<void>,
    caf::replies_to<cluster_atom>::with<cluster_status>,
    caf::replies_to<caf::subscribe_atom, caf::actor>::with<caf::ok_atom>,
    caf::reacts_to<caf::join_atom, actors::registry_actor>, caf::reacts_to<actors::lifecycle_event>,
    caf::reacts_to<caf::tick_atom>>;

} // namespace cellhub::cluster
