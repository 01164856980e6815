#pragma once

#include <mutex>
#include <string>

namespace cellhub::cli {

/// Holds what the console has told `cellhub run`'s main thread, as one consistent copy.
struct run_news {
  /// Is set when a remote `stop` asked for a stop in order.
  bool stop_requested = false;
  /// Is set once the root supervisor has ended (for whatever reason).
  bool root_down = false;
  /// Is set when the root ended because it reached its restart intensity.
  bool root_gave_up = false;
  /// Says why the root ended (CAF's rendering of its exit reason), once it has.
  std::string root_exit;
  /// Says which child broke the root and why, from the root's own `escalated` event.
  std::string escalation;
  /// Describes a runtime failure that ends the run (the events file cannot be written).
  std::string failure;
};

/// Carries news from the console (an actor) to `cellhub run`'s main thread, which
/// sleeps in epoll: each report updates the news and writes to an eventfd.
class run_signal {
public:
  /// Wakes the main thread through `wake_fd` (an eventfd it polls; not owned).
  explicit run_signal(int wake_fd) noexcept
      : wake_fd_{wake_fd} {}

  /// Records a remote `stop` and wakes the main thread.
  void request_stop();
  /// Records that the root supervisor ended, whether it gave up, and why.
  void report_root_down(bool gave_up, std::string exit_reason);
  /// Records the root's `escalated` event: `text` names the child and the cause.
  void report_escalation(std::string text);
  /// Records a runtime failure that should end the run (the first one is kept).
  void report_failure(std::string text);

  /// Returns a copy of everything reported so far.
  [[nodiscard]] run_news news() const;

private:
  void wake() const noexcept;

  mutable std::mutex mutex_;
  run_news news_;
  int wake_fd_ = -1;
};

} // namespace cellhub::cli
