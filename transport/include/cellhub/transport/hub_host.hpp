#pragma once

#include "cellhub/transport/fwd.hpp"
#include "cellhub/transport/hub_config.hpp"
#include "cellhub/transport/hub_file.hpp"
#include "cellhub/transport/hub_geometry.hpp"
#include "cellhub/transport/hub_peer_ticket.hpp"
#include "cellhub/transport/peer_transport.hpp"
#include "cellhub/transport/result.hpp"

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace cellhub::transport {

/// Holds what adding a peer yields: the host's transport and the cell's ticket.
/// Dropping it unused hangs up on the peer: nothing can attach any more.
struct [[nodiscard]] added_peer {
  /// Carries the host's side of the traffic with the new cell.
  std::shared_ptr<peer_transport> transport;
  /// Lets the new cell attach; destroy it once the cell is spawned.
  hub_peer_ticket ticket;
};

/// Counts what a hub's peers hold, to compare against a baseline.
struct hub_audit {
  /// Counts entries waiting to be handed out.
  std::uint32_t peers_free = 0;
  /// Counts entries whose transport exists.
  std::uint32_t peers_live = 0;
  /// Counts entries whose transport is gone but whose payloads are still leased.
  std::uint32_t peers_draining = 0;
  /// Counts host slots sent to cells and not returned.
  std::uint64_t slots_in_flight_to_cells = 0;
  /// Counts cell slots the host holds through leases.
  std::uint64_t slots_leased_from_cells = 0;
  /// Counts free entries that still hold a peer region (should stay 0).
  std::uint32_t free_entries_not_free = 0;

  /// Compares every count.
  bool operator==(const hub_audit&) const = default;
};

/// Owns a hub: the shared-memory file, its peer table and the recycling of peer
/// entries. A freed entry is reused with its incarnation bumped, the one free
/// longest first, so ids never run out and a stale life is refused at attach.
class hub_host : public std::enable_shared_from_this<hub_host> {
public:
  /// Creates the hub file at `path` laid out by `config` and becomes its host. Only a
  /// provably stale hub at `path` is replaced, and at exit only the file created here
  /// is removed (see `hub_file::create` and `inspect_hub_site` for the rules and the
  /// errors). Fails with `no_space` when the peer regions `config` implies could
  /// never fit in this host's memory (`check_memory_budget`). Unless
  /// `config.dumpable`, makes the process non-dumpable (see `hub_config::dumpable`).
  static result<std::shared_ptr<hub_host>> create(std::string path, hub_config config = {});

  /// Adds a peer: reserves an entry, creates a fresh peer region for this life, makes
  /// its doorbell, hands the region to the cell's end of the doorbell, and returns the
  /// transport and the ticket.
  [[nodiscard]] result<added_peer> add_peer_transport_with_options(add_peer_options options);

  /// Adds a peer with default options.
  [[nodiscard]] result<added_peer> add_peer_transport() {
    return add_peer_transport_with_options({});
  }

  /// Adds a peer and spawns its cell from `command` (the ticket is applied to it);
  /// the transport adopts the process. The transport owns the cell: dropping it kills
  /// the cell (keep it, or hand it to `keep_until_death`).
  [[nodiscard]] result<std::shared_ptr<peer_transport>> spawn_peer(add_peer_options options,
                                                                   spawn_options command);

  /// Keeps `transport` until its cell dies, for a host that lets go of it (the seed's
  /// pattern: add, spawn, detach the process or let the transport adopt it, drop the
  /// handles). The hub holds its own reference and watches, on one thread of its own
  /// (started by the first call, stopped with the hub), the doorbell for a hang-up
  /// and an adopted process's pidfd for its exit. The death is then reported like any
  /// other: one warning, the transport closed, `on_death` called once (on that
  /// thread; it may relaunch and keep the next cell), and the hub drops its reference,
  /// which frees the entry once nobody else holds the transport. Traffic is left
  /// alone: whoever still holds the transport may go on using it. Like every
  /// transport, a kept one holds the hub, so the hub lives until the cell dies. A
  /// transport already reported dead is not kept. Fails with `io_error` when the
  /// watch cannot be set up (then the hub holds nothing and the caller still owns it).
  [[nodiscard]] result<void> keep_until_death(const std::shared_ptr<peer_transport>& transport);

  /// Returns the hub file's path.
  [[nodiscard]] const std::string& path() const noexcept { return file_.path(); }
  /// Returns the hub's layout.
  [[nodiscard]] const hub_geometry& geometry() const noexcept { return geometry_; }
  /// Returns the random number that tells this hub apart from earlier ones at its path.
  [[nodiscard]] std::uint64_t nonce() const noexcept { return nonce_; }

  /// Counts entries and slots in use. Call it from the thread that drives the
  /// transports (slot counts are that thread's).
  [[nodiscard]] hub_audit audit() const;

  /// Returns the entry in the region of `peer_id`'s current life (for progress reads);
  /// valid while that life's transport exists.
  [[nodiscard]] const shm::peer_entry& entry(std::uint16_t peer_id) const noexcept;

private:
  friend class peer_transport;

  enum class phase : std::uint8_t { free, live, draining };
  struct entry_state {
    phase stage = phase::free;
    std::uint32_t incarnation = 0;
    std::weak_ptr<endpoint> link;
    // The entry in the current life's region; null while the entry is free.
    shm::peer_entry* shared = nullptr;
  };

  hub_host(hub_file file, hub_geometry geometry, std::uint64_t nonce);
  // Writes the region header and the peer entry of a new life into `base`.
  void stamp_region(std::byte* base, std::uint16_t peer_id, std::uint32_t incarnation,
                    std::uint64_t token, const std::string& name) const noexcept;
  void mark_dead(std::uint16_t peer_id) noexcept;
  void transport_gone(std::uint16_t peer_id) noexcept;
  void release_entry(std::uint16_t peer_id) noexcept;

  hub_file file_;
  hub_geometry geometry_;
  std::uint64_t nonce_ = 0;
  mutable std::mutex mutex_;
  std::vector<entry_state> entries_;
  std::deque<std::uint16_t> free_ids_;
  // Holds the transports kept until death; created by the first keep_until_death.
  std::mutex keeper_mutex_;
  std::shared_ptr<hub_keeper> keeper_;
};

} // namespace cellhub::transport
