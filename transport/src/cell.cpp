#include "cellhub/transport/cell.hpp"

#include "cellhub/transport/detail/crash_point.hpp"
#include "cellhub/transport/hub_geometry.hpp"
#include "cellhub/transport/peer_region.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <string_view>
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

// Checks that the region handed over is this ticket's: magic, version, peer id,
// life and token. Everything else in it is checked against the layout.
result<void> check_region_header(const shm::region_header& header, const cell_ticket& ticket) {
  if (std::memcmp(header.magic, shm::region_magic, sizeof(shm::region_magic)) != 0)
    return make_error(errc::bad_magic, "the region handed over is not a cellhub peer region");
  if (header.version_major != shm::version_major)
    return make_error(errc::version_mismatch,
                      fmt::format("the hub has layout version {}.{}, this cell speaks {}.x",
                                  header.version_major, header.version_minor, shm::version_major));
  if (header.peer_id != ticket.peer_id)
    return make_error(errc::unknown_peer,
                      fmt::format("the region handed over is peer {}'s, the ticket names peer {}",
                                  header.peer_id, ticket.peer_id));
  if (header.incarnation != ticket.incarnation)
    return make_error(errc::stale_incarnation,
                      fmt::format("peer {} is in incarnation {}, the ticket names {}",
                                  ticket.peer_id, header.incarnation, ticket.incarnation));
  if (header.attach_token != ticket.attach_token)
    return make_error(errc::bad_token,
                      fmt::format("wrong attach token for peer {}", ticket.peer_id));
  return success();
}

// Names the process after its program (argv[0]) when it was started from a sealed
// image: the kernel named it after the memfd ("memfd:cellhub-image") or, before Linux
// 6.13, after the descriptor's number, and `ps`, `top` and `pgrep` show that name.
void name_after_program() noexcept {
  char name[16] = {}; // the kernel's TASK_COMM_LEN
  if (::prctl(PR_GET_NAME, name) != 0)
    return;
  const std::string_view current{name};
  const bool memfd_name = current.starts_with("memfd:");
  const bool fd_number =
      !current.empty() && current.find_first_not_of("0123456789") == std::string_view::npos;
  if (memfd_name || fd_number)
    (void)::prctl(PR_SET_NAME, program_invocation_short_name);
}

} // namespace

result<cell> cell::attach(int argc, const char* const* argv, const cell_options& options) {
  BOOST_OUTCOME_TRY(ticket, cell_ticket::from_arguments_or_environment(argc, argv));
  return attach(ticket, options);
}

result<cell> cell::attach(const cell_ticket& ticket, const cell_options& options) {
  detail::arm_crash_points_from_environment();
  // First of all: a process of the same user may not read this one's memory or
  // descriptors through /proc or ptrace once it is not dumpable.
  if (::prctl(PR_SET_DUMPABLE, options.dumpable ? 1 : 0) != 0)
    return make_sys_error(fmt::format("prctl(PR_SET_DUMPABLE, {})", options.dumpable ? 1 : 0));
  name_after_program();
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

  // The host handed this life's region over the doorbell before the cell existed.
  BOOST_OUTCOME_TRY(handed, bell.receive_fd());
  BOOST_OUTCOME_TRY(mapped, peer_region::adopt(handed.fd, handed.word));
  cell self;
  self.memory_ = std::make_shared<peer_region>(std::move(mapped));
  std::byte* const base = self.memory_->data();
  if (self.memory_->size() < sizeof(shm::region_header))
    return make_error(errc::bad_layout, "the region handed over is smaller than its header");
  const auto& header = *reinterpret_cast<const shm::region_header*>(base);
  BOOST_OUTCOME_TRY(check_region_header(header, ticket));
  BOOST_OUTCOME_TRY(geometry, hub_geometry::from_layout(header.layout, self.memory_->size()));
  if (static_cast<std::uint32_t>(::getppid()) != header.host_pid && bell.hung_up())
    return make_error(errc::peer_dead, "the host of " + ticket.hub_path + " is gone");

  auto* entry = reinterpret_cast<shm::peer_entry*>(base + geometry.entry_offset);
  auto state = entry->state.load(std::memory_order_acquire);
  if (state != static_cast<std::uint32_t>(shm::peer_state::reserved) ||
      !entry->state.compare_exchange_strong(
          state, static_cast<std::uint32_t>(shm::peer_state::attached), std::memory_order_acq_rel))
    return make_error(
        errc::not_reserved,
        fmt::format("peer {} is not waiting for a cell (state {})", ticket.peer_id, state));

  self.entry_ = entry;
  self.region_ = base;
  self.peer_id_ = ticket.peer_id;
  self.incarnation_ = ticket.incarnation;
  self.name_.assign(header.name, strnlen(header.name, sizeof(header.name)));
  self.spin_ = options.spin;
  self.link_ = std::make_shared<endpoint>(endpoint_side::cell, base, geometry, std::move(bell),
                                          self.memory_, std::function<void()>{});
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

bool cell::host_alive() const noexcept {
  return !link_->bell().hung_up();
}

} // namespace cellhub::transport
