#include "cellhub/soak/interrupt_flag.hpp"

#include <csignal>
#include <signal.h>

namespace cellhub::soak {
namespace {

static_assert(std::atomic<bool>::is_always_lock_free);

std::atomic<bool> interrupted{false};

extern "C" void on_interrupt(int) {
  interrupted.store(true, std::memory_order_relaxed);
}

} // namespace

const std::atomic<bool>& install_interrupt_flag() noexcept {
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART | SA_RESETHAND;
  (void)::sigaction(SIGINT, &action, nullptr);
  (void)::sigaction(SIGTERM, &action, nullptr);
  return interrupted;
}

} // namespace cellhub::soak
