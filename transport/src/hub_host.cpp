#include "cellhub/transport/hub_host.hpp"

#include "hub_keeper.hpp"

#include "cellhub/transport/memory_budget.hpp"
#include "cellhub/transport/peer_region.hpp"

#include <fmt/format.h>

#include <cstring>
#include <sys/prctl.h>
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
  BOOST_OUTCOME_TRY(budget, read_memory_budget());
  BOOST_OUTCOME_TRY(check_memory_budget(geometry.memory_needed(), budget));
  BOOST_OUTCOME_TRY(file, hub_file::create(path, geometry.file_size));
  shm::hub_header header{};
  std::memcpy(header.magic, shm::magic, sizeof(header.magic));
  header.version_major = shm::version_major;
  header.version_minor = shm::version_minor;
  header.file_size = geometry.file_size;
  header.hub_nonce = random_u64();
  header.host_pid = static_cast<std::uint32_t>(::getpid());
  geometry.store(header.layout);
  BOOST_OUTCOME_TRY(file.write_header(header));
  // A process of the same user may not open this one's descriptors (every live
  // region) through /proc/PID/fd or map_files, nor ptrace it, once it is not dumpable.
  if (!config.dumpable && ::prctl(PR_SET_DUMPABLE, 0) != 0)
    return make_sys_error("prctl(PR_SET_DUMPABLE, 0)");
  return std::shared_ptr<hub_host>(
      new hub_host(std::move(file), std::move(geometry), header.hub_nonce));
}

hub_host::hub_host(hub_file file, hub_geometry geometry, std::uint64_t nonce)
    : file_{std::move(file)}
    , geometry_{std::move(geometry)}
    , nonce_{nonce}
    , entries_(geometry_.max_peers) {
  for (std::uint16_t id = 0; id < geometry_.max_peers; ++id)
    free_ids_.push_back(id);
}

const shm::peer_entry& hub_host::entry(std::uint16_t peer_id) const noexcept {
  std::lock_guard guard{mutex_};
  return *entries_[peer_id].shared;
}

void hub_host::stamp_region(std::byte* base, std::uint16_t peer_id, std::uint32_t incarnation,
                            std::uint64_t token, const std::string& name) const noexcept {
  auto& header = *reinterpret_cast<shm::region_header*>(base);
  std::memcpy(header.magic, shm::region_magic, sizeof(header.magic));
  header.version_major = shm::version_major;
  header.version_minor = shm::version_minor;
  header.peer_id = peer_id;
  header.incarnation = incarnation;
  header.host_pid = static_cast<std::uint32_t>(::getpid());
  header.attach_token = token;
  header.hub_nonce = nonce_;
  geometry_.store(header.layout);
  std::memcpy(header.name, name.data(), std::min(name.size(), sizeof(header.name) - 1));
  // A fresh region is zeroed: rings empty, flags clear, no heartbeat. Publishes the
  // header to a cell that sees `reserved`.
  reinterpret_cast<shm::peer_entry*>(base + geometry_.entry_offset)
      ->state.store(static_cast<std::uint32_t>(shm::peer_state::reserved),
                    std::memory_order_release);
}

result<added_peer> hub_host::add_peer_transport_with_options(add_peer_options options) {
  BOOST_OUTCOME_TRY(bells, doorbell::create_pair());
  // Every life gets memory of its own, never used by an earlier one.
  BOOST_OUTCOME_TRY(fresh, peer_region::create(geometry_.region_size, "cellhub-peer"));
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
  const auto token = random_u64();
  std::byte* const base = fresh.data();
  stamp_region(base, id, incarnation, token, name);

  // Hand the region to the cell's end now: the packet waits there for `cell::attach`.
  // Once sent, the host's descriptor is not needed (the mapping keeps the memory).
  if (auto handed = bells.first.send_fd(fresh.fd(), geometry_.region_size); !handed) {
    release_entry(id);
    return std::move(handed).error();
  }
  fresh.close_fd();

  auto self = shared_from_this();
  // The endpoint keeps the hub (for `release_entry`) and the region's mapping alive.
  auto keepalive =
      std::make_shared<std::pair<std::shared_ptr<hub_host>, peer_region>>(self, std::move(fresh));
  auto link =
      std::make_shared<endpoint>(endpoint_side::host, base, geometry_, std::move(bells.first),
                                 std::move(keepalive), [this, id] { release_entry(id); });
  {
    std::lock_guard guard{mutex_};
    entries_[id].link = link;
    entries_[id].shared = reinterpret_cast<shm::peer_entry*>(base + geometry_.entry_offset);
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
  std::lock_guard guard{mutex_};
  if (auto* shared = entries_[peer_id].shared)
    shared->state.store(static_cast<std::uint32_t>(shm::peer_state::dead),
                        std::memory_order_release);
}

void hub_host::transport_gone(std::uint16_t peer_id) noexcept {
  mark_dead(peer_id);
  std::lock_guard guard{mutex_};
  if (entries_[peer_id].stage == phase::live)
    entries_[peer_id].stage = phase::draining;
}

void hub_host::release_entry(std::uint16_t peer_id) noexcept {
  // The region goes with the endpoint that calls this; the id is free for a new life,
  // which gets a new region.
  std::lock_guard guard{mutex_};
  entries_[peer_id].stage = phase::free;
  entries_[peer_id].link.reset();
  entries_[peer_id].shared = nullptr;
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
        if (state.shared != nullptr)
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

result<void> hub_host::keep_until_death(const std::shared_ptr<peer_transport>& transport) {
  std::shared_ptr<hub_keeper> keeper;
  {
    std::lock_guard guard{keeper_mutex_};
    if (!keeper_) {
      BOOST_OUTCOME_TRY(started, hub_keeper::start());
      keeper_ = std::move(started);
    }
    keeper = keeper_;
  }
  return keeper->keep(transport);
}

} // namespace cellhub::transport
