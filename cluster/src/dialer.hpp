#pragma once

#include "cellhub/cluster/cluster_options.hpp"
#include "cellhub/cluster/interfaces.hpp"

#include <caf/fwd.hpp>
#include <caf/typed_actor.hpp>

#include <chrono>
#include <memory>

namespace cellhub::remote {
class link_security;
}

namespace cellhub::cluster::detail {

/// Names a dialer's protocol: `(dial_atom)` → the node actor published at its address.
using dialer_actor = caf::typed_actor<caf::replies_to<dial_atom>::with<node_link_actor>>;

/// Spawns the dialer of one join address on a thread of its own: CAF 0.17 connects
/// synchronously, so a connect that waits (up to `timeout`) blocks no scheduler thread.
dialer_actor spawn_dialer(caf::actor_system& sys, node_address address,
                          std::shared_ptr<const remote::link_security> security,
                          std::chrono::nanoseconds timeout);

} // namespace cellhub::cluster::detail
