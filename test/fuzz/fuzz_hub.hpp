#pragma once

// A real hub and one peer life per fuzz input, with the fuzz input playing the cell: it
// writes the peer region and the peer entry directly, as a hostile cell could, while the
// host's own transport (hub_host, peer_transport, endpoint) reads them.

#include "fuzz_input.hpp"

#include "cellhub/transport/hub_host.hpp"
#include "cellhub/transport/log.hpp"

#include <spdlog/logger.h>

#include <cstring>
#include <memory>
#include <string>
#include <unistd.h>

namespace cellhub::fuzz {

namespace tr = cellhub::transport;
namespace shm = cellhub::transport::shm;

/// Returns the small layout the shared-memory targets use: rings of 8, so that wrap-around
/// and a full ring are a few steps away, and 7 slots in three classes per arena.
inline tr::hub_config fuzz_hub_config() {
  tr::hub_config config;
  config.max_peers = 1;
  config.ring_capacity = 8;
  config.slot_classes = {{64, 4}, {256, 2}, {1024, 1}};
  // A fuzzer stays debuggable and dumps its core on a crash; no cell here to shield it from.
  config.dumpable = true;
  return config;
}

/// Returns the process's hub, created on first use. Its file is unlinked at once (this
/// process created it), so a crashing fuzzer leaves nothing behind in /dev/shm.
inline tr::hub_host& fuzz_hub() {
  static const std::shared_ptr<tr::hub_host> hub = [] {
    // Violations are the point here; logging each one would only slow the fuzzer down.
    auto quiet = std::make_shared<spdlog::logger>("cellhub-fuzz");
    quiet->set_level(spdlog::level::off);
    tr::set_logger(quiet);
    const auto path = fmt::format("/dev/shm/cellhub-fuzz-{}", ::getpid());
    auto created = tr::hub_host::create(path, fuzz_hub_config());
    if (!created) {
      std::fprintf(stderr, "cannot create the fuzz hub %s: %s\n", path.c_str(),
                   created.error().message().c_str());
      std::abort();
    }
    ::unlink(path.c_str());
    return std::move(created).value();
  }();
  return *hub;
}

/// Gives raw access to one peer region, as the cell sees it.
struct cell_view {
  /// Holds the layout.
  const tr::hub_geometry* geometry = nullptr;
  /// Points at the peer region.
  std::byte* region = nullptr;
  /// Points at the peer entry.
  shm::peer_entry* entry = nullptr;

  /// Returns the ring header at `offset` in the region.
  [[nodiscard]] shm::ring_header& ring(std::uint64_t offset) const noexcept {
    return *reinterpret_cast<shm::ring_header*>(region + offset);
  }
  /// Returns element `index % capacity` of the ring at `offset` whose elements are `T`.
  template <class T>
  [[nodiscard]] T* element(std::uint64_t offset, std::uint64_t index,
                           std::uint32_t capacity) const noexcept {
    return reinterpret_cast<T*>(region + offset + sizeof(shm::ring_header)) + index % capacity;
  }
  /// Returns the control block (the two wake wishes).
  [[nodiscard]] shm::peer_control& control() const noexcept {
    return *reinterpret_cast<shm::peer_control*>(region + geometry->control_offset);
  }
  /// Returns the cell's payload arena (host reads it).
  [[nodiscard]] std::byte* to_host_arena() const noexcept {
    return region + geometry->to_host_arena_offset;
  }
  /// Returns the host's payload arena (cell reads it).
  [[nodiscard]] std::byte* to_cell_arena() const noexcept {
    return region + geometry->to_cell_arena_offset;
  }
};

/// Holds one peer life of the fuzz hub for one input: the host's transport, the cell's
/// doorbell end and a view of the region. The region starts zeroed, so that nothing an
/// earlier input wrote can make this one behave differently.
struct fuzz_peer {
  /// Adds the peer (and checks that the hub is back at its empty baseline first).
  fuzz_peer() {
    auto& hub = fuzz_hub();
    const auto before = hub.audit();
    FUZZ_CHECK(before == empty_audit(),
               "hub not at baseline before an input: {} free, {} live, "
               "{} draining, {} in flight, {} leased",
               before.peers_free, before.peers_live, before.peers_draining,
               before.slots_in_flight_to_cells, before.slots_leased_from_cells);
    auto added = hub.add_peer_transport_with_options({.peer_name = "fuzz-cell"});
    FUZZ_CHECK(added.has_value(), "add_peer failed: {}", added.error().message());
    transport = std::move(added.value().transport);
    cell_bell = std::move(added.value().ticket.cell_doorbell);
    view.geometry = &hub.geometry();
    const auto& entry = hub.entry(transport->peer_id());
    view.entry = const_cast<shm::peer_entry*>(&entry);
    view.region = reinterpret_cast<std::byte*>(view.entry) - hub.geometry().entry_offset;
    for (const auto offset :
         {hub.geometry().to_cell_ring_offset, hub.geometry().to_host_ring_offset,
          hub.geometry().to_cell_return_offset, hub.geometry().to_host_return_offset})
      FUZZ_CHECK(view.ring(offset).head.load() == 0 && view.ring(offset).tail.load() == 0,
                 "ring at {} not reset by add_peer", offset);
    // A fresh region is zeroed; zero it again past the flags (descriptors, returns,
    // arenas), so that no input can depend on an earlier one.
    const auto control_end = hub.geometry().control_offset + sizeof(shm::peer_control);
    std::memset(view.region + control_end, 0, hub.geometry().region_size - control_end);
    // The cell attached, as a real one would.
    view.entry->state.store(static_cast<std::uint32_t>(shm::peer_state::attached));
  }

  /// Ends the life: drops the transport and checks that the hub is back at its baseline.
  ~fuzz_peer() {
    transport.reset();
    const auto after = fuzz_hub().audit();
    FUZZ_CHECK(after == empty_audit(),
               "hub not at baseline after an input: {} free, {} live, "
               "{} draining, {} in flight, {} leased, {} free not free",
               after.peers_free, after.peers_live, after.peers_draining,
               after.slots_in_flight_to_cells, after.slots_leased_from_cells,
               after.free_entries_not_free);
  }

  fuzz_peer(const fuzz_peer&) = delete;
  fuzz_peer& operator=(const fuzz_peer&) = delete;

  /// Returns the audit of a hub whose only entry is free.
  static tr::hub_audit empty_audit() {
    tr::hub_audit audit;
    audit.peers_free = fuzz_hub().geometry().max_peers;
    return audit;
  }

  /// Holds the host's side.
  std::shared_ptr<tr::peer_transport> transport;
  /// Holds the cell's doorbell end (closing it is how the cell hangs up).
  tr::doorbell cell_bell;
  /// Shows the region as the cell sees it.
  cell_view view;
};

/// Reads an index the way the targets move ring indices: 0 sets it to a full 64-bit value,
/// anything else moves it by a signed 8-bit step from `current` (far ahead, behind, exact).
inline std::uint64_t next_index(fuzz_input& in, std::uint64_t current) noexcept {
  if (in.take<std::uint8_t>() == 0)
    return in.take<std::uint64_t>();
  return current + static_cast<std::uint64_t>(static_cast<std::int64_t>(in.take<std::int8_t>()));
}

} // namespace cellhub::fuzz
