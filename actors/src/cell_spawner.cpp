#include "cellhub/actors/cell_spawner.hpp"

#include "cellhub/actors/types.hpp"
#include "cellhub/transport/hub_host.hpp"

#include <caf/actor_system.hpp>
#include <caf/spawn_options.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <utility>

namespace cellhub::actors {
namespace {

struct spawner_state {
  static inline const char* name = "cellhub.cell_spawner";
};

// Takes an argument only because CAF 0.17's spawn of a function-based actor without
// one trips UBSan inside CAF's own header.
cell_spawner_actor::behavior_type
cell_spawner(cell_spawner_actor::stateful_pointer<spawner_state> self, bool /*unused*/) {
  return {
      [self](spawn_job& job) {
        auto spawned = job.hub->spawn_peer(std::move(job.entry), std::move(job.command));
        spawn_done done;
        if (spawned)
          done.cell = std::move(spawned).value();
        else
          done.error = spawned.error().message();
        // A peer actor that ended meanwhile never takes it: the message's end drops the
        // transport, which kills the cell.
        self->send(job.reply_to, std::move(done));
      },
  };
}

} // namespace

cell_spawner_actor spawn_cell_spawner(caf::actor_system& sys) {
  return sys.spawn<caf::detached>(cell_spawner, true);
}

} // namespace cellhub::actors
