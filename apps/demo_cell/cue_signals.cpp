#include "cue_signals.hpp"

#include <atomic>
#include <csignal>
#include <signal.h>

namespace cellhub::demo {
namespace {

// A lock-free atomic is the one kind of shared object a signal handler may touch.
static_assert(std::atomic<bool>::is_always_lock_free);

std::atomic<bool> garbage_cue{false};
std::atomic<bool> linger_cue{false};

extern "C" void on_sigusr1(int) {
  garbage_cue.store(true, std::memory_order_relaxed);
}

extern "C" void on_sigusr2(int) {
  linger_cue.store(true, std::memory_order_relaxed);
}

bool install(int signal_number, void (*handler)(int)) noexcept {
  struct sigaction action {};
  action.sa_handler = handler;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  return ::sigaction(signal_number, &action, nullptr) == 0;
}

} // namespace

bool install_cue_handlers() noexcept {
  const bool usr1 = install(SIGUSR1, on_sigusr1);
  const bool usr2 = install(SIGUSR2, on_sigusr2);
  // A host that spawned us with these blocked would never be heard.
  sigset_t cues;
  sigemptyset(&cues);
  sigaddset(&cues, SIGUSR1);
  sigaddset(&cues, SIGUSR2);
  const bool unblocked = ::pthread_sigmask(SIG_UNBLOCK, &cues, nullptr) == 0;
  return usr1 && usr2 && unblocked;
}

bool take_cue(cue which) noexcept {
  auto& flag = which == cue::garbage ? garbage_cue : linger_cue;
  return flag.exchange(false, std::memory_order_relaxed);
}

} // namespace cellhub::demo
