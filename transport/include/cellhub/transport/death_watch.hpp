#pragma once

#include "cellhub/transport/death_cause.hpp"
#include "cellhub/transport/process.hpp"
#include "cellhub/transport/result.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

namespace cellhub::transport {

/// Reports what a `death_watch` saw of one watched cell life.
struct life_notice {
  /// Holds the key the life was watched under.
  std::uint64_t key = 0;
  /// Is set when the doorbell had wake-ups since the last notice (many rings make one
  /// notice; the wake-ups are consumed). Never set for a life watched for hang-ups only.
  bool rang = false;
  /// Tells how the death was seen (`hung_up` or `process_exited`), once it was.
  std::optional<death_cause> death;
  /// Holds how the process ended when it had exited by the time the death was seen.
  /// The status is peeked, not reaped: the process's owner still reaps it.
  std::optional<exit_status> exit;
  /// Is set on the last notice about the key: nothing is left to watch, the watch has
  /// closed the life's fds and forgotten the key (no `unwatch` needed).
  bool last = false;

  /// Compares every field.
  bool operator==(const life_notice&) const = default;
};

/// Names the fds of one cell life to watch; the watch takes both over and closes them.
struct watched_life {
  /// Holds the host's doorbell end (usually a duplicate), or -1.
  int doorbell_fd = -1;
  /// Holds the cell process's pidfd (usually a duplicate), or -1.
  int pidfd = -1;
  /// Reports wake-ups (`rang`) besides the death; off, only the hang-up is watched and
  /// the doorbell's wake-ups are left to whoever reads them.
  bool report_rings = true;
};

/// Watches many cell lives for their deaths: one epoll set over their doorbells and
/// pidfds, yielding one `life_notice` per life and wake-up, and at most one death
/// notice per kind of fd. It is the host's one way to see a death without traffic;
/// the doorbell watcher actor and the cell_manager example both wrap it.
///
/// A death is reported the moment it is seen. A doorbell hang-up usually comes an
/// instant before the process is reapable: when the exit is already there, the
/// hang-up's notice carries it and is the last; otherwise a second notice follows
/// from the pidfd with the exit. Wake-ups pending before the hang-up are reported in
/// the same notice (`rang` and `death` both set).
///
/// Threading: `wake` may be called from any thread; everything else from one thread
/// at a time.
class death_watch {
public:
  /// Tells how a `wait` ended.
  struct wait_outcome {
    /// Counts the notices handed to the callback.
    std::size_t notices = 0;
    /// Tells whether `wake` was called since the last wait.
    bool woken = false;
  };

  /// Receives each notice during `wait`; it may call `watch` and `unwatch`.
  using notice_handler = std::function<void(const life_notice&)>;

  /// Creates an empty watch; fails with `io_error` when its epoll set or its wake-up
  /// eventfd cannot be created.
  static result<death_watch> create();

  /// Creates a handle that watches nothing and cannot (`create` makes a working one).
  death_watch() noexcept;
  death_watch(death_watch&& other) noexcept;
  death_watch& operator=(death_watch&& other) noexcept;
  death_watch(const death_watch&) = delete;
  death_watch& operator=(const death_watch&) = delete;
  /// Closes every watched fd.
  ~death_watch();

  /// Watches one life under `key` and takes over its fds (closing them on failure
  /// too). A key watched already is replaced (its fds closed). Fails with
  /// `invalid_argument` when both fds are -1, and with `io_error` when an fd cannot
  /// be added to the epoll set.
  result<void> watch(std::uint64_t key, watched_life life);

  /// Stops watching `key` and closes its fds; returns false if it was not watched.
  /// No notice about it comes from later waits.
  bool unwatch(std::uint64_t key) noexcept;

  /// Makes the current or next `wait` return at once with `woken` set; safe from any
  /// thread and from a signal handler.
  void wake() noexcept;

  /// Waits up to `timeout` (negative: forever) for deaths, wake-ups or `wake`, and
  /// hands each notice to `on_notice`.
  result<wait_outcome> wait(std::chrono::milliseconds timeout, const notice_handler& on_notice);

  /// Counts the lives watched now.
  [[nodiscard]] std::size_t watched() const noexcept;

  /// Returns a descriptor that polls readable whenever `wait` has something to report,
  /// so that the watch can sit inside another poll or epoll set.
  [[nodiscard]] int fd() const noexcept;

private:
  struct state;

  explicit death_watch(std::unique_ptr<state> st) noexcept;

  std::unique_ptr<state> state_;
};

} // namespace cellhub::transport
