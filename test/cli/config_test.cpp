#include "cellhub/cli/binary_lookup.hpp"
#include "cellhub/cli/byte_size.hpp"
#include "cellhub/cli/cluster_config.hpp"
#include "cellhub/cluster/cluster_options.hpp"
#include "cellhub/transport/hub_geometry.hpp"

#include <boost/test/unit_test.hpp>

#include <fmt/format.h>

#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace ac = cellhub::actors;
namespace cli = cellhub::cli;
namespace fs = std::filesystem;
namespace tr = cellhub::transport;

using namespace std::chrono_literals;

namespace {

void write_file(const fs::path& path, std::string_view text) {
  fs::create_directories(path.parent_path());
  std::ofstream out{path, std::ios::binary | std::ios::trunc};
  out << text;
}

// Stands in for the real demo cell: the loader only checks that it exists and is executable.
void make_stub(const fs::path& path, bool executable = true) {
  write_file(path, "#!/bin/sh\nexit 0\n");
  fs::permissions(path, executable ? fs::perms::owner_all : fs::perms::owner_read,
                  fs::perm_options::replace);
}

/// Sets PATH for one test and puts the old value back.
class scoped_path {
public:
  explicit scoped_path(const std::string& value) {
    if (const char* old = std::getenv("PATH"))
      old_ = old;
    ::setenv("PATH", value.c_str(), 1);
  }
  ~scoped_path() {
    if (old_)
      ::setenv("PATH", old_->c_str(), 1);
    else
      ::unsetenv("PATH");
  }
  scoped_path(const scoped_path&) = delete;
  scoped_path& operator=(const scoped_path&) = delete;

private:
  std::optional<std::string> old_;
};

/// Holds a fresh temporary directory with bin/cellhub-demo-cell (an executable stub) and
/// writes configuration files into it; removes it all at the end.
struct sandbox {
  fs::path root;
  fs::path bin;

  sandbox() {
    std::string pattern = (fs::temp_directory_path() / "cellhub-config-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr)
      throw std::runtime_error("mkdtemp failed");
    root = pattern;
    bin = root / "bin";
    make_stub(bin / "cellhub-demo-cell");
  }
  ~sandbox() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
  sandbox(const sandbox&) = delete;
  sandbox& operator=(const sandbox&) = delete;

  fs::path config_path() const { return root / "cluster.toml"; }

  cli::load_result load(std::string_view text) const {
    write_file(config_path(), text);
    return cli::load_cluster_config(config_path(), bin);
  }

  // Loads `text` for a host that is `host` rather than this process.
  cli::load_result load_as(const cli::host_identity& host, std::string_view text) const {
    write_file(config_path(), text);
    return cli::load_cluster_config(config_path(), bin, host);
  }

  // Returns the error text for a host that is `host`, or "<loaded>".
  std::string error_as(const cli::host_identity& host, std::string_view text) const {
    const auto result = load_as(host, text);
    if (const auto* error = std::get_if<cli::config_error>(&result))
      return error->to_string();
    return "<loaded>";
  }

  cli::cluster_config loaded_as(const cli::host_identity& host, std::string_view text) const {
    auto result = load_as(host, text);
    if (const auto* error = std::get_if<cli::config_error>(&result))
      BOOST_FAIL("rejected: " + error->to_string());
    return std::get<cli::cluster_config>(std::move(result));
  }

  // Returns the error text, or "<loaded>" when the file was accepted.
  std::string error_of(std::string_view text) const {
    const auto result = load(text);
    if (const auto* error = std::get_if<cli::config_error>(&result))
      return error->to_string();
    return "<loaded>";
  }

  // Returns what an error at `rest` ("4:1: cell[1].name: ...") reads like in this sandbox.
  std::string at(std::string_view rest) const {
    return config_path().string() + ":" + std::string{rest};
  }

  cli::cluster_config loaded(std::string_view text) const {
    auto result = load(text);
    if (const auto* error = std::get_if<cli::config_error>(&result))
      BOOST_FAIL("rejected: " + error->to_string());
    return std::get<cli::cluster_config>(std::move(result));
  }
};

// The first three lines of most malformed files below, so that their errors sit on line 4
// and later.
const std::string head = "version = 1\n[hub]\npath = \"/dev/shm/cellhub-config-test\"\n";

const ac::cell_spec& cell_at(const ac::supervisor_spec& spec, std::size_t i) {
  return std::get<ac::cell_spec>(spec.children.at(i).what);
}

const ac::supervisor_spec& group_at(const ac::supervisor_spec& spec, std::size_t i) {
  return std::get<ac::supervisor_spec>(spec.children.at(i).what);
}

std::vector<std::string> child_names(const ac::supervisor_spec& spec) {
  std::vector<std::string> names;
  for (const auto& child : spec.children)
    names.push_back(child.name());
  return names;
}

} // namespace

// --- (a) the shipped files --------------------------------------------------------------

BOOST_FIXTURE_TEST_SUITE(shipped_configs, sandbox)

BOOST_AUTO_TEST_CASE(every_file_in_config_dir_loads_and_its_tree_validates) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator{CONFIG_DIR})
    if (entry.is_regular_file() && entry.path().extension() == ".toml")
      files.push_back(entry.path());
  // demo-cluster, reference and one per strategy plus nested.
  BOOST_TEST(files.size() >= 7u);
  for (const auto& file : files) {
    BOOST_TEST_CONTEXT(file.string()) {
      auto result = cli::load_cluster_config(file, bin);
      const auto* error = std::get_if<cli::config_error>(&result);
      BOOST_TEST(!error, (error ? error->to_string() : ""));
      if (const auto* config = std::get_if<cli::cluster_config>(&result)) {
        const auto problem = config->root.validate();
        BOOST_TEST(!problem, problem.value_or(""));
        BOOST_TEST(tr::hub_geometry::compute(config->hub).has_value());
        BOOST_TEST(!cli::describe(*config).empty());
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(demo_cluster_runs_workers_flaky_and_a_pool_of_three_hashers) {
  auto result = cli::load_cluster_config(fs::path{CONFIG_DIR} / "demo-cluster.toml", bin);
  BOOST_REQUIRE(std::holds_alternative<cli::cluster_config>(result));
  const auto& config = std::get<cli::cluster_config>(result);
  BOOST_TEST(config.hub_path == "/dev/shm/cellhub-demo");
  BOOST_TEST((config.root.strategy == ac::restart_strategy::one_for_one));
  BOOST_TEST(child_names(config.root) ==
                 (std::vector<std::string>{"worker-1", "worker-2", "worker-3", "flaky", "pool"}),
             boost::test_tools::per_element());
  BOOST_TEST(cell_at(config.root, 0).binary == (bin / "cellhub-demo-cell").string());
  BOOST_TEST(cell_at(config.root, 0).args == (std::vector<std::string>{"--role", "worker"}),
             boost::test_tools::per_element());
  const auto& flaky = cell_at(config.root, 3);
  BOOST_TEST(std::count(flaky.args.begin(), flaky.args.end(), "--crash-after") == 1);
  BOOST_TEST((flaky.restart == ac::restart_type::permanent));
  const auto& pool = group_at(config.root, 4);
  BOOST_TEST((pool.strategy == ac::restart_strategy::simple_one_for_one));
  BOOST_TEST(pool.replicas == 3u);
  BOOST_TEST(cell_at(pool, 0).name == "hasher");
  BOOST_TEST(config.load.rate == 200.0);
  BOOST_TEST(config.load.payload_bytes == 4096u);
}

BOOST_AUTO_TEST_CASE(reference_file_spells_out_exactly_the_defaults) {
  auto result = cli::load_cluster_config(fs::path{CONFIG_DIR} / "reference.toml", bin);
  BOOST_REQUIRE(std::holds_alternative<cli::cluster_config>(result));
  const auto& config = std::get<cli::cluster_config>(result);
  const tr::hub_config hub;
  BOOST_TEST(config.hub.max_peers == hub.max_peers);
  BOOST_TEST(config.hub.ring_capacity == hub.ring_capacity);
  BOOST_REQUIRE(config.hub.slot_classes.size() == hub.slot_classes.size());
  for (std::size_t i = 0; i < hub.slot_classes.size(); ++i) {
    BOOST_TEST(config.hub.slot_classes[i].slot_size == hub.slot_classes[i].slot_size);
    BOOST_TEST(config.hub.slot_classes[i].slot_count == hub.slot_classes[i].slot_count);
  }
  const ac::supervisor_spec root_defaults;
  BOOST_TEST((config.root.strategy == root_defaults.strategy));
  BOOST_TEST(config.root.max_restarts == root_defaults.max_restarts);
  BOOST_TEST((config.root.period == root_defaults.period));
  BOOST_TEST(config.root.replicas == root_defaults.replicas);

  const ac::cell_spec cell;
  const auto& worker = cell_at(config.root, 0);
  BOOST_TEST(worker.args.empty());
  BOOST_TEST(worker.env.empty());
  BOOST_TEST((worker.restart == cell.restart));
  BOOST_TEST((worker.start_timeout == cell.start_timeout));
  BOOST_TEST((worker.shutdown_timeout == cell.shutdown_timeout));
  BOOST_TEST((worker.hang_timeout == cell.hang_timeout));
  BOOST_TEST((worker.backoff.min_delay == cell.backoff.min_delay));
  BOOST_TEST((worker.backoff.max_delay == cell.backoff.max_delay));
  BOOST_TEST(worker.backoff.jitter == cell.backoff.jitter);
  BOOST_TEST((worker.backoff.reset_after == cell.backoff.reset_after));
  BOOST_TEST((worker.on_intensity == cell.on_intensity));
  BOOST_TEST((worker.during_restart == cell.during_restart));
  BOOST_TEST(worker.hold_capacity == cell.hold_capacity);
  BOOST_TEST(worker.sealed_image == cell.sealed_image);

  const auto& team = group_at(config.root, 1);
  BOOST_TEST((team.strategy == root_defaults.strategy));
  BOOST_TEST(team.max_restarts == root_defaults.max_restarts);
  BOOST_TEST((team.period == root_defaults.period));
  BOOST_TEST((team.restart == root_defaults.restart));

  const cli::load_config load;
  BOOST_TEST(config.load.rate == load.rate);
  BOOST_TEST(config.load.payload_bytes == load.payload_bytes);
  BOOST_TEST(config.load.targets.empty());
  BOOST_TEST((config.load.timeout == load.timeout));
  // The [cluster] example is commented out: a host runs alone unless the file says so.
  BOOST_TEST(!config.cluster);
}

BOOST_AUTO_TEST_CASE(reference_files_commented_cluster_example_loads_to_the_defaults) {
  std::ifstream in{fs::path{CONFIG_DIR} / "reference.toml", std::ios::binary};
  const std::string text{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
  const auto start = text.find("\n# [cluster]\n");
  BOOST_REQUIRE(start != std::string::npos);
  // Uncomment the block, as someone enabling it would, and put it after the rest.
  std::string block;
  std::istringstream lines{text.substr(start + 1)};
  for (std::string line; std::getline(lines, line);)
    block += (line.rfind("# ", 0) == 0 ? line.substr(2) : line == "#" ? "" : line) + "\n";
  const auto config = loaded(text + block);
  BOOST_REQUIRE(config.cluster.has_value());
  const cellhub::cluster::cluster_options defaults;
  BOOST_TEST(config.cluster->node == "alpha");
  BOOST_TEST(config.cluster->listen.to_string() == "127.0.0.1:7101");
  BOOST_TEST(config.cluster->join.empty());
  BOOST_TEST((config.cluster->heartbeat_interval == defaults.heartbeat_interval));
  BOOST_TEST((config.cluster->heartbeat_timeout == defaults.heartbeat_timeout));
  BOOST_TEST((config.cluster->join_retry == defaults.join_retry));
}

BOOST_AUTO_TEST_CASE(design_document_sketch_loads) {
  const auto config = loaded(R"(version = 1
[hub]
path = "/dev/shm/cellhub-demo"
max_peers = 64
[supervisor]
strategy = "one_for_one"          # one_for_all | rest_for_one | simple_one_for_one
max_restarts = 5
period = "10s"
[[cell]]
name = "worker-1"
binary = "cellhub-demo-cell"      # resolved next to the cellhub binary, then PATH
args = ["--role", "worker"]
restart = "permanent"             # transient | temporary
start_timeout = "2s"
shutdown_timeout = "1s"
hang_timeout = "3s"
backoff = { min = "10ms", max = "5s", jitter = 0.2, reset_after = "30s" }
)");
  BOOST_TEST(config.root.name == "root");
  BOOST_TEST(config.root.max_restarts == 5);
  BOOST_TEST((config.root.period == 10s));
  BOOST_TEST(cell_at(config.root, 0).name == "worker-1");
}

BOOST_AUTO_TEST_SUITE_END()

// --- (b) malformed files: the exact error ---------------------------------------------

BOOST_FIXTURE_TEST_SUITE(malformed_configs, sandbox)

BOOST_AUTO_TEST_CASE(unknown_top_level_key_is_named_with_the_keys_allowed_there) {
  BOOST_TEST(error_of("version = 1\ncolour = \"red\"\n[hub]\npath = \"/dev/shm/x\"\n") ==
             at("2:1: colour: unknown key; expected one of version, hub, supervisor, cell, "
                "group, load, cluster"));
}

BOOST_AUTO_TEST_CASE(unknown_key_in_a_cell_is_reported_at_the_key) {
  BOOST_TEST(error_of(head + R"([[cell]]
name = "w"
binary = "cellhub-demo-cell"
colour = "red"
)") == at("7:1: cell[1].colour: unknown key; expected one of name, binary, user, group, "
          "sealed_image, args, env, restart, start_timeout, shutdown_timeout, hang_timeout, "
          "backoff, "
          "on_intensity, "
          "during_restart, hold_capacity, max_pending, request_timeout"));
}

BOOST_AUTO_TEST_CASE(unknown_key_inside_backoff_is_reported_at_its_column) {
  BOOST_TEST(error_of(head + R"([[cell]]
name = "w"
binary = "cellhub-demo-cell"
backoff = { min = "1s", step = "2s" }
)") == at("7:25: cell[1].backoff.step: unknown key; expected one of min, max, jitter, "
          "reset_after"));
}

BOOST_AUTO_TEST_CASE(unknown_key_in_a_group_inside_a_group_names_the_whole_path) {
  BOOST_TEST(error_of(head + R"([[group]]
name = "outer"
[[group.group]]
name = "inner"
colour = "red"
)") == at("8:1: group[1].group[1].colour: unknown key; expected one of name, strategy, "
          "max_restarts, period, replicas, restart, cell, group"));
}

BOOST_AUTO_TEST_CASE(restart_is_unknown_on_the_root_supervisor) {
  BOOST_TEST(error_of(head + "[supervisor]\nrestart = \"permanent\"\n") ==
             at("5:1: supervisor.restart: unknown key; expected one of name, strategy, "
                "max_restarts, period, replicas"));
}

BOOST_AUTO_TEST_CASE(string_where_an_integer_belongs_is_a_wrong_type) {
  BOOST_TEST(error_of("version = 1\n[hub]\npath = \"/dev/shm/x\"\nmax_peers = \"64\"\n") ==
             at("4:13: hub.max_peers: expected an integer, found a string"));
}

BOOST_AUTO_TEST_CASE(sealed_image_is_read_as_a_boolean) {
  const auto config = loaded(
      head + "[[cell]]\nname = \"plain\"\nbinary = \"cellhub-demo-cell\"\nsealed_image = false\n");
  BOOST_TEST(!cell_at(config.root, 0).sealed_image);
  BOOST_TEST(error_of(head + R"([[cell]]
name = "w"
binary = "cellhub-demo-cell"
sealed_image = "no"
)") == at("7:16: cell[1].sealed_image: expected a boolean, found a string"));
}

BOOST_AUTO_TEST_CASE(non_string_argument_is_a_wrong_type_at_its_index) {
  BOOST_TEST(error_of(head + R"([[cell]]
name = "w"
binary = "cellhub-demo-cell"
args = ["--role", 3]
)") == at("7:19: cell[1].args[2]: expected a string, found an integer"));
}

BOOST_AUTO_TEST_CASE(single_bracket_cell_table_is_a_wrong_type) {
  BOOST_TEST(error_of(head + "[cell]\nname = \"w\"\n") ==
             at("4:1: cell: expected an array of tables ([[cell]]), found a table"));
}

BOOST_AUTO_TEST_CASE(duration_without_a_proper_unit_is_a_bad_duration) {
  BOOST_TEST(error_of(head + R"([[cell]]
name = "w"
binary = "cellhub-demo-cell"
start_timeout = "2 s"
)") == at("7:17: cell[1].start_timeout: bad duration \"2 s\"; write a number and a unit "
          "(ns, us, ms, s, m, h), e.g. \"250ms\""));
}

BOOST_AUTO_TEST_CASE(duration_written_as_a_bare_number_is_a_wrong_type) {
  BOOST_TEST(error_of(head + "[supervisor]\nperiod = 10\n") ==
             at("5:10: supervisor.period: expected a duration such as \"250ms\", found an "
                "integer"));
}

BOOST_AUTO_TEST_CASE(negative_hang_timeout_is_refused) {
  BOOST_TEST(error_of(head + R"([[cell]]
name = "w"
binary = "cellhub-demo-cell"
hang_timeout = "-1s"
)") == at("7:16: cell[1].hang_timeout: must not be negative, got \"-1s\""));
}

BOOST_AUTO_TEST_CASE(sub_millisecond_timeout_is_refused_rather_than_truncated) {
  BOOST_TEST(error_of(head + R"([[cell]]
name = "w"
binary = "cellhub-demo-cell"
start_timeout = "1500us"
)") == at("7:17: cell[1].start_timeout: \"1500us\" is not a whole number of milliseconds"));
}

BOOST_AUTO_TEST_CASE(zero_period_is_refused) {
  BOOST_TEST(error_of(head + "[supervisor]\nperiod = \"0s\"\n") ==
             at("5:10: supervisor.period: must be positive, got \"0s\""));
}

BOOST_AUTO_TEST_CASE(duplicate_cell_name_points_back_at_the_first) {
  BOOST_TEST(error_of(head + R"([[cell]]
name = "w"
binary = "cellhub-demo-cell"
[[cell]]
name = "w"
binary = "cellhub-demo-cell"
)") == at("8:8: cell[2].name: name \"w\" is already used at line 5"));
}

BOOST_AUTO_TEST_CASE(duplicate_name_in_a_nested_group_is_refused_because_names_are_global) {
  BOOST_TEST(error_of(head + R"([[cell]]
name = "w"
binary = "cellhub-demo-cell"
[[group]]
name = "g"
[[group.cell]]
name = "w"
binary = "cellhub-demo-cell"
)") == at("10:8: group[1].cell[1].name: name \"w\" is already used at line 5"));
}

BOOST_AUTO_TEST_CASE(cell_named_like_its_group_is_a_duplicate) {
  BOOST_TEST(error_of(head + R"([[group]]
name = "g"
[[group.cell]]
name = "g"
binary = "cellhub-demo-cell"
)") == at("7:8: group[1].cell[1].name: name \"g\" is already used at line 5"));
}

BOOST_AUTO_TEST_CASE(cell_named_root_clashes_with_the_default_root_name) {
  BOOST_TEST(error_of(head + R"([[cell]]
name = "root"
binary = "cellhub-demo-cell"
)") == at("5:8: cell[1].name: name \"root\" is already used by the root supervisor (its "
          "default name)"));
}

BOOST_AUTO_TEST_CASE(cell_named_like_a_pool_replica_is_a_duplicate) {
  BOOST_TEST(error_of(head + R"([[group]]
name = "pool"
strategy = "simple_one_for_one"
replicas = 3
[[group.cell]]
name = "hasher"
binary = "cellhub-demo-cell"
[[cell]]
name = "hasher-2"
binary = "cellhub-demo-cell"
)") == at("12:8: cell[1].name: name \"hasher-2\" is already used by replica 2 of pool \"pool\" "
          "(line 9)"));
}

BOOST_AUTO_TEST_CASE(empty_name_is_refused) {
  BOOST_TEST(error_of(head + R"([[cell]]
name = ""
binary = "cellhub-demo-cell"
)") == at("5:8: cell[1].name: must not be empty"));
}

BOOST_AUTO_TEST_CASE(name_with_a_space_is_refused) {
  BOOST_TEST(error_of(head + R"([[cell]]
name = "my cell"
binary = "cellhub-demo-cell"
)") == at("5:8: cell[1].name: \"my cell\" may hold only letters, digits, '-', '_' and '.'"));
}

BOOST_AUTO_TEST_CASE(missing_cell_name_is_reported_at_the_cell_header) {
  BOOST_TEST(error_of(head + "[[cell]]\nbinary = \"cellhub-demo-cell\"\n") ==
             at("4:1: cell[1].name: missing required key"));
}

BOOST_AUTO_TEST_CASE(binary_found_neither_next_to_the_program_nor_on_path_is_refused) {
  const scoped_path path{(root / "nowhere").string()};
  BOOST_TEST(error_of(head + R"([[cell]]
name = "w"
binary = "no-such-cell"
)") == at("6:10: cell[1].binary: cannot find \"no-such-cell\" next to " + bin.string() +
          " or on PATH"));
}

BOOST_AUTO_TEST_CASE(relative_binary_that_does_not_exist_is_refused) {
  BOOST_TEST(error_of(head + R"([[cell]]
name = "w"
binary = "tools/missing"
)") == at("6:10: cell[1].binary: \"" + (root / "tools/missing").string() + "\" does not exist"));
}

BOOST_AUTO_TEST_CASE(binary_without_execute_permission_is_refused) {
  make_stub(root / "tools" / "plain", false);
  BOOST_TEST(error_of(head + R"([[cell]]
name = "w"
binary = "tools/plain"
)") == at("6:10: cell[1].binary: \"" + (root / "tools/plain").string() +
          "\" is not an executable file"));
}

BOOST_AUTO_TEST_CASE(negative_max_restarts_is_refused) {
  BOOST_TEST(error_of(head + "[supervisor]\nmax_restarts = -1\n") ==
             at("5:16: supervisor.max_restarts: must not be negative, got -1"));
}

BOOST_AUTO_TEST_CASE(backoff_min_above_max_is_reported_on_min) {
  BOOST_TEST(error_of(head + R"([[cell]]
name = "w"
binary = "cellhub-demo-cell"
backoff = { min = "10s", max = "5s" }
)") == at("7:19: cell[1].backoff.min: min (10s) exceeds max (5s)"));
}

BOOST_AUTO_TEST_CASE(backoff_max_below_the_default_min_is_reported_on_max) {
  BOOST_TEST(error_of(head + R"([[cell]]
name = "w"
binary = "cellhub-demo-cell"
backoff = { max = "1ms" }
)") == at("7:19: cell[1].backoff.max: max (1ms) is below min (10ms)"));
}

BOOST_AUTO_TEST_CASE(jitter_above_one_is_refused) {
  BOOST_TEST(error_of(head + R"([[cell]]
name = "w"
binary = "cellhub-demo-cell"
backoff = { jitter = 1.5 }
)") == at("7:22: cell[1].backoff.jitter: must be within [0, 1], got 1.5"));
}

BOOST_AUTO_TEST_CASE(unknown_strategy_word_lists_the_strategies) {
  BOOST_TEST(error_of(head + "[supervisor]\nstrategy = \"one_for_none\"\n") ==
             at("5:12: supervisor.strategy: unknown strategy \"one_for_none\"; expected one of "
                "one_for_one, one_for_all, rest_for_one, simple_one_for_one"));
}

BOOST_AUTO_TEST_CASE(unknown_restart_word_in_a_group_cell_names_the_nested_path) {
  BOOST_TEST(error_of(head + R"([[group]]
name = "g"
[[group.cell]]
name = "w"
binary = "cellhub-demo-cell"
restart = "sometimes"
)") == at("9:11: group[1].cell[1].restart: unknown restart type \"sometimes\"; expected one "
          "of permanent, transient, temporary"));
}

BOOST_AUTO_TEST_CASE(replicas_on_one_for_one_is_refused) {
  BOOST_TEST(error_of(head + "[supervisor]\nstrategy = \"one_for_one\"\nreplicas = 3\n") ==
             at("6:12: supervisor.replicas: applies only to strategy simple_one_for_one, not "
                "\"one_for_one\""));
}

BOOST_AUTO_TEST_CASE(pool_with_two_cells_is_refused_at_the_second) {
  BOOST_TEST(error_of(head + R"([[group]]
name = "pool"
strategy = "simple_one_for_one"
[[group.cell]]
name = "a"
binary = "cellhub-demo-cell"
[[group.cell]]
name = "b"
binary = "cellhub-demo-cell"
)") == at("10:1: group[1].cell[2]: a simple_one_for_one supervisor has exactly one [[cell]], "
          "the template of its replicas; this is a second one"));
}

BOOST_AUTO_TEST_CASE(pool_without_a_template_is_refused_at_the_group) {
  BOOST_TEST(error_of(head + R"([[group]]
name = "pool"
strategy = "simple_one_for_one"
)") == at("4:1: group[1].cell: a simple_one_for_one supervisor needs one [[group.cell]], the "
          "template of its replicas"));
}

BOOST_AUTO_TEST_CASE(pool_with_a_nested_group_is_refused) {
  BOOST_TEST(error_of(head + R"([supervisor]
strategy = "simple_one_for_one"
[[group]]
name = "g"
)") == at("6:1: group[1]: a simple_one_for_one supervisor runs replicas of one [[cell]] and "
          "has no [[group]]"));
}

BOOST_AUTO_TEST_CASE(max_pending_zero_is_refused) {
  BOOST_TEST(error_of(head + R"([[cell]]
name = "w"
binary = "cellhub-demo-cell"
max_pending = 0
)") == at("7:15: cell[1].max_pending: must be positive, got 0"));
}

BOOST_AUTO_TEST_CASE(request_timeout_zero_is_refused) {
  BOOST_TEST(error_of(head + R"([[cell]]
name = "w"
binary = "cellhub-demo-cell"
request_timeout = "0s"
)") == at("7:19: cell[1].request_timeout: must be positive, got \"0s\""));
}

BOOST_AUTO_TEST_CASE(hold_capacity_zero_while_holding_is_refused) {
  BOOST_TEST(error_of(head + R"([[cell]]
name = "w"
binary = "cellhub-demo-cell"
hold_capacity = 0
)") == at("7:17: cell[1].hold_capacity: must be positive while during_restart is \"hold\""));
}

BOOST_AUTO_TEST_CASE(missing_version_is_reported_without_a_line) {
  BOOST_TEST(error_of("[hub]\npath = \"/dev/shm/x\"\n") ==
             config_path().string() +
                 ": version: missing required key; write version = 1 at the top of the file");
}

BOOST_AUTO_TEST_CASE(version_two_is_unsupported) {
  BOOST_TEST(error_of("version = 2\n[hub]\npath = \"/dev/shm/x\"\n") ==
             at("1:11: version: unsupported version 2; this cellhub reads version 1"));
}

BOOST_AUTO_TEST_CASE(toml_syntax_error_carries_the_parser_position) {
  BOOST_TEST(error_of("version = 1\n[hub]\npath = = \"x\"\n") ==
             at("3:8: Error while parsing value: could not determine value type"));
}

BOOST_AUTO_TEST_CASE(missing_hub_path_is_reported_at_the_hub_header) {
  BOOST_TEST(error_of("version = 1\n[hub]\nmax_peers = 8\n") ==
             at("2:1: hub.path: missing required key"));
}

BOOST_AUTO_TEST_CASE(relative_hub_path_is_refused) {
  BOOST_TEST(error_of("version = 1\n[hub]\npath = \"cellhub-demo\"\n") ==
             at("3:8: hub.path: must be an absolute path, got \"cellhub-demo\""));
}

BOOST_AUTO_TEST_CASE(max_peers_zero_is_refused) {
  BOOST_TEST(error_of(head + "max_peers = 0\n") ==
             at("4:13: hub.max_peers: must be within 1..4096, got 0"));
}

BOOST_AUTO_TEST_CASE(max_peers_above_4096_is_refused) {
  BOOST_TEST(error_of(head + "max_peers = 5000\n") ==
             at("4:13: hub.max_peers: must be within 1..4096, got 5000"));
}

BOOST_AUTO_TEST_CASE(ring_capacity_that_is_no_power_of_two_is_refused) {
  BOOST_TEST(error_of(head + "ring_capacity = 100\n") ==
             at("4:17: hub.ring_capacity: must be a power of two within 2..65536, got 100"));
}

BOOST_AUTO_TEST_CASE(size_with_an_unknown_unit_is_a_bad_size) {
  BOOST_TEST(error_of(head + "[[hub.slot_class]]\nsize = \"12XB\"\ncount = 4\n") ==
             at("5:8: hub.slot_class[1].size: bad size \"12XB\"; write a number of bytes or a "
                "whole number and a unit (B, KiB, MiB, GiB), e.g. \"4KiB\""));
}

BOOST_AUTO_TEST_CASE(slot_classes_that_do_not_grow_are_refused) {
  BOOST_TEST(error_of(head + R"([[hub.slot_class]]
size = "16KiB"
count = 4
[[hub.slot_class]]
size = 1024
count = 4
)") == at("8:8: hub.slot_class[2].size: must be larger than the previous class (16KiB), got "
          "1KiB"));
}

BOOST_AUTO_TEST_CASE(slot_size_that_is_no_multiple_of_64_is_refused) {
  BOOST_TEST(error_of(head + "[[hub.slot_class]]\nsize = \"100B\"\ncount = 4\n") ==
             at("5:8: hub.slot_class[1].size: must be a multiple of 64 within 64B..64MiB, got "
                "100B"));
}

BOOST_AUTO_TEST_CASE(tree_with_more_cells_than_peers_is_refused) {
  BOOST_TEST(error_of(head + R"(max_peers = 2
[[group]]
name = "pool"
strategy = "simple_one_for_one"
replicas = 3
[[group.cell]]
name = "hasher"
binary = "cellhub-demo-cell"
)") == at("4:13: hub.max_peers: 2 peers cannot hold the 3 cells of the tree"));
}

BOOST_AUTO_TEST_CASE(hub_too_large_for_the_transport_is_refused_by_the_geometry_guard) {
  // Each class alone is legal; together with 4096 peers the file passes the 1 TiB cap.
  const auto text = error_of(head + R"(max_peers = 4096
[[hub.slot_class]]
size = "64MiB"
count = 64
)");
  BOOST_TEST(text.rfind(at("2:1: hub: hub would take "), 0) == 0u, text);
}

BOOST_AUTO_TEST_CASE(load_target_that_names_no_cell_is_refused) {
  BOOST_TEST(error_of(head + R"([[cell]]
name = "w"
binary = "cellhub-demo-cell"
[load]
targets = ["w", "ghost"]
)") == at("8:17: load.targets[2]: names no cell: \"ghost\""));
}

BOOST_AUTO_TEST_CASE(load_payload_larger_than_the_largest_slot_is_refused) {
  BOOST_TEST(error_of(head + "[load]\npayload = \"2MiB\"\n") ==
             at("5:11: load.payload: 2MiB does not fit the largest slot class (1MiB)"));
}

BOOST_AUTO_TEST_CASE(non_string_environment_value_is_a_wrong_type) {
  BOOST_TEST(error_of(head + R"([[cell]]
name = "w"
binary = "cellhub-demo-cell"
env = { LEVEL = 3 }
)") == at("7:17: cell[1].env.LEVEL: expected a string, found an integer"));
}

BOOST_AUTO_TEST_CASE(missing_file_is_reported_without_a_line) {
  const auto result = cli::load_cluster_config(root / "absent.toml", bin);
  BOOST_REQUIRE(std::holds_alternative<cli::config_error>(result));
  BOOST_TEST(std::get<cli::config_error>(result).to_string() ==
             (root / "absent.toml").string() + ": cannot open: No such file or directory");
}

BOOST_AUTO_TEST_SUITE_END()

// --- (b2) strings the operating system gets: a NUL would cut them short --------------------

BOOST_FIXTURE_TEST_SUITE(nul_in_os_strings, sandbox)

const std::string nul_refused = "must not hold a NUL character (\\u0000): the operating system "
                                "would cut the string there";

BOOST_AUTO_TEST_CASE(nul_in_hub_path_is_refused_naming_line_and_key) {
  BOOST_TEST(error_of("version = 1\n[hub]\npath = \"/dev/shm/hub\\u0000.db\"\n") ==
             at("3:8: hub.path: " + nul_refused));
}

BOOST_AUTO_TEST_CASE(nul_in_binary_is_refused_naming_line_and_key) {
  BOOST_TEST(error_of(head + R"([[cell]]
name = "w"
binary = "cellhub-demo-cell\u0000-other"
)") == at("6:10: cell[1].binary: " + nul_refused));
}

BOOST_AUTO_TEST_CASE(nul_in_an_argument_is_refused_naming_its_index) {
  BOOST_TEST(error_of(head + R"([[cell]]
name = "w"
binary = "cellhub-demo-cell"
args = ["--role", "work\u0000er"]
)") == at("7:19: cell[1].args[2]: " + nul_refused));
}

BOOST_AUTO_TEST_CASE(nul_in_an_environment_value_is_refused_naming_the_variable) {
  BOOST_TEST(error_of(head + R"([[cell]]
name = "w"
binary = "cellhub-demo-cell"
env = { LEVEL = "3\u0000" }
)") == at("7:17: cell[1].env.LEVEL: " + nul_refused));
}

BOOST_AUTO_TEST_CASE(nul_in_an_environment_name_is_refused_without_printing_it) {
  const auto error = error_of(head + R"([[cell]]
name = "w"
binary = "cellhub-demo-cell"
env = { "LEVEL\u0000X" = "3" }
)");
  BOOST_TEST(error == at("7:9: cell[1].env: an environment variable name must not hold a NUL "
                         "character (\\u0000)"));
  BOOST_TEST(error.find('\0') == std::string::npos);
}

BOOST_AUTO_TEST_CASE(nul_in_a_group_cell_argument_is_refused_too) {
  BOOST_TEST(error_of(head + R"([[group]]
name = "g"
[[group.cell]]
name = "w"
binary = "cellhub-demo-cell"
args = ["\u0000"]
)") == at("9:9: group[1].cell[1].args[1]: " + nul_refused));
}

BOOST_AUTO_TEST_SUITE_END()

// --- (c) defaults ------------------------------------------------------------------------

BOOST_FIXTURE_TEST_SUITE(config_defaults, sandbox)

BOOST_AUTO_TEST_CASE(minimal_file_gives_cell_spec_defaults) {
  const auto config = loaded(head + "[[cell]]\nname = \"solo\"\nbinary = \"cellhub-demo-cell\"\n");
  BOOST_REQUIRE(config.root.children.size() == 1u);
  const auto& cell = cell_at(config.root, 0);
  const ac::cell_spec defaults;
  BOOST_TEST(cell.name == "solo");
  BOOST_TEST(cell.binary == (bin / "cellhub-demo-cell").string());
  BOOST_TEST(cell.args.empty());
  BOOST_TEST(cell.env.empty());
  BOOST_TEST(!cell.user);
  BOOST_TEST(cell.sealed_image == defaults.sealed_image);
  BOOST_TEST(cell.sealed_image);
  BOOST_TEST((cell.restart == defaults.restart));
  BOOST_TEST((cell.start_timeout == defaults.start_timeout));
  BOOST_TEST((cell.shutdown_timeout == defaults.shutdown_timeout));
  BOOST_TEST((cell.hang_timeout == defaults.hang_timeout));
  BOOST_TEST((cell.backoff.min_delay == defaults.backoff.min_delay));
  BOOST_TEST((cell.backoff.max_delay == defaults.backoff.max_delay));
  BOOST_TEST(cell.backoff.jitter == defaults.backoff.jitter);
  BOOST_TEST((cell.backoff.reset_after == defaults.backoff.reset_after));
  BOOST_TEST((cell.on_intensity == defaults.on_intensity));
  BOOST_TEST((cell.during_restart == defaults.during_restart));
  BOOST_TEST(cell.hold_capacity == defaults.hold_capacity);
  BOOST_TEST(cell.max_pending == defaults.max_pending);
  BOOST_TEST((cell.request_timeout == defaults.request_timeout));
}

BOOST_AUTO_TEST_CASE(minimal_file_gives_root_hub_and_load_defaults) {
  const auto config = loaded(head);
  const ac::supervisor_spec root_defaults;
  BOOST_TEST(config.root.name == "root");
  BOOST_TEST((config.root.strategy == root_defaults.strategy));
  BOOST_TEST(config.root.max_restarts == root_defaults.max_restarts);
  BOOST_TEST((config.root.period == root_defaults.period));
  BOOST_TEST(config.root.children.empty());
  const tr::hub_config hub;
  BOOST_TEST(config.hub_path == "/dev/shm/cellhub-config-test");
  BOOST_TEST(config.hub.max_peers == hub.max_peers);
  BOOST_TEST(config.hub.ring_capacity == hub.ring_capacity);
  BOOST_TEST(config.hub.slot_classes.size() == hub.slot_classes.size());
  BOOST_TEST(config.load.rate == 0.0);
  BOOST_TEST(config.load.payload_bytes == 4096u);
  BOOST_TEST((config.load.timeout == 2s));
  BOOST_TEST(config.source == config_path());
}

BOOST_AUTO_TEST_CASE(partial_backoff_keeps_the_other_defaults) {
  const auto config = loaded(head + R"([[cell]]
name = "w"
binary = "cellhub-demo-cell"
backoff = { max = "1s" }
)");
  const auto& backoff = cell_at(config.root, 0).backoff;
  BOOST_TEST((backoff.min_delay == 10ms));
  BOOST_TEST((backoff.max_delay == 1s));
  BOOST_TEST(backoff.jitter == 0.2);
  BOOST_TEST((backoff.reset_after == 30s));
}

BOOST_AUTO_TEST_CASE(every_cell_key_is_read_into_the_spec) {
  const auto config = loaded(head + R"([[cell]]
name = "w"
binary = "cellhub-demo-cell"
args = ["--role", "worker"]
env = { B = "2", A = "1" }
restart = "transient"
start_timeout = "1500ms"
shutdown_timeout = "3s"
hang_timeout = "0s"
backoff = { min = "0s", max = "2s", jitter = 0, reset_after = "1m" }
on_intensity = "quarantine"
during_restart = "fail"
hold_capacity = 0
max_pending = 16
request_timeout = "250ms"
)");
  const auto& cell = cell_at(config.root, 0);
  BOOST_TEST(cell.args == (std::vector<std::string>{"--role", "worker"}),
             boost::test_tools::per_element());
  BOOST_REQUIRE(cell.env.size() == 2u);
  BOOST_TEST(cell.env[0].first == "A");
  BOOST_TEST(cell.env[1].second == "2");
  BOOST_TEST((cell.restart == ac::restart_type::transient));
  BOOST_TEST((cell.start_timeout == 1500ms));
  BOOST_TEST((cell.shutdown_timeout == 3s));
  BOOST_TEST((cell.hang_timeout == 0ms));
  BOOST_TEST((cell.backoff.min_delay == 0s));
  BOOST_TEST(cell.backoff.jitter == 0.0);
  BOOST_TEST((cell.backoff.reset_after == 1min));
  BOOST_TEST((cell.on_intensity == ac::intensity_action::quarantine));
  BOOST_TEST((cell.during_restart == ac::restart_delivery::fail));
  BOOST_TEST(cell.hold_capacity == 0u);
  BOOST_TEST(cell.max_pending == 16u);
  BOOST_TEST((cell.request_timeout == 250ms));
}

BOOST_AUTO_TEST_CASE(sizes_read_as_integers_or_binary_units) {
  BOOST_TEST(cli::parse_byte_size("512B").value_or(0) == 512u);
  BOOST_TEST(cli::parse_byte_size("4KiB").value_or(0) == 4096u);
  BOOST_TEST(cli::parse_byte_size("1MiB").value_or(0) == 1048576u);
  BOOST_TEST(cli::parse_byte_size("2GiB").value_or(0) == 2147483648u);
  BOOST_TEST(!cli::parse_byte_size("4KB"));
  BOOST_TEST(!cli::parse_byte_size("4"));
  BOOST_TEST(!cli::parse_byte_size("1.5KiB"));
  BOOST_TEST(!cli::parse_byte_size("-1B"));
  BOOST_TEST(!cli::parse_byte_size("4 KiB"));
  BOOST_TEST(cli::format_byte_size(16384) == "16KiB");
  BOOST_TEST(cli::format_byte_size(100) == "100B");
}

BOOST_AUTO_TEST_SUITE_END()

// --- (d) children order -----------------------------------------------------------------

BOOST_FIXTURE_TEST_SUITE(children_order, sandbox)

BOOST_AUTO_TEST_CASE(children_start_in_file_order_when_cells_and_groups_interleave) {
  const auto config = loaded(head + R"([[cell]]
name = "a"
binary = "cellhub-demo-cell"
[[group]]
name = "g"
[[group.cell]]
name = "g-a"
binary = "cellhub-demo-cell"
[[cell]]
name = "b"
binary = "cellhub-demo-cell"
[[group]]
name = "h"
[[cell]]
name = "c"
binary = "cellhub-demo-cell"
)");
  BOOST_TEST(child_names(config.root) == (std::vector<std::string>{"a", "g", "b", "h", "c"}),
             boost::test_tools::per_element());
  BOOST_TEST(child_names(group_at(config.root, 1)) == (std::vector<std::string>{"g-a"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(group_children_follow_the_file_inside_the_group_too) {
  const auto config = loaded(head + R"([[group]]
name = "g"
[[group.group]]
name = "inner"
[[group.cell]]
name = "x"
binary = "cellhub-demo-cell"
[[group.group]]
name = "inner-2"
[[group.cell]]
name = "y"
binary = "cellhub-demo-cell"
)");
  BOOST_TEST(child_names(group_at(config.root, 0)) ==
                 (std::vector<std::string>{"inner", "x", "inner-2", "y"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

// --- (e) binary lookup ------------------------------------------------------------------

BOOST_FIXTURE_TEST_SUITE(binary_lookup, sandbox)

BOOST_AUTO_TEST_CASE(bare_name_next_to_the_program_wins_over_path) {
  make_stub(root / "on-path" / "cellhub-demo-cell");
  const scoped_path path{(root / "on-path").string()};
  const auto config = loaded(head + "[[cell]]\nname = \"w\"\nbinary = \"cellhub-demo-cell\"\n");
  BOOST_TEST(cell_at(config.root, 0).binary == (bin / "cellhub-demo-cell").string());
}

BOOST_AUTO_TEST_CASE(bare_name_missing_next_to_the_program_is_found_on_path) {
  make_stub(root / "on-path" / "only-on-path");
  const scoped_path path{(root / "empty").string() + ":" + (root / "on-path").string()};
  const auto config = loaded(head + "[[cell]]\nname = \"w\"\nbinary = \"only-on-path\"\n");
  BOOST_TEST(cell_at(config.root, 0).binary == (root / "on-path" / "only-on-path").string());
}

BOOST_AUTO_TEST_CASE(non_executable_file_next_to_the_program_is_passed_over_for_path) {
  make_stub(bin / "shadowed", false);
  make_stub(root / "on-path" / "shadowed");
  const scoped_path path{(root / "on-path").string()};
  const auto config = loaded(head + "[[cell]]\nname = \"w\"\nbinary = \"shadowed\"\n");
  BOOST_TEST(cell_at(config.root, 0).binary == (root / "on-path" / "shadowed").string());
}

BOOST_AUTO_TEST_CASE(relative_path_is_relative_to_the_config_file_not_the_working_dir) {
  make_stub(root / "tools" / "cell");
  const auto file = root / "conf" / "cluster.toml";
  write_file(file, head + "[[cell]]\nname = \"w\"\nbinary = \"../tools/cell\"\n");
  auto result = cli::load_cluster_config(file, bin);
  BOOST_REQUIRE(std::holds_alternative<cli::cluster_config>(result));
  BOOST_TEST(cell_at(std::get<cli::cluster_config>(result).root, 0).binary ==
             (root / "tools" / "cell").string());
}

BOOST_AUTO_TEST_CASE(absolute_path_is_used_as_is) {
  make_stub(root / "elsewhere" / "cell");
  const auto config = loaded(head + "[[cell]]\nname = \"w\"\nbinary = \"" +
                             (root / "elsewhere" / "cell").string() + "\"\n");
  BOOST_TEST(cell_at(config.root, 0).binary == (root / "elsewhere" / "cell").string());
}

BOOST_AUTO_TEST_CASE(lookup_without_program_dir_searches_path_entries_in_order) {
  make_stub(root / "first" / "tool");
  make_stub(root / "second" / "tool");
  std::string problem;
  const auto found = cli::find_binary(
      "tool", root, {}, (root / "first").string() + ":" + (root / "second").string(), problem);
  BOOST_REQUIRE(found.has_value());
  BOOST_TEST(found->string() == (root / "first" / "tool").string());
}

BOOST_AUTO_TEST_CASE(lookup_failure_mentions_a_candidate_that_is_not_executable) {
  make_stub(bin / "plain", false);
  std::string problem;
  BOOST_TEST(!cli::find_binary("plain", root, bin, "", problem));
  BOOST_TEST(problem == "cannot find \"plain\" next to " + bin.string() + " or on PATH (\"" +
                            (bin / "plain").string() + "\" is not an executable file)");
}

BOOST_AUTO_TEST_SUITE_END()

// --- the [cluster] table ----------------------------------------------------------------

BOOST_FIXTURE_TEST_SUITE(cluster_table, sandbox)

// The lines of most files below: [cluster] on line 4, its keys from line 5.
std::string cluster_with(std::string_view keys) {
  return head + "[cluster]\n" + std::string{keys};
}

BOOST_AUTO_TEST_CASE(every_cluster_key_is_read_into_the_options) {
  const auto config = loaded(cluster_with(R"(node = "alpha-1"
listen = "[::1]:7101"
join = ["127.0.0.1:7102", "node-c.example:7103", "[fe80::1]:7104"]
heartbeat_interval = "100ms"
heartbeat_timeout = "2s"
join_retry = "1.5s"
)"));
  BOOST_REQUIRE(config.cluster.has_value());
  const auto& cluster = *config.cluster;
  BOOST_TEST(cluster.node == "alpha-1");
  BOOST_TEST(cluster.listen.host == "::1");
  BOOST_TEST(cluster.listen.port == 7101u);
  BOOST_REQUIRE(cluster.join.size() == 3u);
  BOOST_TEST(cluster.join[0].host == "127.0.0.1");
  BOOST_TEST(cluster.join[0].port == 7102u);
  BOOST_TEST(cluster.join[1].host == "node-c.example");
  BOOST_TEST(cluster.join[1].port == 7103u);
  BOOST_TEST(cluster.join[2].to_string() == "[fe80::1]:7104");
  BOOST_TEST((cluster.heartbeat_interval == 100ms));
  BOOST_TEST((cluster.heartbeat_timeout == 2s));
  BOOST_TEST((cluster.join_retry == 1500ms));
}

BOOST_AUTO_TEST_CASE(cluster_keys_left_out_keep_the_defaults_and_port_0_is_allowed) {
  const auto config = loaded(cluster_with("node = \"a\"\nlisten = \"127.0.0.1:0\"\n"));
  BOOST_REQUIRE(config.cluster.has_value());
  const cellhub::cluster::cluster_options defaults;
  BOOST_TEST(config.cluster->node == "a");
  BOOST_TEST(config.cluster->listen.host == "127.0.0.1");
  BOOST_TEST(config.cluster->listen.port == 0u);
  BOOST_TEST(config.cluster->join.empty());
  BOOST_TEST((config.cluster->heartbeat_interval == defaults.heartbeat_interval));
  BOOST_TEST((config.cluster->heartbeat_interval == 250ms));
  BOOST_TEST((config.cluster->heartbeat_timeout == 1s));
  BOOST_TEST((config.cluster->join_retry == 500ms));
  BOOST_TEST(!loaded(head).cluster);
}

BOOST_AUTO_TEST_CASE(missing_node_and_listen_are_reported_at_the_cluster_header) {
  BOOST_TEST(error_of(cluster_with("listen = \"127.0.0.1:7101\"\n")) ==
             at("4:1: cluster.node: missing required key"));
  BOOST_TEST(error_of(cluster_with("node = \"a\"\n")) ==
             at("4:1: cluster.listen: missing required key"));
}

BOOST_AUTO_TEST_CASE(bad_node_name_is_refused_at_the_node_key) {
  const auto with_node = [](std::string_view node) {
    return cluster_with("node = " + std::string{node} + "\nlisten = \"127.0.0.1:7101\"\n");
  };
  BOOST_TEST(error_of(with_node("\"a/b\"")) ==
             at("5:8: cluster.node: a node name has only letters, digits, '_', '.' and '-', "
                "not '/'"));
  BOOST_TEST(error_of(with_node("\"\"")) == at("5:8: cluster.node: a node name must not be empty"));
  BOOST_TEST(error_of(with_node('"' + std::string(65, 'n') + '"')) ==
             at("5:8: cluster.node: a node name has at most 64 characters, not 65"));
  // A byte that would garble the message (a NUL would cut it) is shown as a number.
  const auto nul = error_of(with_node("\"a\\u0000b\""));
  BOOST_TEST(nul == at("5:8: cluster.node: a node name has only letters, digits, '_', '.' and "
                       "'-', not the byte 0x00"));
  BOOST_TEST(nul.find('\0') == std::string::npos);
  BOOST_TEST(error_of(with_node("\"n\u00e9\"")) ==
             at("5:8: cluster.node: a node name has only letters, digits, '_', '.' and '-', "
                "not the byte 0xc3"));
  BOOST_TEST(error_of(with_node("7")) ==
             at("5:8: cluster.node: expected a string, found an integer"));
}

const std::string bad_address_hint = "; write HOST:PORT with a port within 0..65535, e.g. "
                                     "\"127.0.0.1:7101\" (\"[::1]:7101\" for IPv6)";

BOOST_AUTO_TEST_CASE(bad_listen_address_is_refused_at_the_listen_key) {
  const auto with_listen = [](std::string_view listen) {
    return cluster_with("node = \"a\"\nlisten = " + std::string{listen} + "\n");
  };
  for (const std::string text : {"127.0.0.1", "::1:7101", "host:", ":7101", "host:70000", "host:7x",
                                 "[127.0.0.1]:7101", "my host:7101", "[::1]"}) {
    BOOST_TEST(error_of(with_listen('"' + text + '"')) ==
               at("6:10: cluster.listen: bad address \"" + text + "\"" + bad_address_hint));
  }
  BOOST_TEST(error_of(with_listen("7101")) ==
             at("6:10: cluster.listen: expected a string, found an integer"));
  BOOST_TEST(error_of(with_listen("\"127.0.0.1\\u0000:7101\"")) ==
             at("6:10: cluster.listen: must not hold a NUL character (\\u0000): the "
                "operating system would cut the string there"));
}

BOOST_AUTO_TEST_CASE(bad_join_entry_is_refused_naming_its_index) {
  const auto with_join = [](std::string_view join) {
    return cluster_with("node = \"a\"\nlisten = \"127.0.0.1:7101\"\njoin = " + std::string{join} +
                        "\n");
  };
  BOOST_TEST(error_of(with_join(R"(["127.0.0.1:7102", "nowhere"])")) ==
             at("7:27: cluster.join[2]: bad address \"nowhere\"" + bad_address_hint));
  BOOST_TEST(error_of(with_join(R"(["127.0.0.1:7102", 7103])")) ==
             at("7:27: cluster.join[2]: expected a string, found an integer"));
  BOOST_TEST(error_of(with_join(R"("127.0.0.1:7102")")) ==
             at("7:8: cluster.join: expected an array, found a string"));
  BOOST_TEST(error_of(with_join(R"(["127.0.0.1:0"])")) ==
             at("7:9: cluster.join[1]: \"127.0.0.1:0\" has port 0, which no node listens on; "
                "write the other node's cluster port"));
  BOOST_TEST(error_of(with_join(R"(["127.0.0.1:7101"])")) ==
             at("7:9: cluster.join[1]: \"127.0.0.1:7101\" is this node's own listen address"));
}

BOOST_AUTO_TEST_CASE(duplicate_join_entry_is_refused_pointing_back_at_the_first) {
  BOOST_TEST(error_of(cluster_with(R"(node = "a"
listen = "127.0.0.1:7101"
join = ["127.0.0.1:7102", "[::1]:7103", "127.0.0.1:7102"]
)")) == at("7:41: cluster.join[3]: lists \"127.0.0.1:7102\" twice (also cluster.join[1])"));
  // Compared as addresses, not as text: a leading zero in the port is the same port.
  BOOST_TEST(error_of(cluster_with(R"(node = "a"
listen = "127.0.0.1:7101"
join = ["[::1]:7103", "[::1]:07103"]
)")) == at("7:23: cluster.join[2]: lists \"[::1]:7103\" twice (also cluster.join[1])"));
}

BOOST_AUTO_TEST_CASE(heartbeat_timeout_not_above_the_interval_is_refused_with_both_values) {
  const std::string node = "node = \"a\"\nlisten = \"127.0.0.1:7101\"\n";
  BOOST_TEST(error_of(cluster_with(node + "heartbeat_interval = \"1s\"\nheartbeat_timeout = "
                                          "\"1s\"\n")) ==
             at("8:21: cluster.heartbeat_timeout: heartbeat_timeout (1s) must be greater than "
                "heartbeat_interval (1s)"));
  BOOST_TEST(error_of(cluster_with(node + "heartbeat_timeout = \"200ms\"\n")) ==
             at("7:21: cluster.heartbeat_timeout: heartbeat_timeout (200ms) must be greater "
                "than heartbeat_interval (250ms)"));
  // Only the interval written: the error points at it and names the default timeout.
  BOOST_TEST(error_of(cluster_with(node + "heartbeat_interval = \"2s\"\n")) ==
             at("7:22: cluster.heartbeat_interval: heartbeat_interval (2s) must be less than "
                "heartbeat_timeout (1s, the default); set a longer heartbeat_timeout"));
}

BOOST_AUTO_TEST_CASE(zero_or_malformed_cluster_durations_are_refused) {
  const std::string node = "node = \"a\"\nlisten = \"127.0.0.1:7101\"\n";
  BOOST_TEST(error_of(cluster_with(node + "heartbeat_interval = \"0s\"\n")) ==
             at("7:22: cluster.heartbeat_interval: must be positive, got \"0s\""));
  BOOST_TEST(error_of(cluster_with(node + "join_retry = \"0ms\"\n")) ==
             at("7:14: cluster.join_retry: must be positive, got \"0ms\""));
  BOOST_TEST(error_of(cluster_with(node + "join_retry = 500\n")) ==
             at("7:14: cluster.join_retry: expected a duration such as \"250ms\", found an "
                "integer"));
  BOOST_TEST(error_of(cluster_with(node + "heartbeat_timeout = \"1 s\"\n")) ==
             at("7:21: cluster.heartbeat_timeout: bad duration \"1 s\"; write a number and a "
                "unit (ns, us, ms, s, m, h), e.g. \"250ms\""));
}

BOOST_AUTO_TEST_CASE(unknown_key_in_cluster_is_refused_and_there_is_no_tls_key) {
  BOOST_TEST(error_of(cluster_with(R"(node = "a"
listen = "127.0.0.1:7101"
tls = false
)")) == at("7:1: cluster.tls: unknown key; expected one of node, listen, join, "
           "heartbeat_interval, heartbeat_timeout, join_retry"));
}

BOOST_AUTO_TEST_CASE(cluster_written_as_an_array_of_tables_is_a_wrong_type) {
  BOOST_TEST(error_of(head + "[[cluster]]\nnode = \"a\"\n") ==
             at("4:1: cluster: expected a table, found an array"));
}

BOOST_AUTO_TEST_SUITE_END()

// --- describe -----------------------------------------------------------------------------

BOOST_FIXTURE_TEST_SUITE(describe_tree, sandbox)

BOOST_AUTO_TEST_CASE(describe_indents_supervisors_and_lists_each_cells_settings) {
  const auto config = loaded(head + R"([supervisor]
max_restarts = 5
period = "10s"
[[cell]]
name = "w"
binary = "cellhub-demo-cell"
args = ["--role", "a worker"]
env = { KEY = "value" }
[[group]]
name = "pool"
strategy = "simple_one_for_one"
replicas = 2
restart = "transient"
[[group.cell]]
name = "hasher"
binary = "cellhub-demo-cell"
hang_timeout = "0s"
backoff = { min = "0s" }
during_restart = "fail"
[load]
rate = 50
targets = ["w"]
)");
  const auto cell = (bin / "cellhub-demo-cell").string();
  const std::string expected =
      "config " + config_path().string() + "\n" +
      "hub /dev/shm/cellhub-config-test: 64 peers, rings of 256, slots 64x1KiB 16x16KiB "
      "4x256KiB 4x1MiB\n"
      "supervisor root: one_for_one, at most 5 restarts in 10s\n"
      "  cell w: restart permanent\n"
      "      binary   " +
      cell + "\n" +
      "      args     --role 'a worker'\n"
      "      env      KEY=value\n"
      "      timeouts start 2s, shutdown 1s, hang 3s\n"
      "      backoff  10ms..5s, jitter 0.2, reset after 30s\n"
      "      on intensity escalate, during restart hold (up to 64 messages)\n"
      "      requests up to 1024 waiting, each answered within 30s\n"
      "  supervisor pool: simple_one_for_one x2, at most 3 restarts in 5s, restart transient\n"
      "    cell hasher (replica template: hasher-1..hasher-2): restart permanent\n"
      "        binary   " +
      cell + "\n" +
      "        timeouts start 2s, shutdown 1s, hang never\n"
      "        backoff  none\n"
      "        on intensity escalate, during restart fail\n"
      "        requests up to 1024 waiting, each answered within 30s\n"
      "load 50 requests/s of 4KiB to w, timeout 2s\n";
  BOOST_TEST(cli::describe(config) == expected);
}

BOOST_AUTO_TEST_CASE(describe_ends_with_the_cluster_table) {
  const auto config = loaded(head + R"([cluster]
node = "alpha"
listen = "[::1]:7101"
join = ["127.0.0.1:7102", "node-c.example:7103"]
heartbeat_timeout = "3s"
)");
  const std::string expected = "config " + config_path().string() + "\n" +
                               "hub /dev/shm/cellhub-config-test: 64 peers, rings of 256, slots "
                               "64x1KiB 16x16KiB 4x256KiB 4x1MiB\n"
                               "supervisor root: one_for_one, at most 3 restarts in 5s\n"
                               "load none\n"
                               "cluster node alpha\n"
                               "    listen   [::1]:7101\n"
                               "    join     127.0.0.1:7102, node-c.example:7103\n"
                               "    heartbeat every 250ms, timeout 3s\n"
                               "    join retry every 500ms\n";
  BOOST_TEST(cli::describe(config) == expected);
  const auto alone =
      cli::describe(loaded(head + "[cluster]\nnode = \"b\"\nlisten = \"127.0.0.1:0\"\n"));
  BOOST_TEST(alone.find("cluster node b\n    listen   127.0.0.1:0\n    join     none\n") !=
                 std::string::npos,
             alone);
  BOOST_TEST(cli::describe(loaded(head)).find("\ncluster node") == std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

// --- (g) the user a cell runs as -----------------------------------------------------------

namespace {

// A host that may start cells as anyone: root with CAP_SETUID and CAP_SETGID.
cli::host_identity privileged_host() {
  return {.uid = 0, .gid = 0, .groups = {0}, .can_change = true};
}

// Root without CAP_SETUID and CAP_SETGID (a container that dropped them, say).
cli::host_identity root_without_capabilities() {
  return {.uid = 0, .gid = 0, .groups = {0}, .can_change = false};
}

struct account {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

// Looks `name` up the way the test's own expectations need it, independently of the loader.
account user_named(const char* name) {
  const passwd* pw = ::getpwnam(name);
  BOOST_TEST_REQUIRE(pw != nullptr, "the user database has no user \"" << name << "\"");
  return {pw->pw_name, pw->pw_uid, pw->pw_gid};
}

// Returns an id above every id the user and group databases know, so that the test can
// name one nobody has.
std::uint32_t unknown_id() {
  std::uint32_t id = 3999999990U;
  while (::getpwuid(id) != nullptr || ::getgrgid(id) != nullptr || ::getgrgid(id + 1) != nullptr)
    ++id;
  return id;
}

std::string cell_with(std::string_view keys) {
  return head + "[[cell]]\nname = \"w\"\nbinary = \"cellhub-demo-cell\"\n" + std::string{keys};
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(cell_user, sandbox)

BOOST_AUTO_TEST_CASE(user_by_name_runs_as_its_uid_with_its_primary_group_among_its_groups) {
  const auto nobody = user_named("nobody");
  const auto config = loaded_as(privileged_host(), cell_with("user = \"nobody\"\n"));
  const auto& user = cell_at(config.root, 0).user;
  BOOST_TEST_REQUIRE(user.has_value());
  BOOST_TEST(user->uid == nobody.uid);
  BOOST_TEST(user->gid == nobody.gid);
  BOOST_TEST(std::count(user->groups.begin(), user->groups.end(), nobody.gid) == 1);
}

BOOST_AUTO_TEST_CASE(group_by_name_replaces_the_primary_group) {
  const auto nobody = user_named("nobody");
  const auto config =
      loaded_as(privileged_host(), cell_with("user = \"nobody\"\ngroup = \"root\"\n"));
  const auto& user = cell_at(config.root, 0).user;
  BOOST_TEST_REQUIRE(user.has_value());
  BOOST_TEST(user->uid == nobody.uid);
  BOOST_TEST(user->gid == 0u);
  BOOST_TEST(std::count(user->groups.begin(), user->groups.end(), gid_t{0}) == 1);
}

BOOST_AUTO_TEST_CASE(numeric_user_id_with_an_entry_takes_its_primary_group) {
  const auto nobody = user_named("nobody");
  const auto config =
      loaded_as(privileged_host(), cell_with(fmt::format("user = {}\n", nobody.uid)));
  const auto& user = cell_at(config.root, 0).user;
  BOOST_TEST_REQUIRE(user.has_value());
  BOOST_TEST(user->uid == nobody.uid);
  BOOST_TEST(user->gid == nobody.gid);
}

BOOST_AUTO_TEST_CASE(root_naming_root_changes_nothing) {
  const auto config = loaded_as(privileged_host(), cell_with("user = \"root\"\n"));
  BOOST_TEST(!cell_at(config.root, 0).user);
}

BOOST_AUTO_TEST_CASE(numeric_ids_without_an_entry_are_taken_as_given_with_no_other_groups) {
  const auto id = unknown_id();
  for (const auto& keys : {fmt::format("user = {}\ngroup = {}\n", id, id + 1),
                           fmt::format("user = \"{}\"\ngroup = \"{}\"\n", id, id + 1)}) {
    BOOST_TEST_CONTEXT(keys) {
      const auto config = loaded_as(privileged_host(), cell_with(keys));
      const auto& user = cell_at(config.root, 0).user;
      BOOST_TEST_REQUIRE(user.has_value());
      BOOST_TEST(user->uid == id);
      BOOST_TEST(user->gid == id + 1);
      BOOST_TEST(user->groups.empty());
    }
  }
}

BOOST_AUTO_TEST_CASE(numeric_user_id_without_an_entry_needs_a_group) {
  const auto id = unknown_id();
  BOOST_TEST(error_as(privileged_host(), cell_with(fmt::format("user = {}\n", id))) ==
             at(fmt::format("7:8: cell[1].user: user id {} has no entry in the user database, so "
                            "it has no primary group; set group too",
                            id)));
}

BOOST_AUTO_TEST_CASE(unknown_user_is_refused_naming_file_line_and_key) {
  BOOST_TEST(error_as(privileged_host(), cell_with("user = \"cellhub-no-such-user\"\n")) ==
             at("7:8: cell[1].user: unknown user \"cellhub-no-such-user\": the user database "
                "(getpwnam) has no such user"));
}

BOOST_AUTO_TEST_CASE(unknown_group_is_refused_naming_file_line_and_key) {
  BOOST_TEST(error_as(privileged_host(),
                      cell_with("user = \"nobody\"\ngroup = \"cellhub-no-such-group\"\n")) ==
             at("8:9: cell[1].group: unknown group \"cellhub-no-such-group\": the group database "
                "(getgrnam) has no such group"));
}

BOOST_AUTO_TEST_CASE(group_without_user_is_refused) {
  BOOST_TEST(error_as(privileged_host(), cell_with("group = \"root\"\n")) ==
             at("7:9: cell[1].group: needs user: a cell without user runs as the host runs; "
                "write user = ... too (the host's own user needs no privilege)"));
}

BOOST_AUTO_TEST_CASE(impossible_user_and_group_values_are_refused_at_their_key) {
  const auto host = privileged_host();
  BOOST_TEST(error_as(host, cell_with("user = -1\n")) ==
             at("7:8: cell[1].user: user id must be within 0..4294967294, got -1"));
  BOOST_TEST(error_as(host, cell_with("user = 4294967295\n")) ==
             at("7:8: cell[1].user: user id must be within 0..4294967294, got 4294967295"));
  BOOST_TEST(error_as(host, cell_with("user = \"4294967295\"\n")) ==
             at("7:8: cell[1].user: user id 4294967295 is out of range: ids go up to "
                "4294967294"));
  BOOST_TEST(error_as(host, cell_with("user = \"nobody\"\ngroup = 4294967295\n")) ==
             at("8:9: cell[1].group: group id must be within 0..4294967294, got 4294967295"));
  BOOST_TEST(error_as(host, cell_with("user = \"nobody\"\ngroup = \"99999999999\"\n")) ==
             at("8:9: cell[1].group: group id 99999999999 is out of range: ids go up to "
                "4294967294"));
  BOOST_TEST(error_as(host, cell_with("user = true\n")) ==
             at("7:8: cell[1].user: expected a user name or a numeric user id, found a boolean"));
  BOOST_TEST(error_as(host, cell_with("user = \"nobody\"\ngroup = 1.5\n")) ==
             at("8:9: cell[1].group: expected a group name or a numeric group id, found a float"));
  BOOST_TEST(error_as(host, cell_with("user = \"\"\n")) ==
             at("7:8: cell[1].user: must not be empty"));
  BOOST_TEST(error_as(host, cell_with("user = \"nobody\"\ngroup = \"\"\n")) ==
             at("8:9: cell[1].group: must not be empty"));
  BOOST_TEST(error_as(host, cell_with("user = \"nob\\u0000ody\"\n")) ==
             at("7:8: cell[1].user: must not hold a NUL character (\\u0000): the operating "
                "system would cut the string there"));
}

BOOST_AUTO_TEST_CASE(another_user_needs_root_and_the_error_names_the_cell_and_the_privilege) {
  const auto nobody = user_named("nobody");
  BOOST_TEST(error_as(root_without_capabilities(), cell_with("user = \"nobody\"\n")) ==
             at(fmt::format("7:8: cell[1].user: cell \"w\" wants to run as user {} ({}); that "
                            "needs root (or CAP_SETUID/CAP_SETGID), and this cellhub runs as "
                            "root (0) without them",
                            nobody.name, nobody.uid)));
}

BOOST_AUTO_TEST_CASE(the_hosts_own_user_needs_no_privilege_and_changes_nothing) {
  const auto nobody = user_named("nobody");
  const cli::host_identity host{
      .uid = nobody.uid, .gid = nobody.gid, .groups = {nobody.gid}, .can_change = false};
  // Written by name, by id and with its own group, it is the host's identity: the cell
  // runs as the host runs, which needs no privilege.
  for (const auto& keys : {std::string{"user = \"nobody\"\n"},
                           fmt::format("user = {}\ngroup = {}\n", nobody.uid, nobody.gid)}) {
    BOOST_TEST_CONTEXT(keys) {
      const auto config = loaded_as(host, cell_with(keys));
      BOOST_TEST(!cell_at(config.root, 0).user);
    }
  }
  // A host that runs with the root group too would have to leave it: that is a change.
  const cli::host_identity more_groups{
      .uid = nobody.uid, .gid = nobody.gid, .groups = {nobody.gid, 0}, .can_change = false};
  const auto error = error_as(more_groups, cell_with("user = \"nobody\"\n"));
  BOOST_TEST(error.find("7:8: cell[1].user: cell \"w\" wants to run as user " + nobody.name) !=
                 std::string::npos,
             error);
  BOOST_TEST(error.find("(the user's groups differ from the ones this cellhub runs with)") !=
                 std::string::npos,
             error);
}

BOOST_AUTO_TEST_CASE(the_hosts_own_user_with_another_group_needs_root_and_points_at_group) {
  const auto nobody = user_named("nobody");
  const cli::host_identity host{
      .uid = nobody.uid, .gid = nobody.gid, .groups = {nobody.gid}, .can_change = false};
  BOOST_TEST(error_as(host, cell_with("user = \"nobody\"\ngroup = \"root\"\n")) ==
             at(fmt::format("8:9: cell[1].group: cell \"w\" wants to run as user {0} ({1}) and "
                            "group root (0); that needs root (or CAP_SETUID/CAP_SETGID), and "
                            "this cellhub runs as {0} ({1}) without them",
                            nobody.name, nobody.uid)));
}

BOOST_AUTO_TEST_CASE(a_pool_template_with_a_user_gives_it_to_every_replica) {
  const auto nobody = user_named("nobody");
  const auto config = loaded_as(privileged_host(), head + R"([[group]]
name = "pool"
strategy = "simple_one_for_one"
replicas = 2
[[group.cell]]
name = "w"
binary = "cellhub-demo-cell"
user = "nobody"
)");
  const auto& templ = cell_at(group_at(config.root, 0), 0);
  BOOST_TEST_REQUIRE(templ.user.has_value());
  BOOST_TEST(templ.user->uid == nobody.uid);
  BOOST_TEST(error_as(privileged_host(), head + R"([[group]]
name = "pool"
strategy = "simple_one_for_one"
[[group.cell]]
name = "w"
binary = "cellhub-demo-cell"
user = "cellhub-no-such-user"
)") == at("10:8: group[1].cell[1].user: unknown user \"cellhub-no-such-user\": the user "
          "database (getpwnam) has no such user"));
}

BOOST_AUTO_TEST_CASE(describe_shows_the_user_and_group_a_cell_runs_as) {
  const auto nobody = user_named("nobody");
  const auto config =
      loaded_as(privileged_host(), cell_with("user = \"nobody\"\ngroup = \"root\"\n"));
  const auto text = cli::describe(config);
  const auto line =
      fmt::format("      user     {} ({}), group root (0)\n", nobody.name, nobody.uid);
  BOOST_TEST(text.find("      binary   " + (bin / "cellhub-demo-cell").string() + "\n" + line) !=
                 std::string::npos,
             text);
}

BOOST_AUTO_TEST_CASE(describe_lists_the_other_groups_a_cell_runs_in) {
  const auto id = unknown_id();
  auto config =
      loaded_as(privileged_host(), cell_with(fmt::format("user = {}\ngroup = {}\n", id, id + 1)));
  auto& cell = std::get<ac::cell_spec>(config.root.children.at(0).what);
  BOOST_TEST_REQUIRE(cell.user.has_value());
  cell.user->groups = {id + 1, 0};
  const auto text = cli::describe(config);
  BOOST_TEST(text.find(fmt::format("      user     {}, group {}, also in root (0)\n", id,
                                   id + 1)) != std::string::npos,
             text);
}

BOOST_AUTO_TEST_CASE(cell_spec_refuses_the_ids_the_kernel_reads_as_no_change) {
  ac::cell_spec spec;
  spec.name = "w";
  spec.binary = "/bin/true";
  spec.user = tr::spawn_identity{65534, 65534, {}};
  BOOST_TEST(!spec.validate());
  spec.user->uid = static_cast<uid_t>(-1);
  BOOST_TEST(spec.validate().value_or("") ==
             "cell 'w': user and group ids must not be -1 (4294967295)");
  spec.user = tr::spawn_identity{65534, static_cast<gid_t>(-1), {}};
  BOOST_TEST(spec.validate().value_or("") ==
             "cell 'w': user and group ids must not be -1 (4294967295)");
  spec.user = tr::spawn_identity{65534, 65534, {65534, static_cast<gid_t>(-1)}};
  BOOST_TEST(spec.validate().value_or("") ==
             "cell 'w': user and group ids must not be -1 (4294967295)");
}

BOOST_AUTO_TEST_SUITE_END()

// --- (h) who this process is -------------------------------------------------------------

namespace {

// Runs `check` in a child process after `prepare` (which changes who the child is);
// returns the child's exit code: 0 when `check` held, 1 when it did not, 2 when `prepare`
// failed. The child is this single-threaded test process, so it may allocate.
template <class Prepare, class Check>
int in_child(Prepare prepare, Check check) {
  const pid_t child = ::fork();
  if (child == 0)
    ::_exit(!prepare() ? 2 : check() ? 0 : 1);
  int status = 0;
  BOOST_TEST_REQUIRE(::waitpid(child, &status, 0) == child);
  BOOST_TEST_REQUIRE(WIFEXITED(status));
  return WEXITSTATUS(status);
}

boost::test_tools::assertion_result runs_as_root(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result root{::geteuid() == 0};
  root.message() << "skipped: changing who a process is needs root, and this test runs as uid "
                 << ::geteuid();
  return root;
}

} // namespace

BOOST_AUTO_TEST_SUITE(host_identity, *boost::unit_test::precondition(runs_as_root))

BOOST_AUTO_TEST_CASE(root_with_its_capabilities_may_change_identity) {
  const auto host = cli::host_identity::current();
  BOOST_TEST(host.uid == 0u);
  BOOST_TEST(host.can_change);
}

BOOST_AUTO_TEST_CASE(root_without_cap_setuid_may_not_change_identity) {
  const auto drop = [] {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
    if (::syscall(SYS_capget, &header, data) != 0)
      return false;
    data[0].effective &= ~(1U << CAP_SETUID);
    return ::syscall(SYS_capset, &header, data) == 0;
  };
  const auto check = [] {
    const auto host = cli::host_identity::current();
    return host.uid == 0 && !host.can_change;
  };
  BOOST_TEST(in_child(drop, check) == 0);
}

BOOST_AUTO_TEST_CASE(another_user_may_not_change_identity_and_is_seen_as_itself) {
  const auto nobody = user_named("nobody");
  const auto become = [&] {
    const gid_t groups[] = {nobody.gid};
    return ::setgroups(1, groups) == 0 && ::setgid(nobody.gid) == 0 && ::setuid(nobody.uid) == 0;
  };
  const auto check = [&] {
    const auto host = cli::host_identity::current();
    return host.uid == nobody.uid && host.gid == nobody.gid &&
           host.groups == std::vector<gid_t>{nobody.gid} && !host.can_change;
  };
  BOOST_TEST(in_child(become, check) == 0);
}

BOOST_AUTO_TEST_SUITE_END()
