// Configurations the config_loader fuzz target (test/fuzz) found the loader getting wrong,
// each kept here as a plain test.

#include "cellhub/cli/cluster_config.hpp"

#include <boost/test/unit_test.hpp>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>

namespace cli = cellhub::cli;
namespace fs = std::filesystem;

namespace {

/// Holds a fresh directory with an executable `cellhub-demo-cell` stub, the program directory
/// of the loads below; removes it at the end.
struct stub_dir {
  fs::path root;

  stub_dir() {
    std::string pattern = (fs::temp_directory_path() / "cellhub-config-fuzz-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr)
      throw std::runtime_error("mkdtemp failed");
    root = pattern;
    write("cellhub-demo-cell", "#!/bin/sh\nexit 0\n");
    fs::permissions(root / "cellhub-demo-cell", fs::perms::owner_all, fs::perm_options::replace);
  }
  ~stub_dir() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
  stub_dir(const stub_dir&) = delete;
  stub_dir& operator=(const stub_dir&) = delete;

  fs::path write(std::string_view name, std::string_view text) const {
    std::ofstream out{root / name, std::ios::binary | std::ios::trunc};
    out << text;
    return root / name;
  }

  cli::load_result load(std::string_view text) const {
    return cli::load_cluster_config(write("cluster.toml", text), root);
  }
};

constexpr std::string_view small_slots = R"(version = 1
[hub]
path = "/dev/shm/cellhub-fuzz-finding"
[[hub.slot_class]]
size = "1KiB"
count = 4
[[cell]]
name = "a"
binary = "cellhub-demo-cell"
)";

} // namespace

BOOST_AUTO_TEST_SUITE(config_fuzz_findings)

// The load's default payload (4 KiB) was never checked against the slot classes: with every
// slot smaller, the run started and every request of its load failed.
BOOST_AUTO_TEST_CASE(default_load_payload_that_fits_no_slot_is_refused_at_the_load_table) {
  const stub_dir dir;
  const auto loaded = dir.load(std::string{small_slots} + "[load]\nrate = 5\n");
  const auto* error = std::get_if<cli::config_error>(&loaded);
  BOOST_TEST_REQUIRE(error != nullptr);
  BOOST_TEST(error->key == "load.payload");
  BOOST_TEST(error->line == 10u); // the [load] header
  BOOST_TEST(error->message.find("4KiB") != std::string::npos);
  BOOST_TEST(error->message.find("1KiB") != std::string::npos);

  // A payload that fits, or no load at all, is accepted with the same slots.
  BOOST_TEST(std::holds_alternative<cli::cluster_config>(
      dir.load(std::string{small_slots} + "[load]\nrate = 5\npayload = \"1KiB\"\n")));
  BOOST_TEST(std::holds_alternative<cli::cluster_config>(dir.load(small_slots)));
}

BOOST_AUTO_TEST_SUITE_END()
