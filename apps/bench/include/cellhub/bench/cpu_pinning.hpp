#pragma once

// CPU affinity for the pinned runs: on a small VM, a spinning receiver only pays
// off when sender and receiver never share a vCPU.

namespace cellhub::bench {

/// Counts the CPUs this process may run on.
int usable_cpus() noexcept;

/// Pins the calling thread to `cpu`; false if the kernel refuses.
bool pin_this_thread(int cpu) noexcept;

/// Lets the calling thread run on every CPU the process started with.
void unpin_this_thread() noexcept;

/// Pins the calling thread to `cpu` for the object's life (a negative `cpu` does
/// nothing), then lets it run anywhere again.
class scoped_pin {
public:
  /// Pins the calling thread to `cpu` unless it is negative.
  explicit scoped_pin(int cpu) noexcept
      : pinned_{cpu >= 0 && pin_this_thread(cpu)} {}
  scoped_pin(const scoped_pin&) = delete;
  scoped_pin& operator=(const scoped_pin&) = delete;
  /// Unpins the thread if it was pinned.
  ~scoped_pin() {
    if (pinned_)
      unpin_this_thread();
  }

  /// Tells whether the pin took effect.
  [[nodiscard]] bool pinned() const noexcept { return pinned_; }

private:
  bool pinned_;
};

} // namespace cellhub::bench
