// What a host may remove or create at a hub path (inspect_hub_site and
// hub_file::create share the rules): only a provable stale hub is removed; anything
// else is refused and left byte for byte; the space is checked and reserved.
#include "hub_path.hpp"
#include "log_capture.hpp"

#include "cellhub/transport/hub_geometry.hpp"
#include "cellhub/transport/hub_host.hpp"
#include "cellhub/transport/hub_site.hpp"
#include "cellhub/transport/memory_budget.hpp"
#include "cellhub/transport/shm_layout.hpp"

#include <boost/test/unit_test.hpp>

#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

namespace tr = cellhub::transport;
namespace shm = cellhub::transport::shm;
using cellhub::test::unique_hub_path;
using namespace std::string_literals;

namespace {

std::uint64_t default_hub_size() {
  return tr::hub_geometry::compute(tr::hub_config{}).value().file_size;
}

// Writes `bytes` to a new file at `path`.
void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out{path, std::ios::binary | std::ios::trunc};
  out << bytes;
  BOOST_TEST_REQUIRE(static_cast<bool>(out));
}

// Returns the whole content of the file at `path`.
std::string read_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

// Returns the bytes of a hub a dead host left: a header with the magic, `major` and
// `header_size`, zero-padded to `file_size` bytes.
std::string hub_like_bytes(std::uint64_t file_size, std::uint64_t header_size,
                           std::uint16_t major = shm::version_major) {
  shm::hub_header header{};
  std::memcpy(header.magic, shm::magic, sizeof(header.magic));
  header.version_major = major;
  header.version_minor = shm::version_minor;
  header.file_size = header_size;
  header.host_pid = 999'999;
  std::string bytes(file_size, '\0');
  std::memcpy(bytes.data(), &header, std::min<std::size_t>(sizeof(header), file_size));
  return bytes;
}

// Writes a stale hub: the file a host killed before it could remove it leaves.
void write_stale_hub(const std::string& path, std::uint64_t size = 64 * 1024) {
  write_file(path, hub_like_bytes(size, size));
}

// Expects hub_host::create at `path` to fail with `code` and a message holding
// `text`, and the file to keep `content` byte for byte.
void expect_refused_and_kept(const std::string& path, tr::errc code, const std::string& text,
                             const std::string& content) {
  cellhub::test::log_capture log;
  auto hub = tr::hub_host::create(path);
  BOOST_TEST_REQUIRE(!hub.has_value());
  BOOST_TEST(hub.error().code == code);
  BOOST_TEST(hub.error().message().find(text) != std::string::npos, hub.error().message());
  BOOST_TEST(read_file(path) == content);
  BOOST_TEST(log.count("removed") == 0u);
}

// Creates and removes a fresh directory for files that are not hubs.
class scratch_dir {
public:
  scratch_dir()
      : path_{unique_hub_path("dir")} {
    BOOST_TEST_REQUIRE(::mkdir(path_.c_str(), 0700) == 0);
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
  ~scratch_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  [[nodiscard]] std::string file(const std::string& name) const { return path_ + "/" + name; }
  [[nodiscard]] const std::string& path() const { return path_; }

private:
  std::string path_;
};

} // namespace

BOOST_AUTO_TEST_SUITE(hub_site)

// --- hub_file::create: refusals -----------------------------------------------

BOOST_AUTO_TEST_CASE(text_file_at_the_hub_path_is_refused_and_kept) {
  scratch_dir dir;
  const auto path = dir.file("important.db");
  const std::string data(10'000, 'd'); // bigger than a header
  write_file(path, data);
  expect_refused_and_kept(
      path, tr::errc::path_occupied,
      path + " exists and is not a cellhub hub (no CELLHUB magic); refusing to remove it", data);
}

BOOST_AUTO_TEST_CASE(file_with_the_magic_but_another_size_is_refused_and_kept) {
  scratch_dir dir;
  const auto path = dir.file("wrong-size");
  const auto data = hub_like_bytes(8192, 4096);
  write_file(path, data);
  expect_refused_and_kept(path, tr::errc::path_occupied,
                          "not a cellhub hub (its header says 4096 bytes, the file has 8192)",
                          data);
}

BOOST_AUTO_TEST_CASE(hub_of_another_major_layout_version_is_refused_and_kept) {
  scratch_dir dir;
  // A newer layout, and the older one (version 1 mapped a whole file into every cell).
  for (const std::uint16_t major : {std::uint16_t(shm::version_major + 1), std::uint16_t{1}}) {
    const auto path = dir.file("v" + std::to_string(major));
    const auto data = hub_like_bytes(8192, 8192, major);
    write_file(path, data);
    expect_refused_and_kept(path, tr::errc::path_occupied,
                            "is a cellhub hub of layout version " + std::to_string(major) + ".",
                            data);
  }
}

BOOST_AUTO_TEST_CASE(empty_file_and_file_shorter_than_a_header_are_refused_and_kept) {
  scratch_dir dir;
  const auto empty = dir.file("empty");
  write_file(empty, "");
  expect_refused_and_kept(empty, tr::errc::path_occupied,
                          "not a cellhub hub (0 bytes, too small for a hub header)", "");
  const auto short_one = dir.file("short");
  const auto data = hub_like_bytes(100, 100);
  write_file(short_one, data);
  expect_refused_and_kept(short_one, tr::errc::path_occupied, "100 bytes, too small", data);
}

BOOST_AUTO_TEST_CASE(directory_at_the_hub_path_is_refused_and_kept) {
  scratch_dir dir;
  const auto path = dir.file("sub");
  BOOST_TEST_REQUIRE(::mkdir(path.c_str(), 0700) == 0);
  write_file(path + "/inside", "keep me");
  auto hub = tr::hub_host::create(path);
  BOOST_TEST_REQUIRE(!hub.has_value());
  BOOST_TEST(hub.error().code == tr::errc::path_occupied);
  BOOST_TEST(hub.error().message() ==
             "path_occupied: " + path +
                 " exists and is a directory, not a cellhub hub; refusing to remove it");
  BOOST_TEST(read_file(path + "/inside") == "keep me");
}

BOOST_AUTO_TEST_CASE(fifo_at_the_hub_path_is_refused_without_opening_it) {
  scratch_dir dir;
  const auto path = dir.file("fifo");
  BOOST_TEST_REQUIRE(::mkfifo(path.c_str(), 0600) == 0);
  // Opening the FIFO to read or write would block this test forever: no writer
  // or reader exists. The refusal comes from looking, not opening.
  auto hub = tr::hub_host::create(path);
  BOOST_TEST_REQUIRE(!hub.has_value());
  BOOST_TEST(hub.error().code == tr::errc::path_occupied);
  BOOST_TEST(hub.error().message().find(path + " exists and is a FIFO") != std::string::npos);
  struct stat st {};
  BOOST_TEST_REQUIRE(::lstat(path.c_str(), &st) == 0);
  BOOST_TEST(S_ISFIFO(st.st_mode));
}

BOOST_AUTO_TEST_CASE(symlink_to_a_stale_hub_is_refused_and_both_are_kept) {
  scratch_dir dir;
  const auto target = dir.file("stale-target");
  write_stale_hub(target);
  const auto content = read_file(target);
  const auto link = dir.file("link");
  BOOST_TEST_REQUIRE(::symlink(target.c_str(), link.c_str()) == 0);
  auto hub = tr::hub_host::create(link);
  BOOST_TEST_REQUIRE(!hub.has_value());
  BOOST_TEST(hub.error().code == tr::errc::path_occupied);
  BOOST_TEST(hub.error().message().find(link + " exists and is a symbolic link") !=
             std::string::npos);
  struct stat st {};
  BOOST_TEST_REQUIRE(::lstat(link.c_str(), &st) == 0);
  BOOST_TEST(S_ISLNK(st.st_mode));
  BOOST_TEST(read_file(target) == content);
}

BOOST_AUTO_TEST_CASE(stale_hub_of_another_user_is_refused_and_kept) {
  if (::geteuid() != 0) {
    BOOST_TEST_MESSAGE("skipped: giving a file to another user needs root");
    return;
  }
  scratch_dir dir;
  const auto path = dir.file("theirs");
  write_stale_hub(path);
  const auto content = read_file(path);
  BOOST_TEST_REQUIRE(::chown(path.c_str(), 65534, 65534) == 0);
  expect_refused_and_kept(path, tr::errc::path_occupied,
                          path + " exists and belongs to uid 65534, not to this user (uid 0)",
                          content);
}

BOOST_AUTO_TEST_CASE(path_forms_that_cannot_name_a_hub_are_refused_before_anything_is_done) {
  scratch_dir dir;
  auto refused = [](const std::string& path, const std::string& text) {
    auto hub = tr::hub_host::create(path);
    BOOST_TEST_REQUIRE(!hub.has_value(), path);
    BOOST_TEST(hub.error().code == tr::errc::invalid_argument, path);
    BOOST_TEST(hub.error().message().find(text) != std::string::npos, hub.error().message());
  };
  refused("", "empty hub path");
  refused("relative-hub", "hub path relative-hub is relative");
  refused(dir.file("x\0y"s), R"(hub path ")" + dir.path() + R"(/x\x00y" holds a NUL byte)");
  refused(dir.file("missing/hub"), "the directory " + dir.file("missing") + " of hub path");
  write_file(dir.file("plain"), "a file");
  refused(dir.file("plain/hub"), "the directory " + dir.file("plain") + " of hub path");
  refused(dir.path() + "/", "ends in '/'");
  // Nothing was created under a truncated name either.
  BOOST_TEST(::access(dir.file("x").c_str(), F_OK) != 0);
}

// --- hub_file::create: recovery and removal --------------------------------------

BOOST_AUTO_TEST_CASE(stale_hub_is_replaced_with_one_warning) {
  const auto path = unique_hub_path("stale");
  write_stale_hub(path);
  cellhub::test::log_capture log;
  auto hub = tr::hub_host::create(path);
  BOOST_TEST_REQUIRE(hub.has_value(), (hub ? "" : hub.error().message()));
  BOOST_TEST(log.count(" WARN removed stale hub \"" + path +
                       "\" left by host pid 999999 (its lock was free)") == 1u);
  BOOST_TEST(log.count("\n") == 1u);
  BOOST_TEST(hub.value()->add_peer_transport().has_value());
}

BOOST_AUTO_TEST_CASE(file_swapped_in_while_the_host_runs_survives_its_exit) {
  const auto path = unique_hub_path("swapped");
  auto hub = tr::hub_host::create(path);
  BOOST_TEST_REQUIRE(hub.has_value());
  const auto other = path + "-other";
  write_file(other, "not the host's");
  BOOST_TEST_REQUIRE(::rename(other.c_str(), path.c_str()) == 0);
  cellhub::test::log_capture log;
  hub.value().reset();
  BOOST_TEST(read_file(path) == "not the host's");
  BOOST_TEST(log.count("WARN hub path \"" + path +
                       "\" no longer names the hub this host created; left what is there") == 1u);
  ::unlink(path.c_str());
}

BOOST_AUTO_TEST_CASE(host_removes_its_own_hub_at_exit) {
  const auto path = unique_hub_path("own");
  {
    auto hub = tr::hub_host::create(path);
    BOOST_TEST_REQUIRE(hub.has_value());
    BOOST_TEST(::access(path.c_str(), F_OK) == 0);
  }
  BOOST_TEST(::access(path.c_str(), F_OK) != 0);
}

BOOST_AUTO_TEST_CASE(hub_space_is_reserved_at_creation) {
  const auto path = unique_hub_path("reserved");
  auto hub = tr::hub_host::create(path, {.max_peers = 4});
  BOOST_TEST_REQUIRE(hub.has_value());
  struct stat st {};
  BOOST_TEST_REQUIRE(::stat(path.c_str(), &st) == 0);
  BOOST_TEST(static_cast<std::uint64_t>(st.st_size) == hub.value()->geometry().file_size);
  // Every page is allocated, not only the header's: no later write can find the
  // filesystem full.
  BOOST_TEST(static_cast<std::uint64_t>(st.st_blocks) * 512 >= hub.value()->geometry().file_size);
}

BOOST_AUTO_TEST_CASE(hub_whose_regions_exceed_the_host_memory_is_refused_with_both_numbers) {
  const auto path = unique_hub_path("huge");
  // 4096 peers with two 100 MiB arenas each: 800 GiB, more than any test machine has.
  const tr::hub_config config{.max_peers = 4096, .slot_classes = {{1 << 20, 100}}};
  const auto needed = tr::hub_geometry::compute(config).value().memory_needed();
  const auto budget = tr::read_memory_budget();
  BOOST_TEST_REQUIRE(budget.has_value());
  BOOST_TEST_REQUIRE(needed > budget.value().limit);
  auto hub = tr::hub_host::create(path, config);
  BOOST_TEST_REQUIRE(!hub.has_value());
  BOOST_TEST(hub.error().code == tr::errc::no_space);
  const auto text = hub.error().message();
  BOOST_TEST(text.find("peer regions need up to " + tr::describe_bytes(needed) +
                       ", but this host has " + tr::describe_bytes(budget.value().limit)) !=
                 std::string::npos,
             text);
  BOOST_TEST(::access(path.c_str(), F_OK) != 0);
}

BOOST_AUTO_TEST_CASE(memory_budget_is_ram_and_swap_or_less) {
  const auto budget = tr::read_memory_budget();
  BOOST_TEST_REQUIRE(budget.has_value());
  std::ifstream meminfo{"/proc/meminfo"};
  std::string key;
  std::uint64_t kib = 0;
  std::string unit;
  std::uint64_t ram_and_swap = 0;
  while (meminfo >> key >> kib) {
    if (key == "MemTotal:" || key == "SwapTotal:")
      ram_and_swap += kib * 1024;
    std::getline(meminfo, unit);
  }
  BOOST_TEST(budget.value().limit > 0u);
  BOOST_TEST(budget.value().limit <= ram_and_swap);
  BOOST_TEST(tr::check_memory_budget(budget.value().limit, budget.value()).has_value());
  const auto over = tr::check_memory_budget(budget.value().limit + 1, budget.value());
  BOOST_TEST_REQUIRE(!over.has_value());
  BOOST_TEST(over.error().code == tr::errc::no_space);
}

// --- inspect_hub_site -----------------------------------------------------------

BOOST_AUTO_TEST_CASE(inspect_reports_an_absent_site_with_size_and_free_space) {
  const auto path = unique_hub_path("absent");
  auto site = tr::inspect_hub_site(path, default_hub_size());
  BOOST_TEST_REQUIRE(site.has_value(), (site ? "" : site.error().message()));
  BOOST_TEST(site.value().path == path);
  BOOST_TEST(site.value().file_size == default_hub_size());
  BOOST_TEST(site.value().free_bytes >= default_hub_size());
  BOOST_TEST((site.value().state == tr::hub_site_state::absent));
  BOOST_TEST(::access(path.c_str(), F_OK) != 0);
}

BOOST_AUTO_TEST_CASE(inspect_reports_a_stale_hub_and_leaves_it) {
  const auto path = unique_hub_path("inspect-stale");
  write_stale_hub(path);
  const auto content = read_file(path);
  cellhub::test::log_capture log;
  auto site = tr::inspect_hub_site(path, 64 * 1024);
  BOOST_TEST_REQUIRE(site.has_value(), (site ? "" : site.error().message()));
  BOOST_TEST((site.value().state == tr::hub_site_state::stale_hub));
  BOOST_TEST(read_file(path) == content);
  BOOST_TEST(log.text().empty());
  ::unlink(path.c_str());
}

BOOST_AUTO_TEST_CASE(inspect_refuses_a_live_hub) {
  const auto path = unique_hub_path("inspect-live");
  auto hub = tr::hub_host::create(path, {.max_peers = 2});
  BOOST_TEST_REQUIRE(hub.has_value());
  auto site = tr::inspect_hub_site(path, hub.value()->geometry().file_size);
  BOOST_TEST_REQUIRE(!site.has_value());
  BOOST_TEST(site.error().code == tr::errc::hub_in_use);
  BOOST_TEST(site.error().message() == "hub_in_use: " + path + " is held by a live host (pid " +
                                           std::to_string(::getpid()) + ")");
  BOOST_TEST(hub.value()->add_peer_transport().has_value());
}

BOOST_AUTO_TEST_CASE(inspect_refuses_bad_paths_directories_and_foreign_files) {
  scratch_dir dir;
  auto code_of = [](const std::string& path) {
    auto site = tr::inspect_hub_site(path, 4096);
    BOOST_TEST_REQUIRE(!site.has_value(), path);
    BOOST_TEST_MESSAGE(site.error().message());
    return site.error().code;
  };
  BOOST_TEST(code_of(dir.file("nul\0tail"s)) == tr::errc::invalid_argument);
  BOOST_TEST(code_of("dev/shm/relative") == tr::errc::invalid_argument);
  BOOST_TEST(code_of(dir.file("missing/hub")) == tr::errc::invalid_argument);
  write_file(dir.file("file"), "x");
  BOOST_TEST(code_of(dir.file("file/hub")) == tr::errc::invalid_argument);
  BOOST_TEST(code_of(dir.path()) == tr::errc::path_occupied);
  write_file(dir.file("text"), std::string(1000, 't'));
  BOOST_TEST(code_of(dir.file("text")) == tr::errc::path_occupied);
  BOOST_TEST(read_file(dir.file("text")) == std::string(1000, 't'));
}

BOOST_AUTO_TEST_CASE(inspect_refuses_a_hub_too_big_for_the_filesystem) {
  const auto path = unique_hub_path("inspect-big");
  struct statvfs fs {};
  BOOST_TEST_REQUIRE(::statvfs("/dev/shm", &fs) == 0);
  const std::uint64_t too_big = fs.f_bavail * fs.f_frsize + (std::uint64_t{1} << 30);
  auto site = tr::inspect_hub_site(path, too_big);
  BOOST_TEST_REQUIRE(!site.has_value());
  BOOST_TEST(site.error().code == tr::errc::no_space);
  BOOST_TEST(site.error().message().find("needs " + tr::describe_bytes(too_big) +
                                         ", /dev/shm has ") != std::string::npos,
             site.error().message());
}

BOOST_AUTO_TEST_CASE(describe_bytes_picks_a_unit_and_keeps_the_exact_count) {
  BOOST_TEST(tr::describe_bytes(100) == "100 bytes");
  BOOST_TEST(tr::describe_bytes(8 << 20) == "8.0 MiB (8388608 bytes)");
  BOOST_TEST(tr::describe_bytes(715'403'264) == "682.3 MiB (715403264 bytes)");
  BOOST_TEST(tr::describe_bytes(std::uint64_t{45'800'000'000}) == "42.7 GiB (45800000000 bytes)");
}

BOOST_AUTO_TEST_SUITE_END()
