#include "cellhub/actors/embedding.hpp"

#include "cellhub/actors/cell_spawner.hpp"
#include "cellhub/actors/doorbell_watcher.hpp"
#include "cellhub/actors/fd_budget.hpp"
#include "cellhub/actors/registry.hpp"
#include "cellhub/actors/supervisor.hpp"
#include "cellhub/transport/hub_host.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <thread>
#include <utility>

namespace cellhub::actors {
namespace {

// Bounds the wait for the root's end after a kill, which takes no longer than the
// actors' next turn; only a wedged scheduler could exceed it.
constexpr std::chrono::seconds kill_grace{10};

} // namespace

void prepare_config(caf::actor_system_config& cfg) {
  cfg.add_message_types<caf::id_block::cellhub>();
  add_error_category(cfg);
  const auto cores = std::max(1u, std::thread::hardware_concurrency());
  cfg.set("scheduler.max-threads", static_cast<std::size_t>(cores));
  // One shared queue instead of work stealing. cellhub's actors mostly wait: with work
  // stealing, a message lands in one worker's queue while another naps through it in
  // 50 us slices (a call by name 230-290 us). Sharing wakes any idle worker (a call by
  // name 20-25 us here; docs/benchmarks.md). Spawns no longer block a worker at all:
  // the tree's cell spawner runs them on a thread of its own.
  cfg.set("scheduler.policy", caf::atom("sharing"));
}

caf::expected<supervision_tree> supervision_tree::start(caf::actor_system& sys,
                                                        std::string hub_path, supervisor_spec root,
                                                        tree_options options) {
  if (auto problem = root.validate())
    return make_error(errc::invalid_spec, *problem);
  // Before the hub exists: a tree that cannot fit is refused with the numbers, instead
  // of its last cells failing with EMFILE and restarting forever.
  if (const auto budget = plan_fd_budget(root); !budget.fits())
    return make_error(errc::fd_limit, budget.describe());
  auto hub = transport::hub_host::create(std::move(hub_path), options.hub);
  if (!hub)
    return make_error(hub.error());
  supervision_tree tree;
  tree.sys_ = &sys;
  tree.hub_ = std::move(hub).value();
  tree.watcher_ = spawn_doorbell_watcher(sys);
  tree.registry_ = spawn_registry(sys);
  tree.spawner_ = spawn_cell_spawner(sys);
  tree.root_ = spawn_supervisor(
      sys, std::move(root),
      tree_context{tree.hub_, tree.watcher_, tree.spawner_, tree.registry_, options.sink}, {}, 0,
      std::move(options.subscribers));
  return tree;
}

supervision_tree::supervision_tree(supervision_tree&& other) noexcept
    : sys_{std::exchange(other.sys_, nullptr)}
    , hub_{std::move(other.hub_)}
    , watcher_{std::move(other.watcher_)}
    , spawner_{std::move(other.spawner_)}
    , registry_{std::move(other.registry_)}
    , root_{std::move(other.root_)}
    , stop_requested_{std::exchange(other.stop_requested_, true)}
    , killed_{std::exchange(other.killed_, true)}
    , finished_{std::exchange(other.finished_, true)}
    , reason_{std::move(other.reason_)} {}

supervision_tree& supervision_tree::operator=(supervision_tree&& other) noexcept {
  if (this != &other) {
    if (!finished_ && sys_ != nullptr)
      stop();
    sys_ = std::exchange(other.sys_, nullptr);
    hub_ = std::move(other.hub_);
    watcher_ = std::move(other.watcher_);
    spawner_ = std::move(other.spawner_);
    registry_ = std::move(other.registry_);
    root_ = std::move(other.root_);
    stop_requested_ = std::exchange(other.stop_requested_, true);
    killed_ = std::exchange(other.killed_, true);
    finished_ = std::exchange(other.finished_, true);
    reason_ = std::move(other.reason_);
  }
  return *this;
}

supervision_tree::~supervision_tree() {
  if (!finished_ && sys_ != nullptr)
    stop();
}

cell_channel supervision_tree::channel(std::string name, channel_options options) const {
  return cell_channel{*sys_, registry_, std::move(name), options};
}

void supervision_tree::request_stop() {
  if (stop_requested_ || killed_ || finished_ || sys_ == nullptr)
    return;
  stop_requested_ = true;
  caf::anon_send(root_, shutdown_atom_v);
}

void supervision_tree::kill() {
  if (killed_ || finished_ || sys_ == nullptr)
    return;
  killed_ = true;
  // `kill` cannot be trapped: the root ends at once, and so does every actor linked
  // below it (supervisors, which also refuse to stop in order on it, and peer actors,
  // whose cells are SIGKILLed as their transports go).
  caf::anon_send_exit(root_, caf::exit_reason::kill);
}

caf::error supervision_tree::stop(std::chrono::milliseconds timeout) {
  if (finished_ || sys_ == nullptr)
    return reason_ ? reason_ : caf::error{caf::exit_reason::user_shutdown};
  {
    caf::scoped_actor self{*sys_};
    // Monitoring an actor that is gone already delivers its down message at once.
    self->monitor(root_);
    request_stop();
    auto deadline = std::chrono::steady_clock::now() + timeout;
    bool down = false;
    bool escalated = false;
    while (!down) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      self->receive(
          [&](caf::down_msg& msg) {
            if (msg.source == root_.address()) {
              reason_ = std::move(msg.reason);
              down = true;
            }
          },
          caf::others >>
              [](caf::message_view&) -> caf::result<caf::message> { return caf::message{}; },
          caf::after(std::max(left, std::chrono::milliseconds{0})) >>
              [&] {
                if (escalated) {
                  // Not even a kill ended it: stop waiting rather than hang the caller.
                  reason_ = caf::exit_reason::kill;
                  down = true;
                  return;
                }
                // The tree did not stop in time: take it down hard, then wait for the
                // root's down message (kill ends it without delay).
                killed_ = true;
                caf::anon_send_exit(root_, caf::exit_reason::kill);
                escalated = true;
                deadline = std::chrono::steady_clock::now() + kill_grace;
              });
    }
  }
  finished_ = true;
  caf::anon_send_exit(registry_, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(watcher_, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(spawner_, caf::exit_reason::user_shutdown);
  return reason_;
}

} // namespace cellhub::actors
