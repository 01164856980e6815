#pragma once

#include "cellhub/cluster/cluster_options.hpp"
#include "cellhub/cluster/interfaces.hpp"

#include <caf/fwd.hpp>

#include <memory>

namespace cellhub::remote {
class link_security;
}

namespace cellhub::cluster::detail {

/// Spawns a node actor (see cluster_node.hpp for what it does).
node_actor spawn_node_actor(caf::actor_system& sys, cluster_options options,
                            std::shared_ptr<const remote::link_security> security);

} // namespace cellhub::cluster::detail
