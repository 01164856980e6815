#include "cellhub/bench/cpu_pinning.hpp"

#include <pthread.h>
#include <sched.h>

namespace cellhub::bench {
namespace {

// The mask the process started with, captured before anything pins a thread.
const cpu_set_t& initial_mask() noexcept {
  static const cpu_set_t mask = [] {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof set, &set) != 0)
      for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
        CPU_SET(cpu, &set);
    return set;
  }();
  return mask;
}

} // namespace

int usable_cpus() noexcept {
  return CPU_COUNT(&initial_mask());
}

bool pin_this_thread(int cpu) noexcept {
  (void)initial_mask();
  if (cpu < 0 || cpu >= CPU_SETSIZE)
    return false;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return ::pthread_setaffinity_np(::pthread_self(), sizeof set, &set) == 0;
}

void unpin_this_thread() noexcept {
  (void)::pthread_setaffinity_np(::pthread_self(), sizeof(cpu_set_t), &initial_mask());
}

} // namespace cellhub::bench
