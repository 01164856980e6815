#pragma once

// demo_cell — the behaviour of `cellhub-demo-cell`: answer requests with a
// `demo_reply`, and crash, hang, exit or misbehave on cue (see --help): scripted by
// flags, or at any time by a signal (SIGUSR1 garbage, SIGUSR2 goodbye and linger).

#include "cellhub/demo/demo_protocol.hpp"
#include "cellhub/transport/cell.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace cellhub::demo {

/// Names the demo cell's exit codes.
namespace exit_code {
/// Marks a clean end: goodbye (asked for, or announced by --exit-after) or host hang-up.
inline constexpr int clean = 0;
/// Marks a failed start (--crash-on-start) or a transport error while serving.
inline constexpr int failure = 1;
/// Marks bad usage (an unknown flag, a malformed duration) or a failed attach.
inline constexpr int usage = 2;
} // namespace exit_code

/// Holds what the command line asked the demo cell to do.
struct demo_cell_options {
  /// Names the cell's role; only printed (on stderr) when it starts.
  std::string role;
  /// Crashes with SIGSEGV this long after READY, if set.
  std::optional<std::chrono::nanoseconds> crash_after;
  /// Exits with code 1 before attaching (a failed start).
  bool crash_on_start = false;
  /// Stops reading and heartbeating forever this long after READY, if set.
  std::optional<std::chrono::nanoseconds> hang_after;
  /// Says goodbye and exits 0 this long after READY, if set.
  std::optional<std::chrono::nanoseconds> exit_after;
  /// Writes a bogus descriptor into the cell→host ring right after READY.
  bool garbage = false;
  /// Busies the CPU this long per request (heartbeating meanwhile) before replying.
  std::chrono::nanoseconds work{0};
};

/// Holds the outcome of parsing the command line: options to run with, or the
/// code to exit with at once (after --help, or with the error already printed).
struct parsed_command_line {
  /// Holds the options when the cell should run.
  std::optional<demo_cell_options> options;
  /// Holds the exit code when `options` is empty.
  int exit_code = exit_code::clean;
};

/// Parses the demo cell's flags; the ticket's flags (`--hub-path=` ...) are accepted
/// and left to `transport::cell::attach`. Prints help or errors to stdout/stderr.
parsed_command_line parse_command_line(int argc, const char* const* argv);

/// Runs one attached demo cell: answers each request with the encoded
/// `compute_demo_reply` of its payload, counts one-way messages, answers a host
/// goodbye with its own, and plays the scripted misbehaviour of its options.
/// Timers never sleep: the cell waits in `receive` for at most the time left until
/// the next deadline, and never longer than `cue_check`, so that a cue signal
/// (`install_cue_handlers`) is acted on within that bound even when no traffic comes:
/// SIGUSR1 writes garbage into the ring (as `--garbage` does), SIGUSR2 makes the cell
/// say goodbye and linger: it keeps reading and heartbeating, answers nothing, and
/// exits only when the host hangs up (code 0) or a signal ends it.
class demo_cell {
public:
  /// Names the clock every deadline is measured with.
  using clock = std::chrono::steady_clock;

  /// Bounds one wait in `receive`, hence how late a cue signal is acted on when idle.
  static constexpr std::chrono::milliseconds cue_check{100};

  /// Creates the behaviour for `self` (attached, READY sent); deadlines count from now.
  demo_cell(transport::cell& self, demo_cell_options options);

  /// Serves until the host asks for a goodbye or hangs up, or a scripted end comes;
  /// returns the process exit code. A scripted crash or hang does not return.
  int run();

  /// Counts the requests answered so far.
  [[nodiscard]] std::uint64_t requests_served() const noexcept { return requests_served_; }
  /// Counts the one-way messages taken (and ignored) so far.
  [[nodiscard]] std::uint64_t messages_ignored() const noexcept { return messages_ignored_; }
  /// Tells whether the cell said goodbye on SIGUSR2 and lingers.
  [[nodiscard]] bool lingering() const noexcept { return lingering_; }

  /// Returns the earliest scripted deadline still ahead, if any.
  [[nodiscard]] std::optional<clock::time_point> next_deadline() const noexcept;

private:
  // What a due deadline makes the cell do.
  enum class scripted_end : std::uint8_t { crash, hang, exit };

  [[nodiscard]] std::optional<scripted_end> due(clock::time_point now) const noexcept;
  int end(scripted_end what);
  std::optional<int> handle(transport::incoming_message& msg);
  std::optional<int> answer(std::uint64_t msg_id, std::span<const std::byte> payload);
  std::optional<int> send_reply(std::uint64_t msg_id, std::span<const std::byte> bytes);
  // Returns the scripted end that interrupted the work, if one did.
  std::optional<scripted_end> busy_work();
  void inject_garbage();
  // Acts on the cue signals taken since the last call; returns an exit code to end with.
  std::optional<int> take_cues();
  // Sends the goodbye a linger cue owes; returns an exit code to end with.
  std::optional<int> say_lingering_goodbye();
  bool garbage_unread() noexcept;
  std::optional<int> flush_held_replies();

  transport::cell& self_;
  demo_cell_options options_;
  clock::time_point started_;
  std::uint64_t requests_served_ = 0;
  std::uint64_t messages_ignored_ = 0;
  // The ring index of the bogus descriptor; set by --garbage until the host took it.
  std::optional<std::uint64_t> garbage_index_;
  // Replies held back while the bogus descriptor is unread (see inject_garbage).
  std::vector<std::pair<std::uint64_t, std::array<std::byte, demo_reply_size>>> held_replies_;
  // Set by SIGUSR2: the goodbye is said (or owed, while the ring is full) and the cell
  // answers nothing more.
  bool lingering_ = false;
  bool goodbye_owed_ = false;
};

/// Crashes the process with a real SIGSEGV (default action restored, no core file).
[[noreturn]] void crash_with_sigsegv() noexcept;

/// Blocks forever without reading or heartbeating (only a signal ends the process).
[[noreturn]] void hang_forever() noexcept;

} // namespace cellhub::demo
