#include "cellhub/soak/soak_run.hpp"

#include "cellhub/actors/embedding.hpp"
#include "cellhub/bench/host_probe.hpp"
#include "cellhub/soak/interrupt_flag.hpp"
#include "cellhub/soak/soak_cli.hpp"
#include "cellhub/soak/soak_driver.hpp"
#include "cellhub/soak/soak_record.hpp"
#include "cellhub/soak/soak_report.hpp"
#include "cellhub/soak/soak_tree.hpp"
#include "cellhub/soak/soak_verdict.hpp"
#include "cellhub/transport/hub_host.hpp"
#include "cellhub/transport/log.hpp"

#include <caf/all.hpp>
#include <fmt/format.h>

#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

namespace cellhub::soak {
namespace {

namespace ac = cellhub::actors;
using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;
using namespace std::chrono_literals;

// Bounds the wait for every cell's first READY.
constexpr milliseconds startup_timeout{60s};
// Bounds the tree's ordered stop (cells are well-behaved by then: it takes ms).
constexpr milliseconds stop_timeout{60s};
// Bounds the wait for the hub audit, and for processes, to reach their end state
// after the stop: leases still travelling in messages are released moments later.
constexpr milliseconds end_state_timeout{5s};
// Spaces the polls of that wait.
constexpr milliseconds end_state_poll{10};

std::string default_cell_binary() {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec)
    return "cellhub-demo-cell";
  return (self.parent_path() / "cellhub-demo-cell").string();
}

std::string describe_process(const process_identity& who) {
  std::ifstream comm{"/proc/" + std::to_string(who.pid) + "/comm"};
  std::string name;
  std::getline(comm, name);
  const auto state = state_if_alive(who);
  return fmt::format("pid {} ({}) state {}", who.pid, name.empty() ? "?" : name,
                     state ? std::string(1, *state) : std::string{"gone"});
}

// Polls `done` until it holds or `timeout` passes; returns whether it held.
template <class Done>
bool poll_until(Done&& done, milliseconds timeout) {
  const auto deadline = clock_type::now() + timeout;
  for (;;) {
    if (done())
      return true;
    if (clock_type::now() >= deadline)
      return false;
    std::this_thread::sleep_for(end_state_poll);
  }
}

// Waits for the driver to quit; false when it did not within `guard`.
bool wait_for_driver(caf::actor_system& sys, const caf::actor& driver, milliseconds guard) {
  caf::scoped_actor self{sys};
  self->monitor(driver);
  bool down = false;
  self->receive([&](caf::down_msg&) { down = true; }, caf::after(guard) >> [] {});
  if (!down) {
    caf::anon_send_exit(driver, caf::exit_reason::kill);
    self->receive([](caf::down_msg&) {}, caf::after(milliseconds{10s}) >> [] {});
  }
  return down;
}

// Runs the tree and the driver; fills the record's end state up to the audit.
void run_tree(caf::actor_system& sys, const soak_tree& tree, soak_record& record,
              std::shared_ptr<soak_record> shared, const std::atomic<bool>& interrupt,
              std::weak_ptr<transport::hub_host>& hub_watch) {
  // The driver exists before the tree, so it sees every event from the first `started`.
  auto driver =
      spawn_soak_driver(sys, driver_config{std::move(shared), startup_timeout, &interrupt});
  auto started = ac::supervision_tree::start(sys, record.hub_path, tree.root,
                                             {.hub = tree.hub, .subscribers = {driver}});
  if (!started) {
    record.runtime_error = "cannot start the tree: " + sys.render(started.error());
    caf::anon_send_exit(driver, caf::exit_reason::user_shutdown);
    return;
  }
  record.end.tree_started = true;
  hub_watch = started->hub();
  attach_soak_driver(driver, started->root(), started->registry());
  const auto& o = record.options;
  const auto settle = std::max<milliseconds>(o.settle, o.deadline + o.grace + 5s);
  const auto guard = startup_timeout + o.duration + settle + 60s;
  if (!wait_for_driver(sys, driver, guard))
    record.book.violate(invariant::host_alive,
                        fmt::format("the driver did not finish within {} ms", guard.count()));

  const auto stop_began = clock_type::now();
  const auto reason = started->stop(stop_timeout);
  record.end.stop_took = std::chrono::duration_cast<milliseconds>(clock_type::now() - stop_began);
  record.end.stop_reason = reason ? sys.render(reason) : "none";

  record.end.audit_baseline = transport::hub_audit{};
  record.end.audit_baseline.peers_free = tree.hub.max_peers;
  const auto& hub = started->hub();
  poll_until(
      [&] {
        record.end.audit = hub->audit();
        return *record.end.audit == record.end.audit_baseline;
      },
      end_state_timeout);
}

} // namespace

int run_soak(const soak_options& options) {
  auto log = transport::logger();
  log->set_level(options.verbose ? spdlog::level::info : spdlog::level::off);

  const auto cell_binary =
      options.cell_binary.empty() ? default_cell_binary() : options.cell_binary;
  if (::access(cell_binary.c_str(), X_OK) != 0) {
    fmt::print(stderr, "cellhub-soak: cannot run the cell program {}: {}\n", cell_binary,
               std::strerror(errno));
    return exit_code::runtime_error;
  }
  if (!options.json_path.empty()) {
    // Checked up front: an hour of soak must not end in "cannot write".
    std::ofstream probe{options.json_path, std::ios::out | std::ios::app};
    if (!probe) {
      fmt::print(stderr, "cellhub-soak: cannot write --json {}: {}\n", options.json_path,
                 std::strerror(errno));
      return exit_code::runtime_error;
    }
  }
  // Orphaned descendants of cells become our children, so that "nothing left" can see
  // them: without this they would be adopted by init and escape the check.
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    fmt::print(stderr, "cellhub-soak: cannot become a child subreaper: {}\n", std::strerror(errno));
    return exit_code::runtime_error;
  }

  const auto tree = make_soak_tree(options, cell_binary);
  census_bounds bounds;
  bounds.linger = 2 * options.shutdown_timeout + 10s;
  bounds.resumed_quiet = 2 * options.hang_timeout;
  auto record = std::make_shared<soak_record>(options, tree.cell_names, bounds,
                                              options.quiet ? nullptr : stderr);
  record->machine = bench::describe_machine();
  record->cell_binary = cell_binary;
  record->hub_path = options.hub_path.empty()
                         ? "/dev/shm/cellhub-soak-" + std::to_string(::getpid())
                         : options.hub_path;
  const auto& interrupt = install_interrupt_flag();
  if (!options.quiet) {
    fmt::print("cellhub-soak: {} cells ({} in group, {} in pool) running {}, hub {}, seed {}, "
               "for {} s (Ctrl-C ends the load early and still reports)\n",
               options.cells, (options.cells + 1) / 2, options.cells / 2, cell_binary,
               record->hub_path, options.seed, options.duration.count() / 1000);
    std::fflush(stdout);
  }

  std::weak_ptr<transport::hub_host> hub_watch;
  {
    caf::actor_system_config cfg;
    ac::prepare_config(cfg);
    caf::actor_system sys{cfg};
    run_tree(sys, tree, *record, record, interrupt, hub_watch);
  } // every actor, the tree's hub with them, is gone here
  record->end.hub_released = hub_watch.expired();

  record->machine.load_average_end = bench::load_average();
  if (!record->end.tree_started) {
    // Nothing ran, so there is nothing to summarize (and the hub path was not ours).
    fmt::print(stderr, "cellhub-soak: {}\n", *record->runtime_error);
    return exit_code::runtime_error;
  }
  {
    struct stat info {};
    record->end.hub_file_gone =
        poll_until([&] { return ::stat(record->hub_path.c_str(), &info) != 0 && errno == ENOENT; },
                   end_state_timeout);
    const auto tracked = record->census.tracked_processes();
    record->end.processes_checked = tracked.size();
    poll_until(
        [&] {
          return std::none_of(tracked.begin(), tracked.end(),
                              [](const process_identity& p) { return state_if_alive(p); });
        },
        end_state_timeout);
    for (const auto& p : tracked)
      if (state_if_alive(p))
        record->end.processes_left.push_back(describe_process(p));
    for (const auto pid : children_of(::getpid()))
      record->end.children_left.push_back(
          describe_process({pid, process_start_ticks(pid).value_or(0)}));
  }

  conclude(*record);
  print_summary(stdout, *record);
  std::fflush(stdout);
  if (!options.json_path.empty()) {
    std::string problem;
    if (!write_json_summary(options.json_path, *record, problem)) {
      fmt::print(stderr, "cellhub-soak: {}\n", problem);
      return exit_code::runtime_error;
    }
  }
  return exit_code_of(*record);
}

} // namespace cellhub::soak
