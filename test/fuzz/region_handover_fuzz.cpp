// Fuzzes what a cell trusts when it attaches: the packet on its doorbell (the region's
// descriptor and the size word sent with it), the memory object behind the descriptor
// (its kind, seals, actual size, whether it can be mapped read-write), and the
// host-written region header at its start (magic, version, peer id, incarnation, token,
// host pid, layout, name) and the peer entry's state, against the cell's ticket. The
// input builds the region as a host would for one of a few geometries (or one it
// describes), then bends any of it; a real cell::attach takes it.
//
// attach must either succeed, exactly when nothing was bent that the cell has to refuse,
// with the geometry the layout describes (layout_checks.hpp), the ticket's identity, the
// entry marked attached and READY published where the layout puts the ring, or fail with
// one of the reasons that apply: `bad_ticket` for a packet that is not one descriptor
// and one word, `bad_layout` for a memory object that is not a sealed memfd of the size
// its word and layout give, that cannot be mapped read-write, or whose layout no host
// writes, `bad_magic`, `version_mismatch`, `unknown_peer`, `stale_incarnation`,
// `bad_token`, `not_reserved`, and `peer_dead` when the host hung up. Either way it
// must not crash, read outside the region (ASan) or keep a descriptor open: the
// process's count of open descriptors is back at its start after every input.

#include "layout_checks.hpp"

#include "cellhub/transport/cell.hpp"
#include "cellhub/transport/doorbell.hpp"
#include "cellhub/transport/fd_limit.hpp"

#include <algorithm>
#include <array>
#include <fcntl.h>
#include <string>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace {

using namespace cellhub::fuzz;

// Bounds the regions tried (sparse memfds: this bounds address space, not memory).
constexpr std::uint64_t max_region = std::uint64_t{64} << 20;

// Is what the fuzzer hands the cell instead of (or as) the region.
enum class fd_kind : std::uint8_t {
  memfd,      // a memfd, as the host makes it
  unsealable, // a memfd created without MFD_ALLOW_SEALING
  read_only,  // the sealed memfd, reopened read-only
  tmpfile,    // an unnamed file in /tmp
  pipe,       // the read end of a pipe
  dev_null,   // a character device
  directory,  // a directory
  count
};

// Is how the descriptor travels.
enum class packet : std::uint8_t {
  send_fd,    // doorbell::send_fd, as the host does
  none,       // nothing is sent
  no_fd,      // a word of any length without a descriptor
  extra_fds,  // the descriptor and a few more
  odd_word,   // the descriptor with a word of another length
  wake_first, // a wake-up byte queued ahead of the packet
  count
};

// Lists the seals the host adds.
constexpr int host_seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;

// Names F_SEAL_EXEC (Linux 6.3), which this libc's headers predate.
constexpr int seal_exec = 0x0020;

// Holds the descriptors the fuzzer opened, closed when the input is done.
struct owned_fds {
  std::vector<int> fds;
  int add(int fd) {
    FUZZ_CHECK(fd >= 0, "cannot open a descriptor: {}", std::strerror(errno));
    fds.push_back(fd);
    return fd;
  }
  void close(int fd) {
    const auto at = std::find(fds.begin(), fds.end(), fd);
    FUZZ_CHECK(at != fds.end(), "fd {} not the fuzzer's", fd);
    fds.erase(at);
    ::close(fd);
  }
  ~owned_fds() {
    for (const int fd : fds)
      ::close(fd);
  }
};

// Returns the geometry the input chooses: one of a few fixed ones, or one it describes.
std::optional<tr::hub_geometry> choose_geometry(fuzz_input& in) {
  tr::hub_config config;
  switch (in.take<std::uint8_t>() % 5) {
  case 0: // the other shared-memory targets' hub
    config.max_peers = 1;
    config.ring_capacity = 8;
    config.slot_classes = {{64, 4}, {256, 2}, {1024, 1}};
    break;
  case 1: // the smallest there is
    config.max_peers = 1;
    config.ring_capacity = 2;
    config.slot_classes = {{64, 1}};
    break;
  case 2: // every class used
    config.max_peers = 3;
    config.ring_capacity = 4;
    config.slot_classes.clear();
    for (std::uint32_t i = 1; i <= shm::max_slot_classes; ++i)
      config.slot_classes.push_back({64 * i, 1});
    break;
  case 3: // the default classes (a region of 10 MiB)
    config.max_peers = 64;
    config.ring_capacity = 256;
    break;
  default: { // described by the input
    config.max_peers = static_cast<std::uint16_t>(in.take<std::uint16_t>() % 4096 + 1);
    config.ring_capacity = 1u << (in.take<std::uint8_t>() % 16 + 1);
    config.slot_classes.clear();
    const auto classes = in.take<std::uint8_t>() % shm::max_slot_classes + 1;
    std::uint32_t size = 0;
    for (std::size_t i = 0; i < classes; ++i) {
      size += 64 * (in.take<std::uint8_t>() % 64 + 1);
      const std::uint32_t count = in.take<std::uint8_t>() + 1u;
      config.slot_classes.push_back({size, count});
    }
  }
  }
  auto computed = tr::hub_geometry::compute(config);
  if (!computed || computed.value().region_size > max_region)
    return std::nullopt;
  return std::move(computed).value();
}

// Bends the header: single bytes, whole words, or a nudge to one word of the layout.
void bend(shm::region_header& header, fuzz_input& in) {
  auto* bytes = reinterpret_cast<std::uint8_t*>(&header);
  const auto edits = in.take<std::uint8_t>() % 16;
  for (int i = 0; i < edits; ++i) {
    switch (in.take<std::uint8_t>() % 3) {
    case 0: {
      const auto at = in.take<std::uint8_t>() % sizeof(header);
      bytes[at] = in.take<std::uint8_t>();
      break;
    }
    case 1: {
      const auto at = in.take<std::uint8_t>() % (sizeof(header) - 7);
      const auto value = in.take<std::uint64_t>();
      std::memcpy(bytes + at, &value, sizeof(value));
      break;
    }
    default: {
      const auto at = offsetof(shm::region_header, layout) +
                      8 * (in.take<std::uint8_t>() % (sizeof(shm::layout_desc) / 8));
      std::uint64_t value = 0;
      std::memcpy(&value, bytes + at, sizeof(value));
      value += static_cast<std::uint64_t>(std::int64_t{in.take<std::int16_t>()});
      std::memcpy(bytes + at, &value, sizeof(value));
    }
    }
  }
}

// Returns the region's actual size as the input asks: the layout's, near it, or small.
std::uint64_t choose_size(std::uint64_t region_size, fuzz_input& in) {
  std::int64_t size = static_cast<std::int64_t>(region_size);
  switch (in.take<std::uint8_t>() % 5) {
  case 0:
    break;
  case 1:
    size += std::int64_t{in.take<std::int8_t>()} * static_cast<std::int64_t>(shm::page_size);
    break;
  case 2:
    size += in.take<std::int8_t>();
    break;
  case 3:
    size = in.take<std::uint16_t>();
    break;
  default:
    size = in.take<std::uint32_t>();
  }
  return static_cast<std::uint64_t>(std::clamp<std::int64_t>(size, 0, max_region));
}

// Sends `word_bytes` bytes of `word` with the descriptors `fds` in one packet.
void send_packet(int bell, std::uint64_t word, std::size_t word_bytes,
                 const std::vector<int>& fds) {
  std::array<std::uint8_t, 16> payload{};
  std::memcpy(payload.data(), &word, sizeof(word));
  iovec data{payload.data(), std::min(word_bytes, payload.size())};
  std::vector<char> control(CMSG_SPACE(sizeof(int) * std::max<std::size_t>(fds.size(), 1)));
  msghdr msg{};
  msg.msg_iov = &data;
  msg.msg_iovlen = 1;
  if (!fds.empty()) {
    msg.msg_control = control.data();
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* header = CMSG_FIRSTHDR(&msg);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(header), fds.data(), sizeof(int) * fds.size());
  }
  FUZZ_CHECK(::sendmsg(bell, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) ==
                 static_cast<ssize_t>(data.iov_len),
             "sendmsg: {}", std::strerror(errno));
}

// Collects the reasons a cell may give for refusing the input (a few bits of errc).
struct reasons {
  std::uint64_t bits = 0;
  void add(tr::errc code) { bits |= std::uint64_t{1} << static_cast<unsigned>(code); }
  [[nodiscard]] bool empty() const { return bits == 0; }
  [[nodiscard]] bool has(tr::errc code) const { return (bits >> static_cast<unsigned>(code)) & 1u; }
  [[nodiscard]] std::string list() const {
    std::string out;
    for (const auto code : tr::all_errcs)
      if (has(code))
        out += fmt::format("{}{}", out.empty() ? "" : ", ", tr::to_string(code));
    return out;
  }
};

// Reads `count` bytes at `offset` of the region through the fuzzer's own descriptor.
template <class T>
T read_region(int fd, std::uint64_t offset) {
  T value{};
  FUZZ_CHECK(::pread(fd, &value, sizeof(value), static_cast<off_t>(offset)) ==
                 static_cast<ssize_t>(sizeof(value)),
             "cannot read the region at {}", offset);
  return value;
}

// Checks what a successful attach left in the region, as the host would see it.
void check_attached(tr::cell& attached, const tr::cell_ticket& ticket,
                    const shm::region_header& header, std::uint64_t size, int region_fd) {
  const auto& g = attached.link().geometry();
  check_geometry(g, size);
  const auto expected = tr::hub_geometry::from_layout(header.layout, size);
  FUZZ_CHECK(expected && same_geometry(g, expected.value()),
             "the cell's geometry is not the one its layout describes");
  FUZZ_CHECK(attached.peer_id() == ticket.peer_id && attached.incarnation() == ticket.incarnation,
             "attached as peer {} life {}", attached.peer_id(), attached.incarnation());
  const std::string name{header.name, strnlen(header.name, sizeof(header.name))};
  FUZZ_CHECK(attached.name() == name, "attached as '{}', the header names '{}'", attached.name(),
             name);
  // The cell wrote nothing over the header the host wrote.
  const auto now = read_region<shm::region_header>(region_fd, 0);
  FUZZ_CHECK(std::memcmp(&now, &header, sizeof(header)) == 0, "the cell wrote over its header");
  // The entry says attached, by this process, with a heartbeat.
  const auto entry = read_region<std::array<std::uint64_t, 4>>(region_fd, g.entry_offset);
  const auto line = read_region<std::array<std::uint64_t, 3>>(
      region_fd, g.entry_offset + offsetof(shm::peer_entry, cell_pid));
  FUZZ_CHECK((entry[0] & 0xFFFF'FFFFu) == static_cast<std::uint32_t>(shm::peer_state::attached),
             "entry state {} after attach", entry[0] & 0xFFFF'FFFFu);
  FUZZ_CHECK((line[0] & 0xFFFF'FFFFu) == static_cast<std::uint32_t>(::getpid()) && line[1] >= 1,
             "entry pid {} heartbeat {}", line[0] & 0xFFFF'FFFFu, line[1]);
  // READY is the first descriptor of the cell→host ring, where the layout puts it.
  const auto head = read_region<std::uint64_t>(region_fd, g.to_host_ring_offset);
  const auto ready =
      read_region<shm::descriptor>(region_fd, g.to_host_ring_offset + sizeof(shm::ring_header));
  shm::ready_payload payload{};
  std::memcpy(&payload, ready.inline_data, sizeof(payload));
  FUZZ_CHECK(head == 1 && ready.kind == static_cast<std::uint16_t>(shm::message_kind::ready) &&
                 ready.slot == shm::inline_slot && ready.length == sizeof(payload) &&
                 payload.pid == static_cast<std::uint32_t>(::getpid()) &&
                 payload.name_length == std::min<std::size_t>(name.size(), sizeof(payload.name)) &&
                 std::memcmp(payload.name, name.data(), payload.name_length) == 0,
             "READY not published where the layout puts the ring (head {}, kind {})", head,
             ready.kind);
}

void run(fuzz_input& in) {
  auto geometry = choose_geometry(in);
  if (!geometry)
    return;
  const auto& g = *geometry;

  // The ticket, and the header a host writes for it.
  tr::cell_ticket ticket;
  ticket.hub_path = "/dev/shm/cellhub-fuzz-region-handover";
  ticket.peer_id = in.take<std::uint16_t>();
  ticket.incarnation = in.take<std::uint32_t>();
  ticket.attach_token = in.take<std::uint64_t>();
  shm::region_header header{};
  std::memcpy(header.magic, shm::region_magic, sizeof(header.magic));
  header.version_major = shm::version_major;
  header.version_minor = shm::version_minor;
  header.peer_id = ticket.peer_id;
  header.incarnation = ticket.incarnation;
  header.host_pid = static_cast<std::uint32_t>(::getpid());
  header.attach_token = ticket.attach_token;
  header.hub_nonce = in.take<std::uint64_t>();
  g.store(header.layout);
  in.take_bytes(
      {reinterpret_cast<std::byte*>(header.name), in.take<std::uint8_t>() % sizeof(header.name)});
  const auto state = static_cast<std::uint32_t>(in.take<std::uint8_t>() % 6);
  bend(header, in);

  const auto kind =
      static_cast<fd_kind>(in.take<std::uint8_t>() % static_cast<int>(fd_kind::count));
  const auto seal_bits = in.take<std::uint8_t>();
  int seals = host_seals;
  if (seal_bits & 1u)
    seals &= ~F_SEAL_SHRINK;
  if (seal_bits & 2u)
    seals &= ~F_SEAL_GROW;
  if (seal_bits & 4u)
    seals &= ~F_SEAL_SEAL;
  if (seal_bits & 8u)
    seals |= F_SEAL_WRITE;
  if (seal_bits & 16u)
    seals |= F_SEAL_FUTURE_WRITE;
  if (seal_bits & 32u)
    seals |= seal_exec;
  const auto size = choose_size(g.region_size, in);
  std::uint64_t word = size;
  switch (in.take<std::uint8_t>() % 3) {
  case 0:
    break;
  case 1:
    word += static_cast<std::uint64_t>(std::int64_t{in.take<std::int8_t>()});
    break;
  default:
    word = in.take<std::uint64_t>();
  }
  const auto how = static_cast<packet>(in.take<std::uint8_t>() % static_cast<int>(packet::count));
  const std::size_t extra = how == packet::extra_fds ? in.take<std::uint8_t>() % 8 : 0;
  const std::size_t word_bytes =
      how == packet::odd_word || how == packet::no_fd ? in.take<std::uint8_t>() % 17 : 8;
  const bool hang_up = in.take<std::uint8_t>() & 1u;

  const auto fds_at_start = tr::count_open_fds();
  owned_fds mine;
  {
    // The region, as a host fills it: the header, the entry, zeros.
    int region_fd = -1;
    int handed_fd = -1;
    auto fill = [&](int fd) {
      FUZZ_CHECK(::ftruncate(fd, static_cast<off_t>(size)) == 0, "ftruncate: {}",
                 std::strerror(errno));
      const auto head = std::min<std::uint64_t>(size, sizeof(header));
      FUZZ_CHECK(::pwrite(fd, &header, head, 0) == static_cast<ssize_t>(head), "pwrite header");
      if (g.entry_offset + sizeof(shm::peer_entry) <= size)
        FUZZ_CHECK(::pwrite(fd, &state, sizeof(state), static_cast<off_t>(g.entry_offset)) ==
                       static_cast<ssize_t>(sizeof(state)),
                   "pwrite entry");
    };
    switch (kind) {
    case fd_kind::memfd:
    case fd_kind::read_only: {
      region_fd = mine.add(::memfd_create("cellhub-fuzz", MFD_CLOEXEC | MFD_ALLOW_SEALING));
      fill(region_fd);
      // A kernel before 6.3 does not know F_SEAL_EXEC; the rest still applies.
      bool sealed = ::fcntl(region_fd, F_ADD_SEALS, seals) == 0;
      if (!sealed && errno == EINVAL && (seals & seal_exec) != 0) {
        seals &= ~seal_exec;
        sealed = ::fcntl(region_fd, F_ADD_SEALS, seals) == 0;
      }
      FUZZ_CHECK(sealed, "seal {:#x}: {}", seals, std::strerror(errno));
      // The seals in force: F_SEAL_EXEC on an executable memfd implies F_SEAL_WRITE.
      seals = ::fcntl(region_fd, F_GET_SEALS);
      handed_fd = kind == fd_kind::memfd
                      ? region_fd
                      : mine.add(::open(fmt::format("/proc/self/fd/{}", region_fd).c_str(),
                                        O_RDONLY | O_CLOEXEC));
      break;
    }
    case fd_kind::unsealable:
      region_fd = handed_fd = mine.add(::memfd_create("cellhub-fuzz", MFD_CLOEXEC));
      fill(region_fd);
      break;
    case fd_kind::tmpfile:
      region_fd = handed_fd = mine.add(::open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
      fill(region_fd);
      break;
    case fd_kind::pipe: {
      int ends[2];
      FUZZ_CHECK(::pipe2(ends, O_CLOEXEC) == 0, "pipe2");
      handed_fd = mine.add(ends[0]);
      mine.add(ends[1]);
      break;
    }
    case fd_kind::dev_null:
      handed_fd = mine.add(::open("/dev/null", O_RDWR | O_CLOEXEC));
      break;
    case fd_kind::directory:
    case fd_kind::count:
      handed_fd = mine.add(::open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      break;
    }

    auto bells = tr::doorbell::create_pair();
    FUZZ_CHECK(bells.has_value(), "doorbell pair: {}", bells ? "" : bells.error().message());
    auto& host_bell = bells.value().first;
    ticket.doorbell_fd = bells.value().second.release();
    mine.add(ticket.doorbell_fd); // until attach takes it

    // The handover, as the input bends it.
    switch (how) {
    case packet::send_fd: {
      const auto sent = host_bell.send_fd(handed_fd, word);
      FUZZ_CHECK(sent.has_value(), "send_fd: {}", sent ? "" : sent.error().message());
      break;
    }
    case packet::none:
      break;
    case packet::no_fd:
      send_packet(host_bell.fd(), word, word_bytes, {});
      break;
    case packet::extra_fds: {
      std::vector<int> fds{handed_fd};
      for (std::size_t i = 0; i < extra; ++i)
        fds.push_back(mine.add(::open("/dev/null", O_RDONLY | O_CLOEXEC)));
      send_packet(host_bell.fd(), word, 8, fds);
      for (std::size_t i = 1; i < fds.size(); ++i)
        mine.close(fds[i]);
      break;
    }
    case packet::odd_word:
      send_packet(host_bell.fd(), word, word_bytes, {handed_fd});
      break;
    case packet::wake_first:
    case packet::count:
      FUZZ_CHECK(host_bell.signal() == tr::signal_result::sent, "wake-up not sent");
      send_packet(host_bell.fd(), word, 8, {handed_fd});
      break;
    }
    // The descriptor is in flight; the fuzzer keeps only what it reads the region through.
    if (handed_fd != region_fd)
      mine.close(handed_fd);
    if (hang_up)
      host_bell.close();

    // The reasons a cell may give: first those of the handover, which stop it before it
    // can read the header.
    reasons why;
    const bool one_descriptor = how == packet::send_fd ||
                                (how == packet::extra_fds && 1 + extra <= 4) ||
                                (how == packet::odd_word && word_bytes == 8);
    if (how == packet::none)
      why.add(hang_up ? tr::errc::peer_dead : tr::errc::bad_ticket);
    else if (how == packet::no_fd && word_bytes == 0) {
      // An empty packet without descriptors reads like the end closing (0 bytes, nothing
      // else); the doorbell takes every such read for a hang-up.
      why.add(tr::errc::bad_ticket);
      why.add(tr::errc::peer_dead);
    } else if (!one_descriptor)
      why.add(tr::errc::bad_ticket);
    else if (kind != fd_kind::memfd && kind != fd_kind::read_only)
      why.add(tr::errc::bad_layout); // not a memory object whose size is sealed
    else if ((seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW) ||
             word != size || size < sizeof(header))
      why.add(tr::errc::bad_layout); // its size can change, or is not the one sent
    else if (kind == fd_kind::read_only || (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) != 0)
      why.add(tr::errc::bad_layout); // it cannot be mapped read-write
    if (why.empty()) {
      if (std::memcmp(header.magic, shm::region_magic, sizeof(header.magic)) != 0)
        why.add(tr::errc::bad_magic);
      if (header.version_major != shm::version_major)
        why.add(tr::errc::version_mismatch);
      if (header.peer_id != ticket.peer_id)
        why.add(tr::errc::unknown_peer);
      if (header.incarnation != ticket.incarnation)
        why.add(tr::errc::stale_incarnation);
      if (header.attach_token != ticket.attach_token)
        why.add(tr::errc::bad_token);
      if (!model_accepts(header.layout, size))
        why.add(tr::errc::bad_layout);
      if (hang_up && header.host_pid != static_cast<std::uint32_t>(::getppid()))
        why.add(tr::errc::peer_dead);
      if (state != static_cast<std::uint32_t>(shm::peer_state::reserved))
        why.add(tr::errc::not_reserved);
    }

    auto attached = tr::cell::attach(ticket, {.parent_death_signal = 0, .dumpable = true});
    // The doorbell fd is the cell's now, attached or not.
    mine.fds.erase(std::find(mine.fds.begin(), mine.fds.end(), ticket.doorbell_fd));
    if (attached) {
      FUZZ_CHECK(why.empty(), "attach succeeded; expected one of: {}", why.list());
      check_attached(attached.value(), ticket, header, size, region_fd);
      // Only what the cell keeps is open: its doorbell, not the region's descriptor.
      FUZZ_CHECK(tr::count_open_fds() == fds_at_start + mine.fds.size() + 1 + (hang_up ? 0 : 1),
                 "{} fds open while attached, expected {}", tr::count_open_fds(),
                 fds_at_start + mine.fds.size() + 1 + (hang_up ? 0 : 1));
    } else {
      const auto code = attached.error().code;
      FUZZ_CHECK(!why.empty(), "attach refused a sound region: {}", attached.error().message());
      FUZZ_CHECK(why.has(code) && !attached.error().detail.empty(),
                 "attach refused with {}; expected one of: {}", attached.error().message(),
                 why.list());
    }
  }
  // The cell, the bells and the fuzzer's descriptors are gone: nothing stays open.
  for (const int fd : mine.fds)
    ::close(fd);
  mine.fds.clear();
  FUZZ_CHECK(tr::count_open_fds() == fds_at_start, "{} fds open after the input, {} before",
             tr::count_open_fds(), fds_at_start);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz_input in{data, size};
  run(in);
  return 0;
}
