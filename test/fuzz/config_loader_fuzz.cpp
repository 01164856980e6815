// Fuzzes the configuration loader: any text as a TOML file → load_cluster_config.
//
// The loader must never throw, crash or hang. A file it accepts must hold a tree the
// libraries take as it is (every spec validates, the hub layout computes, names are unique
// across the tree and its pool replicas, the cells fit the peer table, every binary is an
// absolute path to an executable, the load fits the largest slot), and describe() renders
// it. A file it refuses must be refused with a message that names the file and a place
// inside it.
//
// The text goes to a file in a private directory that also holds an executable named
// `cellhub-demo-cell` (the shipped configs' binary), which is the program directory and
// the only PATH entry, so that the lookup is the same on every machine.

#include "fuzz_input.hpp"

#include "cellhub/cli/cluster_config.hpp"
#include "cellhub/transport/hub_geometry.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <set>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;
namespace ac = cellhub::actors;
namespace cli = cellhub::cli;

struct sandbox {
  fs::path dir;
  fs::path config;

  sandbox() {
    char name[] = "/tmp/cellhub-fuzz-config-XXXXXX";
    FUZZ_CHECK(::mkdtemp(name) != nullptr, "mkdtemp failed");
    dir = name;
    config = dir / "cluster.toml";
    for (const char* binary : {"cellhub-demo-cell", "worker"}) {
      const auto path = dir / binary;
      const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
      FUZZ_CHECK(fd >= 0 && ::write(fd, "#!/bin/sh\n", 10) == 10, "cannot write {}", path.string());
      ::close(fd);
    }
    ::setenv("PATH", dir.c_str(), 1);
  }

  // Removes exactly what the constructor made (and the config file the runs wrote).
  ~sandbox() {
    ::unlink((dir / "cellhub-demo-cell").c_str());
    ::unlink((dir / "worker").c_str());
    ::unlink(config.c_str());
    ::rmdir(dir.c_str());
  }
};

sandbox& box() {
  static sandbox instance;
  return instance;
}

void collect_names(const ac::supervisor_spec& spec, std::vector<std::string>& names,
                   std::size_t& cells) {
  names.push_back(spec.name);
  for (const auto& child : spec.children) {
    if (const auto* sub = std::get_if<ac::supervisor_spec>(&child.what)) {
      collect_names(*sub, names, cells);
      continue;
    }
    const auto& cell = std::get<ac::cell_spec>(child.what);
    FUZZ_CHECK(fs::path{cell.binary}.is_absolute() && ::access(cell.binary.c_str(), X_OK) == 0,
               "cell '{}' runs '{}', not an absolute executable", cell.name, cell.binary);
    if (spec.strategy == ac::restart_strategy::simple_one_for_one) {
      names.push_back(cell.name); // the template's name is taken too
      for (std::size_t n = 1; n <= spec.replicas; ++n)
        names.push_back(fmt::format("{}-{}", cell.name, n));
      cells += spec.replicas;
    } else {
      names.push_back(cell.name);
      ++cells;
    }
  }
}

void check_accepted(const cli::cluster_config& config) {
  FUZZ_CHECK(!config.hub_path.empty() && fs::path{config.hub_path}.is_absolute() &&
                 config.hub_path.find('\0') == std::string::npos,
             "hub path \"{}\" accepted", config.hub_path);
  auto geometry = cellhub::transport::hub_geometry::compute(config.hub);
  FUZZ_CHECK(geometry.has_value(), "accepted a hub the transport refuses: {}",
             geometry.error().message());
  const auto problem = config.root.validate();
  FUZZ_CHECK(!problem, "accepted a tree that does not validate: {}", problem.value_or(""));
  std::vector<std::string> names;
  std::size_t cells = 0;
  collect_names(config.root, names, cells);
  std::set<std::string> unique(names.begin(), names.end());
  FUZZ_CHECK(unique.size() == names.size(), "accepted a tree with a name used twice");
  FUZZ_CHECK(cells <= config.hub.max_peers, "accepted {} cells for {} peers", cells,
             config.hub.max_peers);
  FUZZ_CHECK(std::isfinite(config.load.rate) && config.load.rate >= 0, "load rate {}",
             config.load.rate);
  // A load that sends must fit its payload in a slot (the default payload too).
  FUZZ_CHECK(config.load.rate == 0 ||
                 config.load.payload_bytes <= config.hub.slot_classes.back().slot_size,
             "load of {} requests/s with a payload of {} bytes, largest slot {}", config.load.rate,
             config.load.payload_bytes, config.hub.slot_classes.back().slot_size);
  for (const auto& target : config.load.targets)
    FUZZ_CHECK(unique.count(target) == 1, "load target '{}' names nothing", target);
  FUZZ_CHECK(!cli::describe(config).empty(), "describe() rendered nothing");
}

void check_refused(const cli::config_error& error, const std::string& text) {
  FUZZ_CHECK(error.file == box().config, "error names {}, not the file", error.file.string());
  FUZZ_CHECK(!error.message.empty(), "error without a message");
  const auto lines = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
  FUZZ_CHECK(error.line <= lines, "error at line {} of a {}-line file", error.line, lines);
  FUZZ_CHECK(error.line == 0 || error.column >= 1, "error at line {} column 0", error.line);
  FUZZ_CHECK(!error.to_string().empty(), "error renders as nothing");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto& where = box();
  const std::string text(reinterpret_cast<const char*>(data), size);
  const int fd = ::open(where.config.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  FUZZ_CHECK(fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(size),
             "cannot write {}", where.config.string());
  ::close(fd);

  auto loaded = cli::load_cluster_config(where.config, where.dir);
  if (const auto* config = std::get_if<cli::cluster_config>(&loaded))
    check_accepted(*config);
  else
    check_refused(std::get<cli::config_error>(loaded), text);
  return 0;
}
