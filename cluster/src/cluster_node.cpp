#include "cellhub/cluster/cluster_node.hpp"

#include "node_actor.hpp"

#include "cellhub/cluster/messages.hpp"
#include "cellhub/cluster/type_ids.hpp"
#include "cellhub/remote/link.hpp"
#include "cellhub/remote/link_security.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/send.hpp>

namespace cellhub::cluster {

void prepare_config(caf::actor_system_config& cfg) {
  cfg.add_message_types<caf::id_block::cellhub_cluster>();
}

cluster_node cluster_node::spawn(caf::actor_system& sys, cluster_options options,
                                 const remote::link_security& security) {
  auto shared = std::make_shared<const remote::link_security>(security);
  auto actor = detail::spawn_node_actor(sys, options, shared);
  return cluster_node{sys, std::move(actor), std::move(options), std::move(shared)};
}

cluster_node::cluster_node(caf::actor_system& sys, node_actor actor, cluster_options options,
                           std::shared_ptr<const remote::link_security> security)
    : sys_{&sys}
    , actor_{std::move(actor)}
    , options_{std::move(options)}
    , security_{std::move(security)} {}

remote::result<std::uint16_t> cluster_node::start(actors::registry_actor registry) {
  // Only the links' protocol is published: another node can join, call and cast to
  // this node's cells, and nothing else.
  const node_link_actor published = actor_;
  auto port =
      remote::publish(*sys_, published, options_.listen.host, options_.listen.port, *security_);
  if (!port)
    return port;
  caf::anon_send(actor_, caf::join_atom_v, std::move(registry));
  return port;
}

caf::actor cluster_node::subscriber() const {
  return caf::actor_cast<caf::actor>(actor_);
}

void cluster_node::stop() {
  if (actor_) {
    caf::anon_send_exit(actor_, caf::exit_reason::user_shutdown);
    actor_ = nullptr;
  }
}

cluster_node::cluster_node(cluster_node&& other) noexcept = default;

cluster_node& cluster_node::operator=(cluster_node&& other) noexcept {
  if (this != &other) {
    stop();
    sys_ = other.sys_;
    actor_ = std::move(other.actor_);
    options_ = std::move(other.options_);
    security_ = std::move(other.security_);
  }
  return *this;
}

cluster_node::~cluster_node() {
  stop();
}

} // namespace cellhub::cluster
