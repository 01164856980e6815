#include "dialer.hpp"

#include "cellhub/actors/error.hpp"
#include "cellhub/actors/types.hpp"
#include "cellhub/cluster/messages.hpp"
#include "cellhub/cluster/type_ids.hpp"
#include "cellhub/remote/link.hpp"
#include "cellhub/remote/link_security.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace cellhub::cluster::detail {
namespace {

dialer_actor::behavior_type dialer(dialer_actor::pointer self, node_address address,
                                   std::shared_ptr<const remote::link_security> security,
                                   std::chrono::nanoseconds timeout) {
  return {
      [self, address, security, timeout](dial_atom) -> caf::result<node_link_actor> {
        auto linked = remote::connect<node_link_actor>(self->system(), address.host, address.port,
                                                       timeout, *security);
        if (!linked)
          return caf::make_error(caf::sec::cannot_connect_to_node, linked.error().message());
        return std::move(linked).value();
      },
  };
}

} // namespace

dialer_actor spawn_dialer(caf::actor_system& sys, node_address address,
                          std::shared_ptr<const remote::link_security> security,
                          std::chrono::nanoseconds timeout) {
  return sys.spawn<caf::detached>(dialer, std::move(address), std::move(security), timeout);
}

} // namespace cellhub::cluster::detail
