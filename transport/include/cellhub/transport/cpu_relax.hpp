#pragma once

// The pause a spin loop takes between two looks at shared memory.

#if !defined(__x86_64__) && !defined(__i386__)
#include <thread>
#endif

namespace cellhub::transport {

/// Tells the CPU that this thread spins (x86 `pause`: it frees the core's resources
/// for its sibling and saves power); elsewhere yields the thread.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}

} // namespace cellhub::transport
