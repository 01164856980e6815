// hostile_isolation_cell — a cell that attacks the isolation between peers (issue 11,
// item 1). It attaches with `cell::attach` like any cell, waits for the host's first
// message (the "go"), then runs one attack and reports every attempt as a line, both to
// the report file and to stdout:
//
//   try ATTEMPT DETAIL        about to do something that should fault inside the attacker
//   blocked ATTEMPT DETAIL    the system refused: the attempt failed
//   harmless ATTEMPT DETAIL   it succeeded but reached no other peer's memory
//   exposed ATTEMPT DETAIL    a gate that should be shut is open, though no peer's memory
//                             was reached through it (for example a neighbour's /dev/null)
//   breach ATTEMPT DETAIL     it reached another peer's (or the host's) memory
//   note ATTEMPT DETAIL       information
//   done - -                  the attack ran to its end
//
// Usage: hostile_isolation_cell --attack=NAME --report=PATH [--victims=PID,...]
//                               [--targets=PEER:INCARNATION,...] TICKET...
//
// Attacks (level 1, a buggy cell):
//   wild-after      write through a wild pointer past the end of its region, skipping only
//                   its own private memory; expect SIGSEGV
//   wild-before     the same, before the start of its region
//   scribble        overwrite every byte of its region the host reads (header, peer entry,
//                   wake wishes, ring heads and tails, descriptors, return rings) with
//                   pseudo-random bytes, ring the host, then wait to be killed
//   scribble-plausible  the same, but keep the ring indices plausible so that the host
//                   reads one garbage descriptor and one garbage returned slot index
// Attacks (level 2, a hostile cell of the same user):
//   hub-path        open the hub path read-write, look for its own region's memory in it,
//                   overwrite every byte and truncate it
//   proc-walk       for the host, every neighbour (--victims, and the host's children):
//                   /proc/PID/fd/*, map_files/*, mem, environ, process_vm_readv, and
//                   pidfd_getfd of its descriptors
//   own-region      take a copy of its own region's descriptor (peeking at the doorbell
//                   before attaching, or from /proc/self/fd), then try to shrink, grow,
//                   reseal it and map it beyond its size
//   exec-window     race every cell the host starts after the go: between its exec and
//                   its attach (which makes it non-dumpable) take its fd 3, the doorbell,
//                   with pidfd_getfd, and the region queued on it with MSG_PEEK; stop at
//                   the host's second message
//   impersonate     attach as each --targets peer with a guessed token
//
// Exit codes: 0 the attack ran, 2 attaching failed, 3 no "go" came, 10 capabilities could
// not be dropped, 11 bad usage, 12 the report could not be created.
#include "capabilities.hpp"

#include "cellhub/transport/cell.hpp"
#include "cellhub/transport/hub_geometry.hpp"
#include "cellhub/transport/shm_layout.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <csetjmp>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace tr = cellhub::transport;
namespace shm = cellhub::transport::shm;

// The wild writes must die of the kernel's SIGSEGV, and a write past the region's end
// must meet the kernel's SIGBUS, not the sanitizer's report of them.
extern "C" const char* __asan_default_options();
extern "C" const char* __asan_default_options() {
  return "handle_segv=0:handle_sigbus=0";
}
extern "C" const char* __tsan_default_options();
extern "C" const char* __tsan_default_options() {
  return "handle_segv=0:handle_sigbus=0";
}

namespace {

using clock_type = std::chrono::steady_clock;

std::string option(int argc, char** argv, std::string_view name) {
  const std::string prefix = "--" + std::string{name} + "=";
  for (int i = 1; i < argc; ++i)
    if (std::string_view{argv[i]}.starts_with(prefix))
      return argv[i] + prefix.size();
  return {};
}

std::vector<std::string> split(const std::string& text, char by) {
  std::vector<std::string> parts;
  std::stringstream in{text};
  for (std::string part; std::getline(in, part, by);)
    if (!part.empty())
      parts.push_back(part);
  return parts;
}

std::string hex(std::uintptr_t value) {
  char text[32];
  std::snprintf(text, sizeof(text), "0x%llx", static_cast<unsigned long long>(value));
  return text;
}

std::string errno_text(int err) {
  return std::string{strerrorname_np(err) ? strerrorname_np(err) : "E?"} + " (" +
         std::strerror(err) + ")";
}

std::uint64_t random_u64() {
  std::uint64_t value = 0;
  while (::getrandom(&value, sizeof(value), 0) != static_cast<ssize_t>(sizeof(value))) {
  }
  return value;
}

// Writes the attack's lines to the report file and stdout, unbuffered, so that the lines
// before a fault survive it.
class report {
public:
  explicit report(int fd)
      : fd_{fd} {}

  void line(std::string_view outcome, std::string_view attempt, std::string_view detail) {
    std::string text{outcome};
    text += ' ';
    text += attempt;
    text += ' ';
    text += detail;
    text += '\n';
    write_all(fd_, text);
    write_all(STDOUT_FILENO, "hostile_isolation_cell: " + text);
  }

private:
  static void write_all(int fd, const std::string& text) {
    std::size_t done = 0;
    while (done < text.size()) {
      const auto n = ::write(fd, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return;
      done += static_cast<std::size_t>(n);
    }
  }

  int fd_;
};

// Root with CAP_SYS_PTRACE can read any process's memory and descriptors: no isolation
// can stop it. The attacker models "a process of the same user without privilege", so it
// gives up every capability first (capabilities.hpp); it stays uid 0 when the test runs
// as root, the owner of everything the host creates, as a same-user attacker is.
bool drop_capabilities(report& out) {
  const auto failure = cellhub::test::drop_all_capabilities();
  if (!failure.empty()) {
    out.line("note", "capabilities", "could not drop them: " + failure);
    return false;
  }
  out.line("note", "capabilities",
           "all dropped (uid " + std::to_string(::getuid()) + ", euid " +
               std::to_string(::geteuid()) + ")");
  return true;
}

// One line of /proc/PID/maps.
struct mapping {
  std::uintptr_t lo = 0;
  std::uintptr_t hi = 0;
  bool readable = false;
  bool writable = false;
  bool shared = false;
  std::string path;
};

std::optional<std::vector<mapping>> read_maps(const std::string& pid, int& err) {
  std::ifstream in{"/proc/" + pid + "/maps"};
  if (!in) {
    err = errno;
    return std::nullopt;
  }
  std::vector<mapping> maps;
  for (std::string text; std::getline(in, text);) {
    std::istringstream fields{text};
    std::string range, perms, offset, device, inode;
    fields >> range >> perms >> offset >> device >> inode;
    mapping m;
    const auto dash = range.find('-');
    m.lo = std::stoull(range.substr(0, dash), nullptr, 16);
    m.hi = std::stoull(range.substr(dash + 1), nullptr, 16);
    m.readable = perms.size() > 0 && perms[0] == 'r';
    m.writable = perms.size() > 1 && perms[1] == 'w';
    m.shared = perms.size() > 3 && perms[3] == 's';
    std::getline(fields >> std::ws, m.path);
    maps.push_back(std::move(m));
  }
  err = 0;
  return maps;
}

const mapping* find_mapping(const std::vector<mapping>& maps, std::uintptr_t address) {
  for (const auto& m : maps)
    if (address >= m.lo && address < m.hi)
      return &m;
  return nullptr;
}

std::string link_target(const std::string& path) {
  char target[512];
  const auto n = ::readlink(path.c_str(), target, sizeof(target) - 1);
  if (n < 0)
    return "(readlink: " + errno_text(errno) + ")";
  return std::string{target, static_cast<std::size_t>(n)};
}

// Tells whether `fd` is memory another process could share: a regular file (the hub
// file, a memfd, a file in /dev/shm) that maps. Says what it is in `what`.
bool is_memory(int fd, std::string& what) {
  what = link_target("/proc/self/fd/" + std::to_string(fd));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
    return false;
  const auto length = static_cast<std::size_t>(std::max<off_t>(st.st_size, 1));
  void* view = ::mmap(nullptr, std::min<std::size_t>(length, 4096), PROT_READ, MAP_SHARED, fd, 0);
  if (view == MAP_FAILED) {
    what += ", " + std::to_string(st.st_size) + " bytes (mmap: " + errno_text(errno) + ")";
    return true;
  }
  ::munmap(view, std::min<std::size_t>(length, 4096));
  what += ", " + std::to_string(st.st_size) + " bytes, mapped";
  return true;
}

// Counts the errors of a run of refused attempts, for one line.
struct refusals {
  std::map<int, int> by_errno;
  int tried = 0;

  void add(int err) {
    ++tried;
    ++by_errno[err];
  }
  [[nodiscard]] std::string text() const {
    std::string out = std::to_string(tried) + " refused:";
    for (const auto& [err, count] : by_errno)
      out += " " + std::to_string(count) + "x " + errno_text(err);
    return out;
  }
};

// ---- level 1: wild pointers -------------------------------------------------------

// Uninstrumented: the write itself must fault, not a sanitizer's check of it.
#define CELLHUB_RAW_WRITE __attribute__((noinline, no_sanitize("address", "thread", "undefined")))

CELLHUB_RAW_WRITE void scribble_at(std::uintptr_t address) {
  auto* word = reinterpret_cast<volatile std::uint64_t*>(address);
  for (int i = 0; i < 8; ++i)
    word[i] = 0xA5A5'A5A5'A5A5'A5A5ull;
}

// Walks a wild pointer away from the region (past its end or before its start) and
// writes a cache line at the first address that is not the attacker's own private
// memory. Memory shared with anyone (a mapping with 's') outside the region is a breach;
// anything else must fault.
int wild_write(tr::cell& self, bool past_end, report& out) {
  const std::string attempt = past_end ? "wild-write-past-end" : "wild-write-before-start";
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto lo = reinterpret_cast<std::uintptr_t>(self.region());
  const auto hi = lo + self.link().geometry().region_size;
  out.line("note", attempt, "region [" + hex(lo) + ", " + hex(hi) + ")");
  std::uintptr_t target = past_end ? hi : lo - page;
  for (int step = 0; step < 256; ++step) {
    int err = 0;
    const auto maps = read_maps("self", err);
    if (!maps) {
      out.line("note", attempt, "/proc/self/maps: " + errno_text(err));
      return 11;
    }
    const mapping* m = find_mapping(*maps, target);
    if (m == nullptr) {
      out.line("try", attempt, hex(target) + " is unmapped: expect SIGSEGV");
      scribble_at(target);
      out.line("note", attempt, "the write to unmapped " + hex(target) + " did not fault");
      return 0;
    }
    const std::string where = "[" + hex(m->lo) + ", " + hex(m->hi) + ") " + m->path;
    if (m->shared && m->writable) {
      out.line("breach", attempt,
               hex(target) + " is in shared memory outside the region: " + where +
                   "; writing 64 bytes there");
      scribble_at(target);
      target = past_end ? m->hi : m->lo - page;
      continue;
    }
    if (!m->writable) {
      out.line("try", attempt, hex(target) + " is in read-only " + where + ": expect SIGSEGV");
      scribble_at(target);
      out.line("note", attempt, "the write to read-only " + hex(target) + " did not fault");
      return 0;
    }
    out.line("note", attempt, "skipping the attacker's own private memory " + where);
    target = past_end ? m->hi : m->lo - page;
  }
  out.line("done", "-", "-");
  return 0;
}

// ---- level 1: scribbling over its own region ---------------------------------------

shm::ring_header& ring_at(tr::cell& self, std::uint64_t offset) {
  return *reinterpret_cast<shm::ring_header*>(self.region() + offset);
}

// Blocks until the host hangs up the doorbell (it kills a violating cell) or 60 s pass.
void wait_for_hangup(tr::cell& self) {
  const int fd = self.link().bell().fd();
  const auto deadline = clock_type::now() + std::chrono::seconds{60};
  while (clock_type::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 1000) > 0) {
      if ((p.revents & (POLLHUP | POLLERR)) != 0)
        return;
      char drain[64];
      while (::recv(fd, drain, sizeof(drain), MSG_DONTWAIT) > 0) {
      }
    }
  }
}

int scribble(tr::cell& self, bool plausible, report& out) {
  const std::string attempt = plausible ? "scribble-plausible" : "scribble";
  const auto& geo = self.link().geometry();
  const std::array<std::uint64_t, 4> rings{geo.to_cell_ring_offset, geo.to_host_ring_offset,
                                           geo.to_cell_return_offset, geo.to_host_return_offset};
  const auto to_host_head = ring_at(self, geo.to_host_ring_offset).head.load();
  const auto to_cell_return_head = ring_at(self, geo.to_cell_return_offset).head.load();

  // Everything before the to_cell arena: the region header and the peer entry, the sleep
  // flags, the four rings (the host reads all of it but the header). The host reads
  // concurrently, so the line goes first: it may kill the attacker before the end.
  const auto end = geo.to_cell_arena_offset;
  out.line("try", attempt,
           "overwriting bytes [0, " + std::to_string(end) + ") of the region" +
               (plausible ? " but the ring indices, then publishing one garbage descriptor "
                            "and one garbage returned slot index"
                          : "") +
               "; then ringing the host");
  // In the plausible variant, the heads and tails (the first 8 bytes of each of a ring
  // header's two cache lines) keep their values, so the host reads nothing but them
  // until the attacker publishes the garbage.
  const auto is_index = [&](std::uint64_t at) {
    if (!plausible)
      return false;
    for (auto ring : rings)
      if ((at >= ring && at < ring + 8) || (at >= ring + 64 && at < ring + 72))
        return true;
    return false;
  };
  std::uint64_t x = 0x9E37'79B9'7F4A'7C15ull;
  for (std::uint64_t i = 0; i < end; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    if (!is_index(i))
      self.region()[i] = static_cast<std::byte>(x);
  }
  if (plausible) {
    ring_at(self, geo.to_host_ring_offset).head.store(to_host_head + 1);
    ring_at(self, geo.to_cell_return_offset).head.store(to_cell_return_head + 1);
  }
  (void)self.link().ring();
  out.line("done", "-", "-");
  wait_for_hangup(self);
  return 0;
}

// ---- level 2: the hub path ---------------------------------------------------------

int attack_hub_path(tr::cell& self, const std::string& hub_path, report& out) {
  // A mark in the attacker's own memory: if the hub file holds it, the file is a path to
  // every peer's memory.
  const auto& geo = self.link().geometry();
  std::array<std::uint64_t, 2> mark{random_u64(), random_u64()};
  std::memcpy(self.region() + geo.to_host_arena_offset, mark.data(), sizeof(mark));

  const int fd = ::open(hub_path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    out.line("blocked", "hub-open", hub_path + ": " + errno_text(errno));
    out.line("done", "-", "-");
    return 0;
  }
  struct stat st {};
  (void)::fstat(fd, &st);
  const auto size = static_cast<std::uint64_t>(st.st_size);
  const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  std::optional<std::uint64_t> found;
  for (std::uint64_t at = 0; at + sizeof(mark) <= size && !found; at += page) {
    std::array<std::uint64_t, 2> seen{};
    if (::pread(fd, seen.data(), sizeof(seen), static_cast<off_t>(at)) ==
            static_cast<ssize_t>(sizeof(seen)) &&
        seen == mark)
      found = at;
  }
  if (found)
    out.line("breach", "hub-open",
             hub_path + " (" + std::to_string(size) + " bytes) holds this cell's own region (" +
                 "its mark at offset " + std::to_string(*found) +
                 "), so it holds every peer's memory");
  else
    out.line("harmless", "hub-open",
             hub_path + " opened read-write: " + std::to_string(size) +
                 " bytes, no peer's memory in them");

  std::vector<char> junk(64 * 1024, static_cast<char>(0xA5));
  std::uint64_t written = 0;
  int write_err = 0;
  while (written < size) {
    const auto chunk = std::min<std::uint64_t>(junk.size(), size - written);
    const auto n = ::pwrite(fd, junk.data(), chunk, static_cast<off_t>(written));
    if (n <= 0) {
      write_err = errno;
      break;
    }
    written += static_cast<std::uint64_t>(n);
  }
  if (written == 0 && write_err != 0)
    out.line("blocked", "hub-scribble", errno_text(write_err));
  else
    out.line(found ? "breach" : "harmless", "hub-scribble",
             "overwrote " + std::to_string(written) + " of " + std::to_string(size) + " bytes");
  if (::ftruncate(fd, 0) != 0)
    out.line("blocked", "hub-truncate", errno_text(errno));
  else
    out.line(found ? "breach" : "harmless", "hub-truncate", "truncated to 0 bytes");
  ::close(fd);
  out.line("done", "-", "-");
  return 0;
}

// ---- level 2: /proc ----------------------------------------------------------------

std::set<pid_t> find_victims(const std::string& listed, report& out) {
  std::set<pid_t> victims;
  for (const auto& pid : split(listed, ','))
    victims.insert(static_cast<pid_t>(std::stol(pid)));
  const pid_t host = ::getppid();
  victims.insert(host);
  // The host's other children: every neighbour cell.
  const std::string tasks = "/proc/" + std::to_string(host) + "/task";
  if (DIR* dir = ::opendir(tasks.c_str())) {
    while (const dirent* entry = ::readdir(dir)) {
      if (entry->d_name[0] == '.')
        continue;
      std::ifstream children{tasks + "/" + entry->d_name + "/children"};
      for (pid_t child = 0; children >> child;)
        victims.insert(child);
    }
    ::closedir(dir);
  } else {
    out.line("note", "find-victims", tasks + ": " + errno_text(errno));
  }
  victims.erase(::getpid());
  std::string text;
  for (pid_t pid : victims)
    text += std::to_string(pid) + " ";
  out.line("note", "find-victims", "host " + std::to_string(host) + ", victims " + text);
  return victims;
}

// Lists the fd numbers in /proc/PID/fd, or 0..63 blind when the listing is refused.
std::vector<int> victim_fds(const std::string& pid, std::string& listing) {
  std::vector<int> fds;
  const std::string path = "/proc/" + pid + "/fd";
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) {
    listing = "listing refused (" + errno_text(errno) + "), tried 0..63 blind";
    for (int fd = 0; fd < 64; ++fd)
      fds.push_back(fd);
    return fds;
  }
  while (const dirent* entry = ::readdir(dir))
    if (entry->d_name[0] != '.')
      fds.push_back(std::atoi(entry->d_name));
  ::closedir(dir);
  listing = "listed " + std::to_string(fds.size()) + " descriptors";
  return fds;
}

// Reports an fd taken from a victim: memory is a breach, anything else an open gate.
void report_taken(report& out, const std::string& attempt, const std::string& from, int fd) {
  std::string what;
  const bool memory = is_memory(fd, what);
  out.line(memory ? "breach" : "exposed", attempt, from + " -> " + what);
}

void try_proc_fd(const std::string& pid, report& out) {
  std::string listing;
  refusals refused;
  int taken = 0;
  for (int n : victim_fds(pid, listing)) {
    const std::string path = "/proc/" + pid + "/fd/" + std::to_string(n);
    int err = 0;
    for (int flags : {O_RDWR, O_RDONLY}) {
      const int fd = ::open(path.c_str(), flags | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
      if (fd >= 0) {
        report_taken(out, "proc-fd", path + (flags == O_RDWR ? " (read-write)" : " (read-only)"),
                     fd);
        ::close(fd);
        ++taken;
        err = 0;
        break;
      }
      err = errno;
    }
    if (err != 0)
      refused.add(err);
  }
  out.line(taken == 0 ? "blocked" : "note", "proc-fd",
           pid + ": " + listing + "; " + refused.text());
}

void try_proc_map_files(const std::string& pid, report& out) {
  const std::string dir_path = "/proc/" + pid + "/map_files";
  DIR* dir = ::opendir(dir_path.c_str());
  if (dir == nullptr) {
    out.line("blocked", "proc-map-files", pid + ": listing refused (" + errno_text(errno) + ")");
    return;
  }
  std::vector<std::string> names;
  while (const dirent* entry = ::readdir(dir))
    if (entry->d_name[0] != '.')
      names.emplace_back(entry->d_name);
  ::closedir(dir);
  refusals refused;
  int taken = 0;
  for (const auto& name : names) {
    const std::string path = dir_path + "/" + name;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      refused.add(errno);
      continue;
    }
    report_taken(out, "proc-map-files", path, fd);
    ::close(fd);
    ++taken;
  }
  out.line(taken == 0 ? "blocked" : "note", "proc-map-files",
           pid + ": listed " + std::to_string(names.size()) + " mappings; " + refused.text());
}

// Picks an address worth reading in a victim: shared memory first, else anything
// writable; falls back to an arbitrary one when its maps are refused.
std::uintptr_t victim_address(const std::string& pid, std::string& what) {
  int err = 0;
  const auto maps = read_maps(pid, err);
  if (!maps) {
    what = "an arbitrary address (its maps: " + errno_text(err) + ")";
    return 0x10000;
  }
  for (bool want_shared : {true, false})
    for (const auto& m : *maps)
      if (m.readable && m.writable && m.shared == want_shared) {
        what = "[" + hex(m.lo) + ", " + hex(m.hi) + ") " + m.path;
        return m.lo;
      }
  what = "an arbitrary address (no writable mapping)";
  return 0x10000;
}

void try_proc_mem(const std::string& pid, report& out) {
  const std::string path = "/proc/" + pid + "/mem";
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  const bool writable = fd >= 0;
  if (fd < 0)
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    out.line("blocked", "proc-mem", pid + ": " + path + ": " + errno_text(errno));
    return;
  }
  std::string what;
  const auto address = victim_address(pid, what);
  std::array<char, 64> bytes{};
  const auto n = ::pread(fd, bytes.data(), bytes.size(), static_cast<off_t>(address));
  if (n <= 0) {
    out.line("exposed", "proc-mem",
             pid + ": " + path + " opened " + (writable ? "read-write" : "read-only") +
                 "; reading " + what + ": " + errno_text(errno));
  } else {
    std::string detail = pid + ": " + path + ": read " + std::to_string(n) + " bytes of " + what;
    if (writable &&
        ::pwrite(fd, bytes.data(), static_cast<std::size_t>(n), static_cast<off_t>(address)) == n)
      detail += " and wrote them back";
    out.line("breach", "proc-mem", detail);
  }
  ::close(fd);
}

void try_proc_environ(const std::string& pid, report& out) {
  const std::string path = "/proc/" + pid + "/environ";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    out.line("blocked", "proc-environ", pid + ": " + path + ": " + errno_text(errno));
    return;
  }
  std::array<char, 4096> bytes{};
  const auto n = ::read(fd, bytes.data(), bytes.size());
  ::close(fd);
  if (n > 0)
    out.line("breach", "proc-environ",
             pid + ": " + path + ": read " + std::to_string(n) + " bytes");
  else
    out.line(n == 0 ? "exposed" : "blocked", "proc-environ",
             pid + ": " + path + (n == 0 ? ": opened, empty" : ": read: " + errno_text(errno)));
}

void try_process_vm_readv(const std::string& pid, report& out) {
  std::string what;
  const auto address = victim_address(pid, what);
  std::array<char, 64> bytes{};
  iovec local{bytes.data(), bytes.size()};
  iovec remote{reinterpret_cast<void*>(address), bytes.size()};
  const auto n = ::process_vm_readv(static_cast<pid_t>(std::stol(pid)), &local, 1, &remote, 1, 0);
  if (n > 0)
    out.line("breach", "process-vm-readv",
             pid + ": read " + std::to_string(n) + " bytes of " + what);
  else if (errno == EFAULT)
    out.line("exposed", "process-vm-readv", pid + ": permitted; " + what + " unreadable");
  else
    out.line("blocked", "process-vm-readv", pid + ": " + errno_text(errno));
}

void try_pidfd_getfd(const std::string& pid, report& out) {
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, std::stol(pid), 0));
  if (pidfd < 0) {
    out.line("blocked", "pidfd-getfd", pid + ": pidfd_open: " + errno_text(errno));
    return;
  }
  std::string listing;
  refusals refused;
  int taken = 0;
  for (int n : victim_fds(pid, listing)) {
    const int fd = static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd, n, 0));
    if (fd < 0) {
      refused.add(errno);
      continue;
    }
    report_taken(out, "pidfd-getfd", pid + "/fd " + std::to_string(n), fd);
    ::close(fd);
    ++taken;
  }
  ::close(pidfd);
  out.line(taken == 0 ? "blocked" : "note", "pidfd-getfd",
           pid + ": " + listing + "; " + refused.text());
}

int walk_proc(const std::string& listed_victims, report& out) {
  for (pid_t victim : find_victims(listed_victims, out)) {
    const auto pid = std::to_string(victim);
    try_proc_fd(pid, out);
    try_proc_map_files(pid, out);
    try_proc_mem(pid, out);
    try_proc_environ(pid, out);
    try_process_vm_readv(pid, out);
    try_pidfd_getfd(pid, out);
  }
  out.line("done", "-", "-");
  return 0;
}

// ---- level 2: its own region's descriptor ------------------------------------------

// Takes a copy of a descriptor waiting on the doorbell without consuming the packet:
// MSG_PEEK duplicates SCM_RIGHTS descriptors, so `cell::attach` still gets the original.
int peek_handed_fd(int doorbell_fd) {
  std::uint64_t word = 0;
  iovec data{&word, sizeof(word)};
  alignas(cmsghdr) char control[CMSG_SPACE(4 * sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &data;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  if (::recvmsg(doorbell_fd, &msg, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC) < 0)
    return -1;
  for (cmsghdr* header = CMSG_FIRSTHDR(&msg); header != nullptr; header = CMSG_NXTHDR(&msg, header))
    if (header->cmsg_level == SOL_SOCKET && header->cmsg_type == SCM_RIGHTS) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(header), sizeof(int));
      return fd;
    }
  return -1;
}

// Finds a descriptor of the memory this cell shares with the host: the copy peeked at
// the doorbell, else a memfd "cellhub..." or the hub file among its own descriptors.
int find_region_fd(int peeked, const std::string& hub_path, report& out) {
  if (peeked >= 0) {
    out.line("note", "own-region-fd",
             "fd " + std::to_string(peeked) + " peeked at the doorbell -> " +
                 link_target("/proc/self/fd/" + std::to_string(peeked)));
    return peeked;
  }
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    int found = -1;
    while (const dirent* entry = ::readdir(dir)) {
      if (entry->d_name[0] == '.')
        continue;
      const auto target = link_target(std::string{"/proc/self/fd/"} + entry->d_name);
      if (target.starts_with("/memfd:cellhub") || target == hub_path) {
        found = std::atoi(entry->d_name);
        out.line("note", "own-region-fd",
                 "fd " + std::to_string(found) + " in /proc/self/fd -> " + target);
        break;
      }
    }
    ::closedir(dir);
    if (found >= 0)
      return ::dup(found);
  }
  return -1;
}

sigjmp_buf fault_jump;

void on_fault(int) {
  siglongjmp(fault_jump, 1);
}

CELLHUB_RAW_WRITE void poke(volatile char* at) {
  *at = 1;
}

// Maps `size + 1 page` of the region and writes the page past its end: the memory object
// must not grow, so the write faults (SIGBUS) inside the attacker.
void try_map_beyond(int fd, std::uint64_t size, report& out) {
  const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  void* view = ::mmap(nullptr, size + page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (view == MAP_FAILED) {
    out.line("blocked", "region-map-beyond", "mmap: " + errno_text(errno));
    return;
  }
  struct sigaction fault {};
  fault.sa_handler = on_fault;
  struct sigaction old_bus {
  }, old_segv{};
  ::sigaction(SIGBUS, &fault, &old_bus);
  ::sigaction(SIGSEGV, &fault, &old_segv);
  if (sigsetjmp(fault_jump, 1) == 0) {
    poke(static_cast<volatile char*>(view) + size);
    struct stat st {};
    (void)::fstat(fd, &st);
    out.line("exposed", "region-map-beyond",
             "wrote past the region's end; it is now " + std::to_string(st.st_size) + " bytes");
  } else {
    out.line("blocked", "region-map-beyond",
             "writing past the region's " + std::to_string(size) +
                 " bytes faults inside the attacker");
  }
  ::sigaction(SIGBUS, &old_bus, nullptr);
  ::sigaction(SIGSEGV, &old_segv, nullptr);
  ::munmap(view, size + page);
}

int attack_own_region(int peeked, const std::string& hub_path, report& out) {
  const int fd = find_region_fd(peeked, hub_path, out);
  if (fd < 0) {
    out.line("blocked", "own-region-fd", "no descriptor of shared memory in this cell");
    out.line("done", "-", "-");
    return 0;
  }
  struct stat st {};
  (void)::fstat(fd, &st);
  const auto size = static_cast<std::uint64_t>(st.st_size);
  const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  const int seals = ::fcntl(fd, F_GET_SEALS);
  out.line("note", "own-region-fd",
           std::to_string(size) + " bytes, seals " +
               (seals < 0 ? errno_text(errno) : hex(static_cast<std::uintptr_t>(seals))));

  // Growing cannot hurt the host (it maps the size it made), but the object is sealed.
  const auto verdict = [&](const char* attempt, int rc, const std::string& what,
                           const char* on_success) {
    if (rc == 0)
      out.line(on_success, attempt, what);
    else
      out.line("blocked", attempt, what + ": " + errno_text(errno));
  };
  verdict("region-add-seals", ::fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE),
          "F_ADD_SEALS F_SEAL_FUTURE_WRITE", "exposed");
  verdict("region-grow", ::ftruncate(fd, static_cast<off_t>(size + page)),
          "ftruncate to " + std::to_string(size + page), "exposed");
  verdict("region-fallocate", ::fallocate(fd, 0, static_cast<off_t>(size), 1 << 20),
          "fallocate 1 MiB past the end", "exposed");
  const char byte = 'x';
  verdict("region-write-past-end",
          ::pwrite(fd, &byte, 1, static_cast<off_t>(size + page)) == 1 ? 0 : -1,
          "pwrite a byte a page past the end", "exposed");
  try_map_beyond(fd, size, out);
  // Last: shrinking is the attack that would fault the host's next access to the end.
  verdict("region-shrink", ::ftruncate(fd, static_cast<off_t>(size - page)),
          "ftruncate to " + std::to_string(size - page), "breach");
  ::close(fd);
  out.line("done", "-", "-");
  return 0;
}

// ---- level 2: a new cell's first instants -----------------------------------------

std::string read_comm(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/comm"};
  std::string comm;
  std::getline(in, comm);
  return comm;
}

// Lists the host's children: its threads' /proc children lists, or else every process
// whose parent is the host.
std::set<pid_t> children_of(pid_t host) {
  std::set<pid_t> children;
  const std::string tasks = "/proc/" + std::to_string(host) + "/task";
  if (DIR* dir = ::opendir(tasks.c_str())) {
    while (const dirent* entry = ::readdir(dir)) {
      if (entry->d_name[0] == '.')
        continue;
      std::ifstream list{tasks + "/" + entry->d_name + "/children"};
      for (pid_t child = 0; list >> child;)
        children.insert(child);
    }
    ::closedir(dir);
  }
  return children;
}

// Describes what a stolen doorbell still carries: the peer region queued on it, taken
// with MSG_PEEK (the cell still gets it), and mapped read-write.
std::string describe_stolen_region(int region) {
  struct stat st {};
  (void)::fstat(region, &st);
  const auto size = static_cast<std::size_t>(st.st_size);
  std::string what = link_target("/proc/self/fd/" + std::to_string(region)) + ", " +
                     std::to_string(size) + " bytes";
  void* view =
      size > 0 ? ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, region, 0) : MAP_FAILED;
  if (view == MAP_FAILED)
    return what + " (mmap: " + errno_text(errno) + ")";
  what += ", mapped read-write";
  if (size >= sizeof(shm::region_header)) {
    const auto& header = *static_cast<const shm::region_header*>(view);
    if (std::memcmp(header.magic, shm::region_magic, sizeof(shm::region_magic)) == 0)
      what += ": peer " + std::to_string(header.peer_id) + " \"" +
              std::string{header.name, strnlen(header.name, sizeof(header.name))} + "\"";
  }
  ::munmap(view, size);
  return what;
}

// Reports what fd 3 of a starting cell gives: memory itself, or a doorbell with the
// cell's region still queued on it (taken with MSG_PEEK: the cell still gets it).
void report_stolen(int stolen, const std::string& pid, report& out) {
  std::string what;
  if (is_memory(stolen, what)) {
    out.line("breach", "exec-window", pid + ": took its fd 3 while it was starting: " + what);
    return;
  }
  const std::string taken = pid + ": took its fd 3 (" + what + ") while it was starting";
  const int region = peek_handed_fd(stolen);
  if (region < 0) {
    out.line("exposed", "exec-window", taken + "; no region was queued on it any more");
    return;
  }
  out.line("breach", "exec-window",
           taken + ", and the region queued on it: " + describe_stolen_region(region));
  ::close(region);
}

// Opens a starting cell's /proc/PID/mem and picks a writable address in it, for
// reading once the cell has made itself non-dumpable: the kernel checks the access when
// the file is opened, not when it is read.
struct kept_memory {
  int fd = -1;
  std::uintptr_t address = 0;
  std::string what;
};

kept_memory keep_memory(const std::string& pid) {
  kept_memory kept;
  int err = 0;
  const auto maps = read_maps(pid, err);
  if (!maps)
    return kept;
  kept.fd = ::open(("/proc/" + pid + "/mem").c_str(), O_RDWR | O_CLOEXEC);
  for (const auto& m : *maps)
    if (kept.fd >= 0 && m.readable && m.writable) {
      kept.address = m.lo;
      kept.what = "[" + hex(m.lo) + ", " + hex(m.hi) + ") " + m.path;
      break;
    }
  return kept;
}

// Races a cell that is starting: from its exec until `cell::attach` makes it
// non-dumpable, a process of the same user may take its descriptors with pidfd_getfd
// (fd 3 is its doorbell, on which the host queued its region before it started) and
// open its /proc/PID/mem, which keeps working after the cell becomes non-dumpable.
void race_exec_window(pid_t victim, const std::string& host_comm, report& out) {
  const auto pid = std::to_string(victim);
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, victim, 0));
  if (pidfd < 0) {
    out.line("note", "exec-window", pid + ": pidfd_open: " + errno_text(errno));
    return;
  }
  const bool seen_before_exec = read_comm(victim) == host_comm;
  const auto deadline = clock_type::now() + std::chrono::seconds{5};
  int before_exec = 0;
  bool stole = false;
  kept_memory memory;
  refusals after_exec;
  std::string ended = "5 s passed";
  while (clock_type::now() < deadline) {
    // Looked at before the try: a refusal counts as after the exec only if the exec
    // had certainly happened when it was asked.
    const bool execd = read_comm(victim) != host_comm;
    if (execd && memory.fd < 0)
      memory = keep_memory(pid);
    const int stolen = stole ? -1 : static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd, 3, 0));
    if (stolen >= 0) {
      report_stolen(stolen, pid, out);
      ::close(stolen);
      stole = true;
      continue; // on until it is non-dumpable, for the kept /proc/PID/mem
    }
    // Once fd 3 is taken, ask for fd 0 to learn when the cell turns non-dumpable.
    const int probe = stole ? static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd, 0, 0)) : -1;
    if (probe >= 0) {
      ::close(probe);
      continue;
    }
    const int err = errno;
    if (err == ESRCH) {
      ended = "it exited";
      break;
    }
    if (!execd) {
      ++before_exec;
      continue;
    }
    after_exec.add(err);
    if (err == EPERM) {
      ended = "it refused after its exec";
      break;
    }
  }
  ::close(pidfd);
  if (memory.fd >= 0) {
    std::array<char, 64> bytes{};
    const auto n =
        ::pread(memory.fd, bytes.data(), bytes.size(), static_cast<off_t>(memory.address));
    if (n > 0 && ended == "it refused after its exec")
      out.line("breach", "exec-window",
               pid + ": /proc/" + pid + "/mem opened while it was starting still reads " +
                   memory.what + " now that it is not dumpable");
    else
      out.line("exposed", "exec-window",
               pid + ": opened /proc/" + pid + "/mem while it was starting (" +
                   (n > 0 ? "reads " + memory.what : "read: " + errno_text(errno)) + ")");
    ::close(memory.fd);
  }
  if (!stole)
    out.line(after_exec.tried > 0 ? "blocked" : "note", "exec-window",
             pid + ": first seen " + (seen_before_exec ? "before" : "after") + " its exec; " +
                 std::to_string(before_exec) + " tries before its exec, then " + after_exec.text() +
                 "; " + ended);
}

// Watches the host's new children (the cells it starts after the "go"; `seen` lists the
// others), races each one and then tells the host "raced PID", until the host sends
// "stop" (or 60 s pass).
int watch_exec_windows(tr::cell& self, std::set<pid_t> seen, report& out) {
  const pid_t host = ::getppid();
  const auto host_comm = read_comm(host);
  const auto deadline = clock_type::now() + std::chrono::seconds{60};
  int raced = 0;
  while (clock_type::now() < deadline) {
    auto next = self.try_receive();
    if (!next) {
      out.line("note", "exec-window", "receive: " + next.error().message());
      break;
    }
    if (next.value() && next.value()->kind == shm::message_kind::message)
      break; // "stop"
    for (pid_t child : children_of(host))
      if (seen.insert(child).second) {
        race_exec_window(child, host_comm, out);
        ++raced;
        // Tells the host, which keeps the cell alive until then.
        const auto note = "raced " + std::to_string(child);
        (void)self.send(std::as_bytes(std::span{note.data(), note.size()}));
      }
  }
  out.line("note", "exec-window", "raced " + std::to_string(raced) + " starting cells");
  out.line("done", "-", "-");
  return 0;
}

// ---- level 2: taking another peer's id ---------------------------------------------

int impersonate(const tr::cell_ticket& own, const std::string& targets, report& out) {
  for (const auto& target : split(targets, ',')) {
    const auto colon = target.find(':');
    tr::cell_ticket forged = own;
    forged.peer_id = static_cast<std::uint16_t>(std::stoul(target.substr(0, colon)));
    forged.incarnation = static_cast<std::uint32_t>(std::stoul(target.substr(colon + 1)));
    // No file holds the tokens (a region's header has them, and only its cell maps it),
    // so guessing is what is left.
    forged.attach_token = random_u64();
    // A copy: a refused attach closes the doorbell it was given.
    forged.doorbell_fd = ::dup(own.doorbell_fd);
    const std::string who = "peer " + std::to_string(forged.peer_id) + " incarnation " +
                            std::to_string(forged.incarnation) + " with a guessed token";
    auto stolen = tr::cell::attach(forged, {.parent_death_signal = 0, .announce_ready = false});
    if (stolen)
      out.line("breach", "impersonate", "attached as " + who);
    else
      out.line("blocked", "impersonate", who + ": " + stolen.error().message());
  }
  out.line("done", "-", "-");
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  const auto attack = option(argc, argv, "attack");
  const auto report_path = option(argc, argv, "report");
  if (attack.empty() || report_path.empty()) {
    std::fprintf(stderr, "hostile_isolation_cell: --attack= and --report= are required\n");
    return 11;
  }
  const int report_fd =
      ::open(report_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_APPEND, 0600);
  if (report_fd < 0) {
    std::perror("hostile_isolation_cell: report");
    return 12;
  }
  report out{report_fd};
  // The faults it provokes leave no core file behind.
  const rlimit no_core{0, 0};
  (void)::setrlimit(RLIMIT_CORE, &no_core);
  if (!drop_capabilities(out))
    return 10;

  auto ticket = tr::cell_ticket::from_arguments_or_environment(argc, argv);
  if (!ticket) {
    out.line("note", "attach", ticket.error().message());
    return 2;
  }
  const int peeked = attack == "own-region" ? peek_handed_fd(ticket.value().doorbell_fd) : -1;
  auto attached = tr::cell::attach(ticket.value());
  if (!attached) {
    out.line("note", "attach", attached.error().message());
    return 2;
  }
  auto& self = attached.value();
  out.line("note", "attach",
           "attached as peer " + std::to_string(self.peer_id()) + " incarnation " +
               std::to_string(self.incarnation()) + ", pid " + std::to_string(::getpid()));
  // The host's children before the go (the exec-window attack races only later ones).
  const auto children_before_go = children_of(::getppid());
  // The host says when: its first message.
  for (;;) {
    auto go = self.receive(std::chrono::seconds{30});
    if (!go) {
      out.line("note", "go", go.error().message());
      return 3;
    }
    if (go.value().kind == shm::message_kind::message)
      break;
  }

  if (attack == "wild-after" || attack == "wild-before")
    return wild_write(self, attack == "wild-after", out);
  if (attack == "scribble" || attack == "scribble-plausible")
    return scribble(self, attack == "scribble-plausible", out);
  if (attack == "hub-path")
    return attack_hub_path(self, ticket.value().hub_path, out);
  if (attack == "proc-walk")
    return walk_proc(option(argc, argv, "victims"), out);
  if (attack == "own-region")
    return attack_own_region(peeked, ticket.value().hub_path, out);
  if (attack == "exec-window")
    return watch_exec_windows(self, children_before_go, out);
  if (attack == "impersonate")
    return impersonate(ticket.value(), option(argc, argv, "targets"), out);
  out.line("note", "usage", "unknown attack " + attack);
  return 11;
}
