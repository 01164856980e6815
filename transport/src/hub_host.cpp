#include "cellhub/transport/hub_host.hpp"

#include <fmt/format.h>

#include <cstring>
#include <sys/random.h>
#include <unistd.h>

namespace cellhub::transport {
namespace {

// Returns 64 random bits from the kernel; tokens and nonces must not be guessable.
std::uint64_t random_u64() noexcept {
  std::uint64_t value = 0;
  while (value == 0)
    if (::getrandom(&value, sizeof(value), 0) != static_cast<ssize_t>(sizeof(value)))
      value = 0;
  return value;
}

} // namespace

result<std::shared_ptr<hub_host>> hub_host::create(std::string path, hub_config config) {
  BOOST_OUTCOME_TRY(geometry, hub_geometry::compute(config));
  BOOST_OUTCOME_TRY(file, hub_file::create(path, geometry.file_size));
  // hub_file::create wrote the magic, the version, the size and our pid.
  auto& header = *reinterpret_cast<shm::hub_header*>(file.data());
  header.hub_nonce = random_u64();
  geometry.store(header);
  return std::shared_ptr<hub_host>(new hub_host(std::move(file), std::move(geometry)));
}

hub_host::hub_host(hub_file file, hub_geometry geometry)
    : file_{std::move(file)}
    , geometry_{std::move(geometry)}
    , entries_(geometry_.max_peers) {
  for (std::uint16_t id = 0; id < geometry_.max_peers; ++id)
    free_ids_.push_back(id);
}

std::uint64_t hub_host::nonce() const noexcept {
  return reinterpret_cast<const shm::hub_header*>(file_.data())->hub_nonce;
}

shm::peer_entry& hub_host::shared_entry(std::uint16_t peer_id) const noexcept {
  return reinterpret_cast<shm::peer_entry*>(file_.data() + geometry_.peer_table_offset)[peer_id];
}

const shm::peer_entry& hub_host::entry(std::uint16_t peer_id) const noexcept {
  return shared_entry(peer_id);
}

std::byte* hub_host::region(std::uint16_t peer_id) const noexcept {
  return file_.data() + geometry_.region_offset(peer_id);
}

void hub_host::reset_region(std::uint16_t peer_id) noexcept {
  std::byte* base = region(peer_id);
  auto* control = reinterpret_cast<shm::peer_control*>(base);
  control->host.wake_on.store(0, std::memory_order_relaxed);
  control->cell.wake_on.store(0, std::memory_order_relaxed);
  for (auto offset : {geometry_.to_cell_ring_offset, geometry_.to_host_ring_offset,
                      geometry_.to_cell_return_offset, geometry_.to_host_return_offset}) {
    auto* ring = reinterpret_cast<shm::ring_header*>(base + offset);
    ring->head.store(0, std::memory_order_relaxed);
    ring->tail.store(0, std::memory_order_relaxed);
  }
}

result<added_peer> hub_host::add_peer_transport_with_options(add_peer_options options) {
  BOOST_OUTCOME_TRY(bells, doorbell::create_pair());
  std::uint16_t id = 0;
  std::uint32_t incarnation = 0;
  {
    std::lock_guard guard{mutex_};
    if (free_ids_.empty())
      return make_error(errc::no_free_peer,
                        fmt::format("all {} peer entries are in use", geometry_.max_peers));
    id = free_ids_.front();
    free_ids_.pop_front();
    incarnation = ++entries_[id].incarnation;
    entries_[id].stage = phase::live;
  }
  std::string name = options.peer_name.empty() ? fmt::format("peer-{}", id) : options.peer_name;

  reset_region(id);
  auto& shared = shared_entry(id);
  const auto token = random_u64();
  shared.incarnation = incarnation;
  shared.attach_token = token;
  std::memset(shared.name, 0, sizeof(shared.name));
  std::memcpy(shared.name, name.data(), std::min(name.size(), sizeof(shared.name) - 1));
  shared.cell_pid.store(0, std::memory_order_relaxed);
  shared.heartbeat.store(0, std::memory_order_relaxed);
  shared.last_progress_ns.store(0, std::memory_order_relaxed);
  // Publishes everything above to a cell that sees `reserved`.
  shared.state.store(static_cast<std::uint32_t>(shm::peer_state::reserved),
                     std::memory_order_release);

  auto self = shared_from_this();
  auto link =
      std::make_shared<endpoint>(endpoint_side::host, region(id), geometry_, std::move(bells.first),
                                 self, [this, id] { release_entry(id); });
  {
    std::lock_guard guard{mutex_};
    entries_[id].link = link;
  }
  added_peer added{std::make_shared<peer_transport>(self, id, incarnation, std::move(name),
                                                    std::move(link), std::move(options.on_death)),
                   {}};
  added.ticket.hub_path = file_.path();
  added.ticket.peer_id = id;
  added.ticket.incarnation = incarnation;
  added.ticket.attach_token = token;
  added.ticket.doorbell_fd = bells.second.fd();
  added.ticket.cell_doorbell = std::move(bells.second);
  return added;
}

result<std::shared_ptr<peer_transport>> hub_host::spawn_peer(add_peer_options options,
                                                             spawn_options command) {
  BOOST_OUTCOME_TRY(added, add_peer_transport_with_options(std::move(options)));
  BOOST_OUTCOME_TRY(child, added.ticket.spawn(std::move(command)));
  added.transport->adopt_process(std::move(child));
  return std::move(added.transport);
}

void hub_host::mark_dead(std::uint16_t peer_id) noexcept {
  shared_entry(peer_id).state.store(static_cast<std::uint32_t>(shm::peer_state::dead),
                                    std::memory_order_release);
}

void hub_host::transport_gone(std::uint16_t peer_id) noexcept {
  mark_dead(peer_id);
  std::lock_guard guard{mutex_};
  if (entries_[peer_id].stage == phase::live)
    entries_[peer_id].stage = phase::draining;
}

void hub_host::release_entry(std::uint16_t peer_id) noexcept {
  shared_entry(peer_id).state.store(static_cast<std::uint32_t>(shm::peer_state::free),
                                    std::memory_order_release);
  std::lock_guard guard{mutex_};
  entries_[peer_id].stage = phase::free;
  entries_[peer_id].link.reset();
  free_ids_.push_back(peer_id);
}

hub_audit hub_host::audit() const {
  hub_audit counts;
  std::vector<std::shared_ptr<endpoint>> links;
  {
    std::lock_guard guard{mutex_};
    for (std::uint16_t id = 0; id < entries_.size(); ++id) {
      const auto& state = entries_[id];
      switch (state.stage) {
      case phase::free:
        ++counts.peers_free;
        if (shared_entry(id).state.load(std::memory_order_acquire) !=
            static_cast<std::uint32_t>(shm::peer_state::free))
          ++counts.free_entries_not_free;
        break;
      case phase::live:
        ++counts.peers_live;
        break;
      case phase::draining:
        ++counts.peers_draining;
        break;
      }
      if (auto link = state.link.lock())
        links.push_back(std::move(link));
    }
  }
  // `links` may hold the last reference to an endpoint: it must die outside the lock.
  for (const auto& link : links) {
    counts.slots_in_flight_to_cells += link->slots_in_flight();
    counts.slots_leased_from_cells += link->slots_leased();
  }
  return counts;
}

} // namespace cellhub::transport
