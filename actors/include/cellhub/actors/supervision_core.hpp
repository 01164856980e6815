#pragma once

#include "cellhub/actors/backoff.hpp"
#include "cellhub/actors/child_spec.hpp"
#include "cellhub/actors/child_state.hpp"
#include "cellhub/actors/error.hpp"
#include "cellhub/actors/life_end.hpp"
#include "cellhub/actors/restart_intensity.hpp"

#include <boost/outcome/result.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace cellhub::actors {

/// Is one instruction the supervision core gives to the actor that drives it.
struct supervision_command {
  /// Lists the instructions.
  enum class kind : std::uint8_t {
    /// Starts child `child`.
    start,
    /// Stops child `child` gracefully; report the end with `on_down`.
    stop,
    /// Publishes that `child` restarts after `delay` (the timer is a separate command).
    restarting,
    /// Calls `on_timer(timer)` after `delay`.
    timer,
    /// Publishes that `child` was parked.
    quarantine,
    /// Publishes that the supervisor gives up because of `child`'s `end`; it is
    /// followed by the stops of the shutdown and then `exit`.
    escalate,
    /// Publishes that `child`'s spec was dropped (a temporary child ended or was
    /// terminated, a pool shrank); the core no longer knows it, so `name` names it.
    removed,
    /// Ends the supervisor: its shutdown (or escalation) is complete.
    exit,
  };
  /// Holds the instruction.
  kind what;
  /// Names the child concerned (0 for `exit` and `timer`).
  std::uint64_t child = 0;
  /// Holds the delay of `restarting` and `timer`.
  std::chrono::nanoseconds delay{0};
  /// Names the timer of a `timer` command.
  std::uint64_t timer = 0;
  /// Holds the end that caused an `escalate` or a `quarantine`.
  life_end end;
  /// Names the child of a `removed`.
  std::string name;
};

/// Holds what an operator's request to the supervision core yields: its value (the
/// commands to carry out), or the `errc` that says why the core refused it.
template <class T>
using core_result =
    BOOST_OUTCOME_V2_NAMESPACE::result<T, errc, BOOST_OUTCOME_V2_NAMESPACE::policy::terminate>;

/// Describes one child as the core tracks it.
struct supervised_child {
  /// Identifies the child for its whole stay in the supervisor (never reused).
  std::uint64_t id = 0;
  /// Holds the child's spec.
  child_spec spec;
  /// Holds the current state.
  child_state state = child_state::idle;
  /// Counts the restarts so far.
  std::uint32_t restarts = 0;
  /// Holds how its last lives ended, newest last (at most 5).
  std::deque<life_end> last_ends;
  /// Holds when the current life became ready.
  std::optional<std::chrono::steady_clock::time_point> ready_since;
  /// Spaces the child's restarts out.
  backoff restart_backoff;
};

/// Decides what a supervisor does, without actors, processes or clocks of its own:
/// events go in (a child is ready, a child ended, a timer fired, an operator asked
/// for something), commands come out, in the order they must be carried out.
/// Group operations (one_for_all, rest_for_one, the initial start, shutdown and
/// escalation) run as a plan, one step at a time, each step waiting for the
/// previous child to be ready or gone, as OTP does. A simple_one_for_one pool's
/// shutdown (and escalation) stops all its replicas at once and exits when the last
/// is down, as OTP stops simple_one_for_one children.
class supervision_core {
public:
  using clock = std::chrono::steady_clock;
  using commands = std::vector<supervision_command>;

  /// Creates the core for `spec` (which must validate); `seed` drives backoff jitter.
  explicit supervision_core(supervisor_spec spec, std::uint64_t seed = std::random_device{}());

  /// Starts every child: in spec order one after another, or all at once for a pool.
  commands start(clock::time_point now);

  /// Reports that child `id` became ready.
  commands on_ready(std::uint64_t id, clock::time_point now);

  /// Reports that child `id` ended (on its own, or after a `stop` command).
  commands on_down(std::uint64_t id, life_end end, clock::time_point now);

  /// Reports that timer `timer` fired.
  commands on_timer(std::uint64_t timer, clock::time_point now);

  /// Stops every child in reverse start order (a pool's all at once), then exits.
  commands shutdown(clock::time_point now);

  /// Starts a stopped or quarantined child again (OTP's restart_child). Refuses with
  /// `unknown_child`, `shutting_down`, `restarting` (a restart is due anyway) or
  /// `running`.
  core_result<commands> restart_child(std::uint64_t id);

  /// Stops a child and keeps its spec, unless it is temporary (OTP's terminate_child).
  /// Refuses with `unknown_child`.
  core_result<commands> terminate_child(std::uint64_t id);

  /// Removes a child that does not run (OTP's delete_child); unlike the other
  /// removals, it yields no `removed` command: the caller knows. Refuses with
  /// `unknown_child`, `simple_one_for_one`, `restarting` or `running`.
  core_result<void> delete_child(std::uint64_t id);

  /// Grows or shrinks a simple_one_for_one pool to `replicas`. Refuses with
  /// `not_a_pool` or `shutting_down`.
  core_result<commands> resize(std::size_t replicas);

  /// Returns the children in start order.
  [[nodiscard]] const std::vector<supervised_child>& children() const noexcept { return children_; }
  /// Finds a child by id.
  [[nodiscard]] const supervised_child* find(std::uint64_t id) const noexcept;
  /// Finds a child by name.
  [[nodiscard]] const supervised_child* find(std::string_view name) const noexcept;
  /// Returns the supervisor's spec.
  [[nodiscard]] const supervisor_spec& spec() const noexcept { return spec_; }
  /// Tells whether the supervisor is shutting down (or escalating).
  [[nodiscard]] bool stopping() const noexcept { return stopping_; }

private:
  struct step {
    // stop_all stops every child at once and completes when none is stopping.
    enum class op : std::uint8_t { start, stop, stop_all, wait, exit } what;
    std::uint64_t child = 0;
    std::chrono::nanoseconds delay{0};
  };

  supervised_child* lookup(std::uint64_t id) noexcept;
  std::size_t position(std::uint64_t id) const noexcept;
  std::uint64_t add_child(child_spec spec);
  void remove_child(std::uint64_t id, commands* out);
  void record_end(supervised_child& child, life_end end);
  void cancel_restart_timer(std::uint64_t id);
  void finish_stop(supervised_child& child, commands& out);
  bool any_stopping() const noexcept;
  bool plan_will_start(std::uint64_t id) const noexcept;
  void handle_failure(supervised_child& child, const life_end& end, clock::time_point now,
                      commands& out);
  void begin_shutdown();
  void run_plan(clock::time_point now, commands& out);
  void start_now(supervised_child& child, commands& out);
  std::uint64_t arm_timer(std::chrono::nanoseconds delay, commands& out);

  supervisor_spec spec_;
  restart_intensity intensity_;
  std::mt19937_64 random_;
  std::vector<supervised_child> children_;
  std::uint64_t next_child_id_ = 1;
  std::size_t next_replica_ = 1;
  std::deque<step> plan_;
  bool step_in_progress_ = false;
  std::uint64_t plan_timer_ = 0;
  std::uint64_t next_timer_ = 1;
  // Timers of children waiting out a backoff (one_for_one and pools).
  std::vector<std::pair<std::uint64_t, std::uint64_t>> restart_timers_;
  // Failures seen while a plan ran, handled when it ends.
  struct deferred_failure {
    std::uint64_t child;
    life_end end;
  };
  std::deque<deferred_failure> deferred_;
  // Children whose stop was asked by an operator (terminate) or a pool shrink.
  std::vector<std::uint64_t> terminating_;
  std::vector<std::uint64_t> removing_;
  bool stopping_ = false;
};

} // namespace cellhub::actors
