#include "cellhub/transport/cell.hpp"

#include "cellhub/transport/detail/crash_point.hpp"
#include "cellhub/transport/hub_geometry.hpp"

#include <fmt/format.h>

#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

namespace cellhub::transport {
namespace {

std::uint64_t monotonic_ns() noexcept {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(now.tv_nsec);
}

result<const shm::hub_header*> check_header(const hub_file& file) {
  if (file.size() < sizeof(shm::hub_header))
    return make_error(errc::bad_layout,
                      fmt::format("{} is only {} bytes", file.path(), file.size()));
  const auto* header = reinterpret_cast<const shm::hub_header*>(file.data());
  if (std::memcmp(header->magic, shm::magic, sizeof(shm::magic)) != 0)
    return make_error(errc::bad_magic, file.path() + " is not a cellhub hub");
  if (header->version_major != shm::version_major)
    return make_error(errc::version_mismatch,
                      fmt::format("{} has layout version {}.{}, this cell speaks {}.x", file.path(),
                                  header->version_major, header->version_minor,
                                  shm::version_major));
  return header;
}

} // namespace

result<cell> cell::attach(int argc, const char* const* argv, const cell_options& options) {
  BOOST_OUTCOME_TRY(ticket, cell_ticket::from_arguments_or_environment(argc, argv));
  return attach(ticket, options);
}

result<cell> cell::attach(const cell_ticket& ticket, const cell_options& options) {
  detail::arm_crash_points_from_environment();
  // Ask for the signal first, then check the host is alive: no window in which
  // the host could die unnoticed.
  if (options.parent_death_signal != 0 &&
      ::prctl(PR_SET_PDEATHSIG, options.parent_death_signal) != 0)
    return make_sys_error("prctl(PR_SET_PDEATHSIG)");
  if (::fcntl(ticket.doorbell_fd, F_GETFD) < 0)
    return make_error(errc::bad_ticket,
                      fmt::format("doorbell fd {} is not open", ticket.doorbell_fd));
  // Owned from here on, so a refused attach does not leak it.
  auto bell = doorbell::adopt(ticket.doorbell_fd);

  cell self;
  BOOST_OUTCOME_TRY(file, hub_file::open(ticket.hub_path));
  self.file_ = std::make_shared<hub_file>(std::move(file));
  BOOST_OUTCOME_TRY(header, check_header(*self.file_));
  BOOST_OUTCOME_TRY(geometry, hub_geometry::from_header(*header, self.file_->size()));
  if (static_cast<std::uint32_t>(::getppid()) != header->host_pid && !self.file_->host_alive())
    return make_error(errc::peer_dead, "the host of " + ticket.hub_path + " is gone");
  if (ticket.peer_id >= geometry.max_peers)
    return make_error(errc::unknown_peer, fmt::format("peer id {} outside the hub's {} entries",
                                                      ticket.peer_id, geometry.max_peers));

  auto* entry =
      reinterpret_cast<shm::peer_entry*>(self.file_->data() + geometry.peer_table_offset) +
      ticket.peer_id;
  auto state = entry->state.load(std::memory_order_acquire);
  if (entry->incarnation != ticket.incarnation)
    return make_error(errc::stale_incarnation,
                      fmt::format("peer {} is in incarnation {}, the ticket names {}",
                                  ticket.peer_id, entry->incarnation, ticket.incarnation));
  if (entry->attach_token != ticket.attach_token)
    return make_error(errc::bad_token,
                      fmt::format("wrong attach token for peer {}", ticket.peer_id));
  if (state != static_cast<std::uint32_t>(shm::peer_state::reserved) ||
      !entry->state.compare_exchange_strong(
          state, static_cast<std::uint32_t>(shm::peer_state::attached), std::memory_order_acq_rel))
    return make_error(
        errc::not_reserved,
        fmt::format("peer {} is not waiting for a cell (state {})", ticket.peer_id, state));

  self.entry_ = entry;
  self.region_ = self.file_->data() + geometry.region_offset(ticket.peer_id);
  self.peer_id_ = ticket.peer_id;
  self.incarnation_ = ticket.incarnation;
  self.name_.assign(entry->name, strnlen(entry->name, sizeof(entry->name)));
  self.spin_ = options.spin;
  self.link_ = std::make_shared<endpoint>(endpoint_side::cell, self.region_, geometry,
                                          std::move(bell), self.file_, std::function<void()>{});
  entry->cell_pid.store(static_cast<std::uint32_t>(::getpid()), std::memory_order_release);
  self.heartbeat();
  if (options.announce_ready) {
    BOOST_OUTCOME_TRY(self.announce_ready());
  }
  return self;
}

result<void> cell::announce_ready() {
  shm::ready_payload ready{};
  ready.pid = static_cast<std::uint32_t>(::getpid());
  ready.name_length = static_cast<std::uint32_t>(std::min(name_.size(), sizeof(ready.name)));
  std::memcpy(ready.name, name_.data(), ready.name_length);
  return link_->send(shm::message_kind::ready, 0, std::as_bytes(std::span{&ready, std::size_t{1}}));
}

result<std::optional<incoming_message>> cell::try_receive() {
  heartbeat();
  return link_->try_receive();
}

result<incoming_message> cell::receive(std::chrono::nanoseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    BOOST_OUTCOME_TRY(next, try_receive());
    if (next)
      return std::move(*next);
    switch (link_->wait_for_message(deadline, spin_)) {
    case wait_outcome::ready:
      continue;
    case wait_outcome::timeout:
      return make_error(errc::timeout, "no message from the host");
    case wait_outcome::peer_dead:
      return make_error(errc::peer_dead, "the host hung up");
    }
  }
}

result<void> cell::reply(std::uint64_t msg_id, std::span<const std::byte> bytes,
                         std::uint32_t status) {
  return link_->send(shm::message_kind::reply, msg_id, bytes, status);
}

result<void> cell::send(std::span<const std::byte> bytes) {
  return link_->send(shm::message_kind::message, 0, bytes);
}

result<outgoing_payload> cell::prepare(std::size_t length) {
  return link_->prepare(length);
}

result<void> cell::commit(outgoing_payload& payload, shm::message_kind kind, std::uint64_t msg_id,
                          std::uint32_t aux) {
  return link_->commit(payload, kind, msg_id, aux);
}

result<void> cell::wait_for_space(std::chrono::nanoseconds timeout) {
  switch (link_->wait_for_space(std::chrono::steady_clock::now() + timeout, spin_)) {
  case wait_outcome::ready:
    return success();
  case wait_outcome::timeout:
    return make_error(errc::timeout, "the host returned no slot");
  case wait_outcome::peer_dead:
    return make_error(errc::peer_dead, "the host hung up");
  }
  return success();
}

void cell::heartbeat() noexcept {
  entry_->heartbeat.fetch_add(1, std::memory_order_relaxed);
  entry_->last_progress_ns.store(monotonic_ns(), std::memory_order_release);
}

result<void> cell::goodbye() {
  auto state = static_cast<std::uint32_t>(shm::peer_state::attached);
  entry_->state.compare_exchange_strong(state, static_cast<std::uint32_t>(shm::peer_state::goodbye),
                                        std::memory_order_acq_rel);
  return link_->send(shm::message_kind::goodbye, 0, {});
}

} // namespace cellhub::transport
