#pragma once

// The hub's fixed binary layout: the hub file's header and the peer regions, one
// memory object per peer life. Every struct here lives in shared memory, holds
// offsets (never pointers), and is checked by static_assert. A cell may write any
// byte of its own region, so the host validates everything it reads there.
// docs/shm_layout.md draws the layout.

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace cellhub::transport::shm {

/// Names the cache-line size every shared struct is aligned to.
inline constexpr std::size_t cache_line = 64;

/// Names the page size per-peer regions are aligned to, so a peer's pages are its own.
inline constexpr std::size_t page_size = 4096;

/// Holds the eight bytes every hub file starts with.
inline constexpr char magic[8] = {'C', 'E', 'L', 'L', 'H', 'U', 'B', '\0'};

/// Holds the eight bytes every peer region starts with.
inline constexpr char region_magic[8] = {'C', 'E', 'L', 'L', 'P', 'E', 'E', 'R'};

/// Names the layout's major version; attach refuses any other. Version 2 gives every
/// peer life a memory object of its own; version 1 mapped one file into every cell.
inline constexpr std::uint16_t version_major = 2;

/// Names the layout's minor version; differences are tolerated.
inline constexpr std::uint16_t version_minor = 0;

/// Bounds the number of payload slot size classes.
inline constexpr std::size_t max_slot_classes = 8;

/// Bounds the length of a peer name, including its terminating zero.
inline constexpr std::size_t max_name_length = 48;

/// Marks a descriptor whose payload travels inline instead of in a slot.
inline constexpr std::uint32_t inline_slot = 0xFFFF'FFFFu;

/// Holds one size class of payload slots.
struct slot_class_desc {
  /// Bytes per slot, a multiple of 64.
  std::uint32_t slot_size;
  /// Slots of this size in each arena.
  std::uint32_t slot_count;
};
static_assert(sizeof(slot_class_desc) == 8);

/// Describes the layout of every peer region of a hub: the numbers it was computed
/// from and the offsets they give. Stored in the hub file's header and at the start
/// of every region, where a cell checks each offset against its own computation.
struct layout_desc {
  /// Counts descriptors per ring (a power of two).
  std::uint32_t ring_capacity;
  /// Counts the slots of a return ring (a power of two >= slots per arena).
  std::uint32_t return_capacity;
  /// Counts the peer entries (live cells) the hub allows.
  std::uint16_t max_peers;
  /// Counts the used entries of `slot_classes`.
  std::uint16_t slot_class_count;
  /// Pads to 8 bytes.
  std::uint32_t reserved0;
  /// Holds the size of one peer region in bytes.
  std::uint64_t region_size;
  /// Holds the offset of the region's `peer_entry`.
  std::uint64_t entry_offset;
  /// Holds the offset of the region's `peer_control` (the wake wishes).
  std::uint64_t control_offset;
  /// Holds the offset of the host→cell descriptor ring.
  std::uint64_t to_cell_ring_offset;
  /// Holds the offset of the cell→host descriptor ring.
  std::uint64_t to_host_ring_offset;
  /// Holds the offset of the ring returning host→cell slots.
  std::uint64_t to_cell_return_offset;
  /// Holds the offset of the ring returning cell→host slots.
  std::uint64_t to_host_return_offset;
  /// Holds the offset of the host→cell payload arena.
  std::uint64_t to_cell_arena_offset;
  /// Holds the offset of the cell→host payload arena.
  std::uint64_t to_host_arena_offset;
  /// Describes the payload slot classes, smallest first.
  slot_class_desc slot_classes[max_slot_classes];
};
static_assert(sizeof(layout_desc) == 152);
static_assert(offsetof(layout_desc, region_size) == 16);
static_assert(offsetof(layout_desc, slot_classes) == 88);

/// Starts the hub file, which holds nothing else: the hub's identity and layout,
/// for a later host judging a stale file and for tools. Written once by the host;
/// no cell maps it and the host never reads it back.
struct alignas(cache_line) hub_header {
  /// Holds `magic`.
  char magic[8];
  /// Holds `version_major`.
  std::uint16_t version_major;
  /// Holds `version_minor`.
  std::uint16_t version_minor;
  /// Pads to 8 bytes.
  std::uint32_t reserved0;
  /// Holds the file's size in bytes.
  std::uint64_t file_size;
  /// Holds a random number chosen at creation; tells hubs at the same path apart.
  std::uint64_t hub_nonce;
  /// Holds the process id of the host that owns the file.
  std::uint32_t host_pid;
  /// Pads to 8 bytes.
  std::uint32_t reserved1;
  /// Describes the peer regions the host hands out.
  layout_desc layout;
};
static_assert(sizeof(hub_header) == 192);
static_assert(alignof(hub_header) == cache_line);
static_assert(offsetof(hub_header, file_size) == 16);
static_assert(offsetof(hub_header, host_pid) == 32);
static_assert(offsetof(hub_header, layout) == 40);

/// Starts every peer region: who the region is for and how it is laid out. The host
/// writes it before it hands the region to the cell and never reads it back.
struct alignas(cache_line) region_header {
  /// Holds `region_magic`.
  char magic[8];
  /// Holds `version_major`.
  std::uint16_t version_major;
  /// Holds `version_minor`.
  std::uint16_t version_minor;
  /// Holds the peer id the region belongs to.
  std::uint16_t peer_id;
  /// Pads to 8 bytes.
  std::uint16_t reserved0;
  /// Holds the life of the peer id the region belongs to.
  std::uint32_t incarnation;
  /// Holds the process id of the host.
  std::uint32_t host_pid;
  /// Holds the random token the cell's ticket must present.
  std::uint64_t attach_token;
  /// Holds the hub's nonce (see `hub_header::hub_nonce`).
  std::uint64_t hub_nonce;
  /// Describes the region's layout.
  layout_desc layout;
  /// Holds the peer's name, zero-terminated.
  char name[max_name_length];
};
static_assert(sizeof(region_header) == 256);
static_assert(offsetof(region_header, attach_token) == 24);
static_assert(offsetof(region_header, layout) == 40);
static_assert(offsetof(region_header, name) == 192);

/// Lists the states of a peer entry, as stored in `peer_entry::state`.
enum class peer_state : std::uint32_t {
  /// The entry waits to be handed out.
  free = 0,
  /// The host handed the entry to a new cell that has not attached yet.
  reserved = 1,
  /// The cell attached and runs.
  attached = 2,
  /// The cell announced a clean exit.
  goodbye = 3,
  /// The host saw the cell die; the entry is reclaimed once nothing references it.
  dead = 4,
};

/// Holds a peer life's state inside its region: the state word (host and cell) and
/// the cell's line (pid, heartbeat). What the cell writes here is its own claim
/// about itself; the host reads it only to judge that cell.
struct alignas(cache_line) peer_entry {
  /// Holds a `peer_state`; the host moves it to reserved and to dead, the cell
  /// moves reserved→attached→goodbye.
  std::atomic<std::uint32_t> state;
  /// Pads the host's line.
  std::uint32_t reserved0;

  /// Holds the cell's process id, written by the cell when it attaches.
  alignas(cache_line) std::atomic<std::uint32_t> cell_pid;
  /// Pads the cell's line.
  std::uint32_t reserved1;
  /// Counts the cell's heartbeats; a frozen counter with work waiting means a hang.
  std::atomic<std::uint64_t> heartbeat;
  /// Holds CLOCK_MONOTONIC nanoseconds of the cell's last heartbeat.
  std::atomic<std::uint64_t> last_progress_ns;
};
static_assert(sizeof(peer_entry) == 128);
static_assert(offsetof(peer_entry, cell_pid) == 64);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

// Bit 1 of `wake_on` is unassigned (layout 1's "sleeping" word, which layout 2 peers
// never write; a peer ignores it like any other unknown bit).

/// Asks the peer to ring when it publishes a message into this side's receive ring.
inline constexpr std::uint32_t wake_on_message = 2u;

/// Asks the peer to ring when it frees room for this side's sends: when it returns one
/// of this side's slots or takes descriptors out of this side's send ring.
inline constexpr std::uint32_t wake_on_space = 4u;

/// Holds one side's wake wish on its own cache line: what that side wants its peer to
/// ring its doorbell for, and the CPU it waits on, which tells its peer whether
/// spinning for it can pay.
struct alignas(cache_line) wake_wish {
  /// Holds `wake_on_*` bits: what this side wants its peer to ring its doorbell for.
  /// Written only by its side; the peer ignores bits it does not know.
  std::atomic<std::uint32_t> wake_on;
  /// Holds the CPU the side last waited on, plus one (0: unknown). A side spins
  /// only while its peer waits on another CPU: on the same CPU, spinning only
  /// delays the peer it waits for.
  std::atomic<std::uint32_t> cpu;
};
static_assert(sizeof(wake_wish) == cache_line);
static_assert(offsetof(wake_wish, wake_on) == 0);
static_assert(offsetof(wake_wish, cpu) == 4);

/// Holds the two sides' wake wishes, after the region header and the peer entry.
struct alignas(cache_line) peer_control {
  /// Is written by the host.
  wake_wish host;
  /// Is written by the cell.
  wake_wish cell;
};
static_assert(sizeof(peer_control) == 2 * cache_line);
static_assert(offsetof(peer_control, cell) == cache_line);

/// Heads an SPSC ring; producer and consumer indices sit on separate lines.
/// Indices only grow; the element of index i is at i % capacity.
struct alignas(cache_line) ring_header {
  /// Counts elements ever published; written by the producer only.
  alignas(cache_line) std::atomic<std::uint64_t> head;
  /// Counts elements ever consumed; written by the consumer only.
  alignas(cache_line) std::atomic<std::uint64_t> tail;
};
static_assert(sizeof(ring_header) == 2 * cache_line);
static_assert(offsetof(ring_header, tail) == cache_line);

/// Lists what a descriptor carries.
enum class message_kind : std::uint16_t {
  /// Carries a one-way message.
  message = 1,
  /// Carries a request; the answer has kind `reply` and the same `msg_id`.
  request = 2,
  /// Carries the answer to a request; `aux` is 0 on success or an application error code.
  reply = 3,
  /// Announces that the cell attached: inline `ready_payload`.
  ready = 4,
  /// Announces the cell's clean exit (cell→host), or asks for one (host→cell).
  goodbye = 5,
};

/// Describes one message in a ring: 64 bytes, payload inline or in a slot.
struct alignas(cache_line) descriptor {
  /// Correlates a reply with its request; free for one-way messages.
  std::uint64_t msg_id;
  /// Holds a `message_kind`.
  std::uint16_t kind;
  /// Holds flags (none defined yet; must be 0).
  std::uint16_t flags;
  /// Holds the payload's length in bytes.
  std::uint32_t length;
  /// Holds the payload's slot index in the sender's arena, or `inline_slot`.
  std::uint32_t slot;
  /// Holds a kind-specific word (the status of a reply).
  std::uint32_t aux;
  /// Holds payloads of up to `inline_capacity` bytes.
  std::byte inline_data[40];
};
static_assert(sizeof(descriptor) == 64);
static_assert(offsetof(descriptor, inline_data) == 24);

/// Bounds the payload that travels inside a descriptor.
inline constexpr std::size_t inline_capacity = sizeof(descriptor::inline_data);

/// Lays out a READY message's inline payload.
struct ready_payload {
  /// Holds the cell's process id.
  std::uint32_t pid;
  /// Holds the number of bytes of `name` in use.
  std::uint32_t name_length;
  /// Holds the start of the cell's name (the full name is in the region header).
  char name[32];
};
static_assert(sizeof(ready_payload) == inline_capacity);

} // namespace cellhub::transport::shm
