// Children started from a sealed exec-only copy of their binary
// (spawn_options::sealed_image, transport/src/exec_image.cpp): the kernel makes them
// non-dumpable from exec, they cannot read the copy, the copy follows the file on disk,
// and a file the child may not exec is refused as exec would refuse it.
//
// The test process gives up every capability first when it runs as root: root with
// CAP_DAC_OVERRIDE may read an exec-only file, and the kernel then leaves its child
// dumpable (the isolation is meant for hosts of one user without privilege).
#define BOOST_TEST_MODULE cellhub
#include "capabilities.hpp"
#include "hub_path.hpp"
#include "owned_pipe.hpp"
#include "scratch_dir.hpp"

#include "cellhub/transport/hub_host.hpp"
#include "cellhub/transport/peer_transport.hpp"
#include "cellhub/transport/process.hpp"

#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#ifndef SPAWN_PROBE_PATH
#error "SPAWN_PROBE_PATH must name the spawn_probe helper executable"
#endif
#ifndef TEST_CELL_PATH
#error "TEST_CELL_PATH must name the test cell executable"
#endif

namespace tr = cellhub::transport;
namespace shm = cellhub::transport::shm;
namespace fs = std::filesystem;
using cellhub::test::owned_pipe;
using cellhub::test::scratch_dir;
using namespace std::chrono_literals;

namespace {

// Only catches hangs: every wait below ends in milliseconds on a quiet machine.
constexpr auto hang_bound = 30s;

// Makes this process "a user without privilege" (see the comment at the top).
// Irreversible; every case of this suite wants it.
void become_unprivileged() {
  const auto failure = cellhub::test::drop_all_capabilities();
  BOOST_TEST_REQUIRE(failure.empty(), failure);
}

// What the probe saw of itself right after exec.
struct image_report {
  int dumpable = -1;
  bool exe_readable = true;
  std::string exe;
};

// Spawns the probe at `binary` in "image" mode and returns what it reported.
image_report probe_image(const std::string& binary, bool sealed) {
  owned_pipe report;
  tr::spawn_options options{.binary = binary, .args = {"image", "3"}};
  options.inherit = {{report.write_end, 3}};
  options.sealed_image = sealed;
  auto child = tr::process::spawn(options);
  BOOST_TEST_REQUIRE(child.has_value(), (child ? "" : child.error().message()));
  const auto text = report.read_all(hang_bound);
  auto status = child.value().wait_for(hang_bound);
  BOOST_TEST_REQUIRE(status.has_value(), (status ? "" : status.error().message()));
  BOOST_TEST_REQUIRE(status.value().clean(), status.value() << "; reported " << text);
  image_report seen;
  int readable = 1;
  std::istringstream in{text};
  in >> seen.dumpable >> readable >> seen.exe;
  BOOST_TEST_REQUIRE(!in.fail(), "unreadable report: " << text);
  seen.exe_readable = readable != 0;
  return seen;
}

// Spawns `binary` with `args` and returns how it ended.
tr::exit_status run(const fs::path& binary, std::vector<std::string> args = {}) {
  auto child = tr::process::spawn({.binary = binary.string(), .args = std::move(args)});
  BOOST_TEST_REQUIRE(child.has_value(), (child ? "" : child.error().message()));
  auto status = child.value().wait_for(hang_bound);
  BOOST_TEST_REQUIRE(status.has_value(), (status ? "" : status.error().message()));
  return status.value();
}

// Puts a copy of `source` at `target` with `mode`: a new file renamed over the old one
// (a new inode), or the old one rewritten in place.
enum class replace { by_rename, in_place };
void install(const fs::path& source, const fs::path& target, fs::perms mode, replace how) {
  const auto written = how == replace::by_rename ? fs::path{target.string() + ".new"} : target;
  fs::copy_file(source, written, fs::copy_options::overwrite_existing);
  fs::permissions(written, mode, fs::perm_options::replace);
  if (how == replace::by_rename)
    fs::rename(written, target);
}

std::string comm_of(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/comm"};
  std::string name;
  std::getline(in, name);
  return name;
}

} // namespace

BOOST_AUTO_TEST_SUITE(exec_image)

BOOST_AUTO_TEST_CASE(child_of_a_sealed_image_is_not_dumpable_from_exec_and_cannot_read_it) {
  become_unprivileged();
  const auto seen = probe_image(SPAWN_PROBE_PATH, true);
  BOOST_TEST(seen.dumpable == 0);
  BOOST_TEST(!seen.exe_readable);
  BOOST_TEST(seen.exe.starts_with("/memfd:cellhub-image"), seen.exe);
}

BOOST_AUTO_TEST_CASE(child_started_from_its_path_is_dumpable_until_it_says_otherwise) {
  become_unprivileged();
  const auto seen = probe_image(SPAWN_PROBE_PATH, false);
  BOOST_TEST(seen.dumpable == 1);
  BOOST_TEST(seen.exe_readable);
  BOOST_TEST(seen.exe == fs::canonical(SPAWN_PROBE_PATH).string());
}

BOOST_AUTO_TEST_CASE(exec_only_binary_runs_from_its_path_and_is_not_dumpable) {
  become_unprivileged();
  // The host may not read it, so it makes no copy: exec of the file itself already
  // leaves the child non-dumpable.
  scratch_dir scratch{"cellhub-exec-image"};
  const auto probe = scratch.dir / "probe";
  install(SPAWN_PROBE_PATH, probe, fs::perms::owner_exec, replace::in_place);
  const auto seen = probe_image(probe.string(), true);
  BOOST_TEST(seen.dumpable == 0);
  BOOST_TEST(!seen.exe_readable);
  BOOST_TEST(seen.exe == probe.string());
}

BOOST_AUTO_TEST_CASE(binary_changed_on_disk_is_copied_again) {
  become_unprivileged();
  scratch_dir scratch{"cellhub-exec-image"};
  const auto tool = scratch.dir / "tool";
  const auto executable = fs::perms::owner_all; // rewritten in place below
  // true and false ignore their arguments; the probe exits with the code it is given.
  const std::vector<std::string> args{"exit", "5"};
  install("/bin/true", tool, executable, replace::in_place);
  BOOST_TEST(run(tool, args).code == 0);
  BOOST_TEST(run(tool, args).code == 0); // the same copy again
  install("/bin/false", tool, executable, replace::by_rename);
  BOOST_TEST(run(tool, args).code == 1);
  install(SPAWN_PROBE_PATH, tool, executable, replace::in_place);
  BOOST_TEST(run(tool, args).code == 5);
}

BOOST_AUTO_TEST_CASE(script_runs_from_its_path) {
  become_unprivileged();
  // Its interpreter must read it, so it cannot be exec-only.
  scratch_dir scratch{"cellhub-exec-image"};
  const auto script = scratch.write("script.sh", "#!/bin/sh\nexit 7\n");
  fs::permissions(script, fs::perms::owner_read | fs::perms::owner_exec, fs::perm_options::replace);
  BOOST_TEST(run(script).code == 7);
}

BOOST_AUTO_TEST_CASE(file_the_child_may_not_exec_is_refused_as_exec_would_refuse_it) {
  become_unprivileged();
  // The copy is executable by anyone; a binary without the x bit must not run anyway.
  scratch_dir scratch{"cellhub-exec-image"};
  const auto tool = scratch.dir / "not-executable";
  install("/bin/true", tool, fs::perms::owner_read | fs::perms::owner_write, replace::in_place);
  for (const bool sealed : {true, false}) {
    auto child = tr::process::spawn({.binary = tool.string(), .sealed_image = sealed});
    BOOST_TEST_REQUIRE(!child.has_value(), "sealed " << sealed);
    BOOST_TEST((child.error().code == tr::errc::spawn_failed));
    BOOST_TEST(child.error().sys_errno == EACCES, child.error().message());
    BOOST_TEST(child.error().detail.find("execve failed") != std::string::npos,
               child.error().detail);
  }
}

BOOST_AUTO_TEST_CASE(cell_started_from_a_sealed_image_is_named_after_its_program) {
  become_unprivileged();
  // The kernel names it after the memfd; `ps` and `pgrep` expect the program's name.
  auto hub = tr::hub_host::create(cellhub::test::unique_hub_path("exec-image-comm"));
  BOOST_TEST_REQUIRE(hub.has_value(), (hub ? "" : hub.error().message()));
  auto cell = hub.value()->spawn_peer({.peer_name = "named"},
                                      {.binary = TEST_CELL_PATH, .args = {"--mode=idle"}});
  BOOST_TEST_REQUIRE(cell.has_value(), (cell ? "" : cell.error().message()));
  auto ready = cell.value()->receive(hang_bound);
  BOOST_TEST_REQUIRE(ready.has_value(), (ready ? "" : ready.error().message()));
  BOOST_TEST_REQUIRE((ready.value().kind == shm::message_kind::ready));
  // The kernel keeps the first 15 bytes of a name.
  const auto program = fs::path{TEST_CELL_PATH}.filename().string().substr(0, 15);
  auto& child = *cell.value()->child();
  BOOST_TEST(comm_of(child.pid()) == program);
  BOOST_TEST_REQUIRE(child.send_signal(SIGKILL).has_value());
  BOOST_TEST_REQUIRE(child.wait_for(hang_bound).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
