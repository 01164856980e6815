// The hub's space on a filesystem that fills up: the hub file holds only its header
// (the peer regions are memory objects of their own, not on the filesystem), so a
// small tmpfs takes the default hub; a reservation that fails leaves nothing and
// gives the numbers; and every byte of every slot and ring can be written even when
// the filesystem is full (no SIGBUS). Each test mounts an 8 MiB tmpfs in
// a private mount namespace of a forked child; without the privilege to do so
// (not root, or no CAP_SYS_ADMIN) it says so and checks nothing.
#include "in_process.hpp"
#include "log_capture.hpp"

#include "cellhub/transport/hub_geometry.hpp"
#include "cellhub/transport/hub_host.hpp"
#include "cellhub/transport/hub_site.hpp"

#include <boost/test/unit_test.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

namespace tr = cellhub::transport;
namespace shm = cellhub::transport::shm;

namespace {

constexpr std::uint64_t tmpfs_bytes = 8 << 20;
constexpr int hang_bound_ms = 120'000;

// Collects what a forked child found; the parent checks it.
struct child_report {
  std::string skipped; // why nothing ran, or empty
  std::string text;    // what the body wrote
  int wait_status = 0;
};

// Lists the names in `dir` except "." and "..".
std::string listing(const std::string& dir) {
  std::string names;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (const dirent* entry = ::readdir(d)) {
      const std::string name = entry->d_name;
      if (name != "." && name != "..")
        names += name + " ";
    }
    ::closedir(d);
  }
  return names;
}

void write_all(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const auto n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0)
      return;
    done += static_cast<std::size_t>(n);
  }
}

// Runs `body(dir)` in a forked child that mounts a fresh 8 MiB tmpfs at `dir` in a
// mount namespace of its own (gone with the child); returns the text body returned.
child_report on_small_tmpfs(const std::function<std::string(const std::string&)>& body) {
  char templ[] = "/tmp/cellhub-tmpfs-XXXXXX";
  BOOST_TEST_REQUIRE(::mkdtemp(templ) != nullptr);
  const std::string dir = templ;
  int fds[2];
  BOOST_TEST_REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  const pid_t pid = ::fork();
  BOOST_TEST_REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    std::string out;
    if (::unshare(CLONE_NEWNS) != 0)
      out = std::string{"skip: unshare(CLONE_NEWNS): "} + std::strerror(errno);
    else if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
      out = std::string{"skip: making mounts private: "} + std::strerror(errno);
    else if (::mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=8m,mode=0700") != 0)
      out = std::string{"skip: mount -t tmpfs -o size=8m: "} + std::strerror(errno);
    else
      out = "ran\n" + body(dir);
    write_all(fds[1], out);
    ::_exit(0); // no test-framework exit handlers in the child
  }
  ::close(fds[1]);
  child_report report;
  std::string all;
  for (;;) {
    pollfd entry{fds[0], POLLIN, 0};
    BOOST_TEST_REQUIRE(::poll(&entry, 1, hang_bound_ms) == 1, "child hangs");
    char buffer[4096];
    const auto n = ::read(fds[0], buffer, sizeof buffer);
    if (n <= 0)
      break;
    all.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  BOOST_TEST_REQUIRE(::waitpid(pid, &report.wait_status, 0) == pid);
  ::rmdir(dir.c_str());
  if (all.starts_with("skip: "))
    report.skipped = all.substr(6);
  else if (all.starts_with("ran\n"))
    report.text = all.substr(4);
  return report;
}

// Tells whether the child ran to its end (else it died, e.g. by SIGBUS).
bool ran_to_the_end(const child_report& report) {
  return WIFEXITED(report.wait_status) && WEXITSTATUS(report.wait_status) == 0;
}

bool skipped(const child_report& report) {
  if (report.skipped.empty())
    return false;
  BOOST_TEST_MESSAGE("skipped, a tmpfs cannot be mounted here: " << report.skipped);
  return true;
}

// Writes `size` bytes of `fill` to a new file at `path`; returns the bytes written.
std::uint64_t fill_file(const std::string& path, std::uint64_t size, int& fd_out) {
  fd_out = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  const std::string chunk(4096, 'f');
  std::uint64_t written = 0;
  while (fd_out >= 0 && written < size) {
    const auto n = ::write(fd_out, chunk.data(), std::min<std::uint64_t>(4096, size - written));
    if (n <= 0)
      break;
    written += static_cast<std::uint64_t>(n);
  }
  return written;
}

// Writes a stale hub of `size` bytes (every page allocated) and keeps it open, as a
// cell of the dead host that still maps it would.
int write_held_stale_hub(const std::string& path, std::uint64_t size) {
  int fd = -1;
  fill_file(path, size, fd);
  shm::hub_header header{};
  std::memcpy(header.magic, shm::magic, sizeof(header.magic));
  header.version_major = shm::version_major;
  header.file_size = size;
  header.host_pid = 4242;
  if (::pwrite(fd, &header, sizeof(header), 0) != static_cast<ssize_t>(sizeof(header)))
    return -1;
  return fd;
}

} // namespace

BOOST_AUTO_TEST_SUITE(hub_space)

BOOST_AUTO_TEST_CASE(default_hub_on_an_8_mib_tmpfs_takes_one_page_of_it) {
  // Version 1 needed its whole 682 MiB there and was refused; the regions now live
  // outside the filesystem.
  const auto report = on_small_tmpfs([&](const std::string& dir) {
    auto hub = tr::hub_host::create(dir + "/hub");
    if (!hub)
      return hub.error().message();
    struct stat st {};
    ::stat((dir + "/hub").c_str(), &st);
    return "created " + std::to_string(st.st_size) + " " + std::to_string(st.st_blocks * 512);
  });
  if (skipped(report))
    return;
  BOOST_TEST_REQUIRE(ran_to_the_end(report), report.text);
  BOOST_TEST(report.text == "created 4096 4096", report.text);
}

BOOST_AUTO_TEST_CASE(reservation_failing_with_enospc_removes_the_new_file_and_gives_the_numbers) {
  // A stale hub filling the tmpfs and still held open by an orphaned process: the
  // survey counts its space as coming back, but removing it frees nothing, so
  // posix_fallocate hits ENOSPC even for a one-page hub file.
  const tr::hub_config config{.max_peers = 1, .slot_classes = {{1 << 20, 2}}};
  const auto size = tr::hub_geometry::compute(config).value().file_size;
  const std::uint64_t stale_size = tmpfs_bytes - size / 2;
  BOOST_TEST_REQUIRE(size < tmpfs_bytes);
  const auto report = on_small_tmpfs([&](const std::string& dir) {
    cellhub::test::log_capture log;
    const int held = write_held_stale_hub(dir + "/hub", stale_size);
    auto hub = tr::hub_host::create(dir + "/hub", config);
    const auto text = (hub ? std::string{"created"} : hub.error().message()) + "\n" + listing(dir) +
                      "\n" + std::to_string(log.count(" WARN removed stale hub"));
    ::close(held);
    return text;
  });
  if (skipped(report))
    return;
  BOOST_TEST_REQUIRE(ran_to_the_end(report), report.text);
  BOOST_TEST(report.text.starts_with("no_space: hub /tmp/cellhub-tmpfs-"), report.text);
  BOOST_TEST(report.text.find("/hub needs " + tr::describe_bytes(size) + ", /tmp/cellhub-tmpfs-") !=
                 std::string::npos,
             report.text);
  BOOST_TEST(report.text.find(" has 0 bytes free\n") != std::string::npos, report.text);
  // Nothing is left: the stale hub was provably stale, the new file was ours.
  BOOST_TEST(report.text.ends_with("\n\n1"), report.text);
}

BOOST_AUTO_TEST_CASE(hub_on_a_full_tmpfs_takes_a_write_to_every_slot_and_ring_of_every_peer) {
  const tr::hub_config config{
      .max_peers = 3, .ring_capacity = 64, .slot_classes = {{1024, 16}, {64 << 10, 4}}};
  const auto report = on_small_tmpfs([&](const std::string& dir) {
    auto created = tr::hub_host::create(dir + "/hub", config);
    if (!created)
      return "create: " + created.error().message();
    auto hub = created.value();
    // Fill what is left of the tmpfs: an unreserved page touched now would be SIGBUS.
    int filler = -1;
    fill_file(dir + "/filler", tmpfs_bytes, filler);
    std::uint64_t slots = 0;
    std::uint64_t messages = 0;
    const std::byte mark{0x5a};
    for (std::uint16_t peer = 0; peer < config.max_peers; ++peer) {
      auto added = hub->add_peer_transport().value();
      auto cell = cellhub::test::attach_in_process(added.ticket);
      if (!cell)
        return "attach: " + cell.error().message();
      std::vector<tr::outgoing_payload> held;
      for (const auto& cls : config.slot_classes)
        for (std::uint32_t i = 0; i < cls.slot_count; ++i) {
          auto to_cell = added.transport->prepare(cls.slot_size);
          auto to_host = cell.value().prepare(cls.slot_size);
          if (!to_cell || !to_host)
            return std::string{"prepare failed"};
          for (auto* payload : {&to_cell.value(), &to_host.value()})
            std::memset(payload->bytes().data(), static_cast<int>(mark), payload->size());
          held.push_back(std::move(to_cell).value());
          held.push_back(std::move(to_host).value());
          slots += 2;
        }
      const std::array<std::byte, 40> inline_bytes{};
      while (added.transport->send(inline_bytes))
        ++messages;
      while (cell.value().send(inline_bytes))
        ++messages;
    }
    ::close(filler);
    return "slots " + std::to_string(slots) + " messages " + std::to_string(messages);
  });
  if (skipped(report))
    return;
  BOOST_TEST_REQUIRE(ran_to_the_end(report), "child died: wait status " << report.wait_status);
  // 3 peers × 20 slots × 2 arenas; 3 peers × (64 descriptors to the cell + 63 to the
  // host, whose ring already holds READY).
  BOOST_TEST(report.text == "slots 120 messages 381", report.text);
}

BOOST_AUTO_TEST_SUITE_END()
