// Fuzzes the hub header as a cell validates it: hub_geometry::from_header on any 192 bytes
// and any file size, then, for a header it accepts (and a file small enough), a real
// cell::attach on a hub file holding those bytes.
//
// A header from_header accepts must describe a hub whose every part lies inside the file,
// without overlap, exactly as compute() lays it out (store() writes the same header back);
// one it refuses must be refused as `bad_layout`. attach must refuse every header the
// checks refuse (magic, major version, layout) with the matching error, and accept a valid
// one only for a reserved entry with the right incarnation and token.

#include "fuzz_input.hpp"

#include "cellhub/transport/cell.hpp"
#include "cellhub/transport/hub_geometry.hpp"

#include <bit>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using namespace cellhub::fuzz;
namespace tr = cellhub::transport;
namespace shm = cellhub::transport::shm;

// Bounds the hub files attach is tried on (the file is sparse; this bounds its pages).
constexpr std::uint64_t max_attach_file = 1u << 20;

void check_geometry(const tr::hub_geometry& g, const shm::hub_header& h, std::uint64_t size) {
  FUZZ_CHECK(g.file_size == size && h.file_size == size, "file size {} / {} / {}", g.file_size,
             h.file_size, size);
  FUZZ_CHECK(g.max_peers >= 1 && g.max_peers == h.max_peers, "max_peers {}", g.max_peers);
  FUZZ_CHECK(g.ring_capacity >= 2 && std::has_single_bit(g.ring_capacity), "ring capacity {}",
             g.ring_capacity);
  FUZZ_CHECK(!g.classes.empty() && g.classes.size() <= shm::max_slot_classes &&
                 g.class_first_slot.size() == g.classes.size() + 1 &&
                 g.class_offset.size() == g.classes.size(),
             "{} classes", g.classes.size());
  std::uint64_t slots = 0;
  for (std::size_t c = 0; c < g.classes.size(); ++c) {
    const auto& cls = g.classes[c];
    FUZZ_CHECK(cls.slot_size >= 64 && cls.slot_size % 64 == 0 && cls.slot_count >= 1,
               "class {}: {} x {}", c, cls.slot_count, cls.slot_size);
    FUZZ_CHECK(c == 0 || cls.slot_size > g.classes[c - 1].slot_size, "class {} does not grow", c);
    FUZZ_CHECK(g.class_first_slot[c] == slots, "class {} starts at slot {}", c,
               g.class_first_slot[c]);
    const auto end = g.class_offset[c] + std::uint64_t{cls.slot_size} * cls.slot_count;
    FUZZ_CHECK(end <= g.arena_size, "class {} ends at {}, arena {}", c, end, g.arena_size);
    FUZZ_CHECK(c == 0 || g.class_offset[c] >=
                             g.class_offset[c - 1] + std::uint64_t{g.classes[c - 1].slot_size} *
                                                         g.classes[c - 1].slot_count,
               "class {} overlaps the one before", c);
    // The first and last slot of the class map back to it and stay inside the arena.
    for (const auto slot : {g.class_first_slot[c], g.class_first_slot[c] + cls.slot_count - 1}) {
      FUZZ_CHECK(g.class_of(slot) == c && g.slot_size(slot) == cls.slot_size, "slot {} in class {}",
                 slot, g.class_of(slot));
      FUZZ_CHECK(g.slot_offset(slot) + cls.slot_size <= g.arena_size, "slot {} ends past the arena",
                 slot);
    }
    slots += cls.slot_count;
  }
  FUZZ_CHECK(g.slot_total() == slots && g.return_capacity >= slots &&
                 std::has_single_bit(g.return_capacity),
             "{} slots, return ring of {}", g.slot_total(), g.return_capacity);
  // The table, then the regions, each holding control, rings, returns and two arenas in order.
  FUZZ_CHECK(g.peer_table_offset >= sizeof(shm::hub_header) &&
                 g.peer_table_offset + std::uint64_t{g.max_peers} * sizeof(shm::peer_entry) <=
                     g.peer_region_offset,
             "peer table overlaps the regions");
  const std::uint64_t ring_bytes =
      sizeof(shm::ring_header) + std::uint64_t{g.ring_capacity} * sizeof(shm::descriptor);
  const std::uint64_t return_bytes =
      sizeof(shm::ring_header) + std::uint64_t{g.return_capacity} * sizeof(std::uint32_t);
  FUZZ_CHECK(g.to_cell_ring_offset >= sizeof(shm::peer_control) &&
                 g.to_cell_ring_offset + ring_bytes <= g.to_host_ring_offset &&
                 g.to_host_ring_offset + ring_bytes <= g.to_cell_return_offset &&
                 g.to_cell_return_offset + return_bytes <= g.to_host_return_offset &&
                 g.to_host_return_offset + return_bytes <= g.to_cell_arena_offset &&
                 g.to_cell_arena_offset + g.arena_size <= g.to_host_arena_offset &&
                 g.to_host_arena_offset + g.arena_size <= g.peer_region_stride,
             "a region's parts overlap or spill over");
  FUZZ_CHECK(g.region_offset(static_cast<std::uint16_t>(g.max_peers - 1)) + g.peer_region_stride <=
                 g.file_size,
             "the last region ends past the file");
  // Writing the geometry back gives the header it was read from (store() zeroes the unused
  // class entries, which nobody reads).
  shm::hub_header back{};
  std::memcpy(&back, &h, sizeof(back));
  g.store(back);
  shm::hub_header expected{};
  std::memcpy(&expected, &h, sizeof(expected));
  for (auto i = g.classes.size(); i < shm::max_slot_classes; ++i)
    expected.slot_classes[i] = {0, 0};
  FUZZ_CHECK(std::memcmp(&back, &expected, sizeof(back)) == 0,
             "store() does not give the header back");
}

// Attaches a cell to a hub file holding `header` with entry 0 reserved for the ticket.
void try_attach(const shm::hub_header& header, std::uint64_t size, fuzz_input& in) {
  static const std::string path = fmt::format("/dev/shm/cellhub-fuzz-header-{}", ::getpid());
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  FUZZ_CHECK(fd >= 0, "cannot create {}", path);
  // The lock a live host holds, so that the cell does not take the hub for a stale one.
  FUZZ_CHECK(::flock(fd, LOCK_EX) == 0 && ::ftruncate(fd, static_cast<off_t>(size)) == 0 &&
                 ::pwrite(fd, &header, sizeof(header), 0) == static_cast<ssize_t>(sizeof(header)),
             "cannot write {}", path);
  const bool in_range = header.peer_table_offset + sizeof(shm::peer_entry) <= size;
  const auto incarnation = in.take<std::uint32_t>();
  const auto token = in.take<std::uint64_t>();
  const auto state = static_cast<std::uint32_t>(in.take<std::uint8_t>() % 6u);
  if (in_range) {
    shm::peer_entry entry{};
    entry.state.store(state);
    entry.incarnation = incarnation;
    entry.attach_token = token;
    std::memcpy(entry.name, "fuzz", 5);
    FUZZ_CHECK(::pwrite(fd, &entry, sizeof(entry), static_cast<off_t>(header.peer_table_offset)) ==
                   static_cast<ssize_t>(sizeof(entry)),
               "cannot write the entry");
  }
  int pair[2];
  FUZZ_CHECK(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) == 0, "socketpair");
  tr::cell_ticket ticket;
  ticket.hub_path = path;
  ticket.peer_id = 0;
  ticket.incarnation = incarnation ^ (in.take<std::uint8_t>() & 1u);
  ticket.attach_token = token ^ (in.take<std::uint8_t>() & 1u);
  ticket.doorbell_fd = pair[1];
  const bool expect = in_range && ticket.incarnation == incarnation &&
                      ticket.attach_token == token &&
                      state == static_cast<std::uint8_t>(shm::peer_state::reserved);
  {
    auto attached = tr::cell::attach(ticket, {.parent_death_signal = 0});
    FUZZ_CHECK(attached.has_value() == expect, "attach {}: {}", attached ? "succeeded" : "failed",
               attached ? std::string{"expected a refusal"} : attached.error().message());
    if (attached) {
      // The READY it sent sits in its ring, where the header said the ring is.
      const auto& g = attached.value().link().geometry();
      std::uint64_t head = 0;
      FUZZ_CHECK(::pread(fd, &head, sizeof(head),
                         static_cast<off_t>(g.region_offset(0) + g.to_host_ring_offset)) == 8 &&
                     head == 1,
                 "READY not published where the header puts the ring");
    }
  }
  ::close(pair[0]);
  ::unlink(path.c_str());
  ::close(fd);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz_input in{data, size};
  shm::hub_header header{};
  in.take_bytes({reinterpret_cast<std::byte*>(&header), sizeof(header)});
  // The file size: the header's own claim, or anything the input says.
  const bool own_size = in.take<std::uint8_t>() & 1u;
  const auto claimed = in.take<std::uint64_t>();
  const std::uint64_t file_size = own_size ? header.file_size : claimed;

  auto geometry = tr::hub_geometry::from_header(header, file_size);
  if (!geometry) {
    FUZZ_CHECK(geometry.error().code == tr::errc::bad_layout && !geometry.error().detail.empty(),
               "from_header refused with {}", geometry.error().message());
  } else {
    check_geometry(geometry.value(), header, file_size);
    // compute() from the same numbers agrees (the host's side of the contract).
    tr::hub_config config;
    config.max_peers = header.max_peers;
    config.ring_capacity = header.ring_capacity;
    config.slot_classes = geometry.value().classes;
    auto computed = tr::hub_geometry::compute(config);
    FUZZ_CHECK(computed && computed.value().file_size == file_size, "compute() disagrees");
  }

  const bool magic_ok = std::memcmp(header.magic, shm::magic, sizeof(shm::magic)) == 0;
  const bool version_ok = header.version_major == shm::version_major;
  if (file_size < sizeof(header) || file_size > max_attach_file || (in.take<std::uint8_t>() & 1u))
    return 0;
  if (!magic_ok || !version_ok || !geometry) {
    // attach must refuse, for the first reason the cell checks.
    static const std::string path = fmt::format("/dev/shm/cellhub-fuzz-header-{}", ::getpid());
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    FUZZ_CHECK(fd >= 0 && ::ftruncate(fd, static_cast<off_t>(file_size)) == 0 &&
                   ::pwrite(fd, &header, sizeof(header), 0) == static_cast<ssize_t>(sizeof(header)),
               "cannot write {}", path);
    int pair[2];
    FUZZ_CHECK(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) == 0, "socketpair");
    tr::cell_ticket ticket;
    ticket.hub_path = path;
    ticket.doorbell_fd = pair[1];
    const auto expected = !magic_ok     ? tr::errc::bad_magic
                          : !version_ok ? tr::errc::version_mismatch
                                        : tr::errc::bad_layout;
    auto attached = tr::cell::attach(ticket, {.parent_death_signal = 0});
    FUZZ_CHECK(!attached && attached.error().code == expected, "attach to a bad header gave {}",
               attached ? std::string{"success"} : attached.error().message());
    ::close(pair[0]);
    ::unlink(path.c_str());
    ::close(fd);
    return 0;
  }
  try_attach(header, file_size, in);
  return 0;
}
