#include "cellhub/actors/cell_spawner.hpp"

#include "cellhub/actors/types.hpp"
#include "cellhub/transport/hub_host.hpp"

#include <caf/actor_system.hpp>
#include <caf/spawn_options.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <algorithm>
#include <cstddef>
#include <thread>
#include <utility>
#include <vector>

namespace cellhub::actors {
namespace {

struct worker_state {
  static inline const char* name = "cellhub.cell_spawner.worker";
};

// Takes an argument only because CAF 0.17's spawn of a function-based actor without
// one trips UBSan inside CAF's own header.
cell_spawner_actor::behavior_type
spawn_worker(cell_spawner_actor::stateful_pointer<worker_state> self, bool /*unused*/) {
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
      // The transport goes with the message, on this thread.
      [](retired_life&) {},
  };
}

struct dispatcher_state {
  // The detached workers, each a thread of its own, linked to the dispatcher.
  std::vector<cell_spawner_actor> workers;
  // Names the worker that takes the next job.
  std::size_t next = 0;
  static inline const char* name = "cellhub.cell_spawner";
};

// Hands jobs to the workers in turn. CAF's actor_pool would do the same without the
// hop, but 0.17.6's pool races with itself when its workers exit together (it writes
// its exit reason under a shared lock), which ThreadSanitizer reports at every
// tree's end; a job's hop here costs microseconds against a spawn's milliseconds.
cell_spawner_actor::behavior_type
dispatcher(cell_spawner_actor::stateful_pointer<dispatcher_state> self, std::size_t threads) {
  for (std::size_t i = 0; i < threads; ++i)
    self->state.workers.push_back(self->spawn<caf::detached + caf::linked>(spawn_worker, true));
  return {
      [self](spawn_job& job) {
        auto& st = self->state;
        self->send(st.workers[st.next], std::move(job));
        st.next = (st.next + 1) % st.workers.size();
      },
      [self](retired_life& life) {
        auto& st = self->state;
        self->send(st.workers[st.next], std::move(life));
        st.next = (st.next + 1) % st.workers.size();
      },
  };
}

} // namespace

cell_spawner_actor spawn_cell_spawner(caf::actor_system& sys) {
  // As many spawning threads as cores: a restart storm starts cells as fast as the
  // scheduler's workers did when they spawned (one thread alone made 100 cells' start
  // 18 % slower). The workers end with the dispatcher, to which they are linked.
  const std::size_t threads = std::max(1u, std::thread::hardware_concurrency());
  return sys.spawn(dispatcher, threads);
}

} // namespace cellhub::actors
