#include "cellhub/transport/peer_transport.hpp"

#include "cellhub/transport/hub_host.hpp"
#include "cellhub/transport/log.hpp"
#include "cellhub/transport/quoted.hpp"

#include <fmt/format.h>

#include <csignal>
#include <cstring>

namespace cellhub::transport {

std::string_view describe(death_cause cause) noexcept {
  switch (cause) {
  case death_cause::signal_failed:
    return "doorbell signal failed";
  case death_cause::hung_up:
    return "doorbell hung up";
  case death_cause::process_exited:
    return "process exited";
  case death_cause::protocol_violation:
    return "protocol violation";
  }
  return "unknown cause";
}

peer_transport::peer_transport(std::shared_ptr<hub_host> hub, std::uint16_t peer_id,
                               std::uint32_t incarnation, std::string name,
                               std::shared_ptr<endpoint> link, peer_death_callback on_death)
    : hub_{std::move(hub)}
    , peer_id_{peer_id}
    , incarnation_{incarnation}
    , name_{std::move(name)}
    , link_{std::move(link)}
    , on_death_{std::move(on_death)} {}

peer_transport::~peer_transport() {
  warn_if_live();
  // Hang up without closing the fd: leases may still ring it from other threads,
  // and a closed fd number could be reused by an unrelated file.
  link_->bell().shutdown();
  child_.reset(); // kills and reaps a process that is still running
  hub_->transport_gone(peer_id_);
}

std::optional<death_cause> peer_transport::death() const noexcept {
  const int cause = death_.load(std::memory_order_acquire);
  if (cause < 0)
    return std::nullopt;
  return static_cast<death_cause>(cause);
}

bool peer_transport::said_goodbye() const noexcept {
  // The cell marks its entry before it sends its goodbye: a clean exit is known
  // even when the goodbye message has not been read yet.
  return goodbye_.load() || hub_->entry(peer_id_).state.load(std::memory_order_acquire) ==
                                static_cast<std::uint32_t>(shm::peer_state::goodbye);
}

void peer_transport::warn_if_live() const noexcept {
  if (death() || said_goodbye() || link_->bell().hung_up())
    return;
  try {
    const bool kills = child_ && child_->running();
    logger()->warn("peer_id={} peer_name={} Host hung up on a live cell: its transport was "
                   "dropped before the cell died{} (keep the transport, or hand it to "
                   "hub_host::keep_until_death)",
                   peer_id_, quoted(name_),
                   kills ? fmt::format("; killing pid {}", child_->pid()) : std::string{});
  } catch (...) {
    // Logging must not throw out of a destructor.
  }
}

void peer_transport::report_death(death_cause cause) noexcept {
  int expected = -1;
  if (!death_.compare_exchange_strong(expected, static_cast<int>(cause)))
    return;
  closed_.store(true, std::memory_order_release);
  const bool clean = cause != death_cause::protocol_violation && said_goodbye();
  hub_->mark_dead(peer_id_);
  if (clean)
    logger()->info("peer_id={} peer_name={} Cell exited after goodbye ({})", peer_id_,
                   quoted(name_), describe(cause));
  else
    logger()->warn("peer_id={} peer_name={} Cell died ({})", peer_id_, quoted(name_),
                   describe(cause));
  if (on_death_)
    on_death_(peer_id_);
}

void peer_transport::report_violation(const error& err) noexcept {
  if (violated_.exchange(true))
    return;
  closed_.store(true, std::memory_order_release);
  logger()->error("peer_id={} peer_name={} protocol violation: {}; killing the cell", peer_id_,
                  quoted(name_), err.detail);
  if (child_)
    (void)child_->send_signal(SIGKILL);
  // Without a process to kill, hanging up makes a well-behaved cell exit.
  link_->bell().shutdown();
  // Reported now, like any death: the kill takes effect and the hang-up follows, but
  // nobody needs to look for them.
  report_death(death_cause::protocol_violation);
}

result<void> peer_transport::check_open() const {
  if (closed())
    return make_error(errc::peer_dead,
                      fmt::format("peer {} ({}) is closed", peer_id_, quoted(name_)));
  return success();
}

template <class T>
result<T> peer_transport::watch(result<T> outcome) {
  if (!outcome) {
    if (outcome.error().code == errc::peer_dead)
      report_death(death_cause::signal_failed);
    else if (outcome.error().code == errc::protocol_violation)
      report_violation(outcome.error());
  }
  return outcome;
}

result<void> peer_transport::send(shm::message_kind kind, std::uint64_t msg_id,
                                  std::span<const std::byte> bytes, std::uint32_t aux) {
  BOOST_OUTCOME_TRY(check_open());
  return watch(link_->send(kind, msg_id, bytes, aux));
}

result<outgoing_payload> peer_transport::prepare(std::size_t length) {
  BOOST_OUTCOME_TRY(check_open());
  return watch(link_->prepare(length));
}

result<void> peer_transport::commit(outgoing_payload& payload, shm::message_kind kind,
                                    std::uint64_t msg_id, std::uint32_t aux) {
  BOOST_OUTCOME_TRY(check_open());
  return watch(link_->commit(payload, kind, msg_id, aux));
}

result<std::optional<incoming_message>> peer_transport::try_receive() {
  if (violated())
    return make_error(errc::protocol_violation,
                      fmt::format("peer {} ({}) broke the protocol", peer_id_, quoted(name_)));
  BOOST_OUTCOME_TRY(next, watch(link_->try_receive()));
  if (!next)
    return next;
  switch (next->kind) {
  case shm::message_kind::ready: {
    shm::ready_payload ready{};
    const auto bytes = next->payload.bytes();
    if (bytes.size() != sizeof(ready) || ready_pid_.load() != 0)
      return watch(result<std::optional<incoming_message>>{
          make_error(errc::protocol_violation, "malformed or repeated READY")});
    std::memcpy(&ready, bytes.data(), sizeof(ready));
    if (ready.pid == 0 || ready.name_length > sizeof(ready.name))
      return watch(result<std::optional<incoming_message>>{
          make_error(errc::protocol_violation, "READY with a bad pid or name")});
    ready_pid_.store(ready.pid);
    break;
  }
  case shm::message_kind::goodbye:
    goodbye_.store(true);
    break;
  case shm::message_kind::message:
  case shm::message_kind::request:
  case shm::message_kind::reply:
    break;
  }
  return next;
}

result<incoming_message> peer_transport::receive(std::chrono::nanoseconds timeout,
                                                 std::chrono::nanoseconds spin) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    BOOST_OUTCOME_TRY(next, try_receive());
    if (next)
      return std::move(*next);
    if (closed())
      return make_error(errc::peer_dead,
                        fmt::format("peer {} ({}) is dead", peer_id_, quoted(name_)));
    switch (link_->wait_for_message(deadline, spin)) {
    case wait_outcome::ready:
      continue;
    case wait_outcome::timeout:
      return make_error(errc::timeout, fmt::format("no message from peer {}", peer_id_));
    case wait_outcome::peer_dead:
      report_death(death_cause::hung_up);
      continue; // take what it published before dying, then report
    }
  }
}

result<void> peer_transport::wait_for_space(std::chrono::nanoseconds timeout,
                                            std::chrono::nanoseconds spin) {
  BOOST_OUTCOME_TRY(check_open());
  switch (link_->wait_for_space(std::chrono::steady_clock::now() + timeout, spin)) {
  case wait_outcome::ready:
    return success();
  case wait_outcome::timeout:
    return make_error(errc::timeout, fmt::format("peer {} returned no slot", peer_id_));
  case wait_outcome::peer_dead:
    report_death(death_cause::hung_up);
    return make_error(errc::peer_dead,
                      fmt::format("peer {} ({}) is dead", peer_id_, quoted(name_)));
  }
  return success();
}

signal_result peer_transport::signal() noexcept {
  if (closed())
    return signal_result::peer_dead;
  const auto outcome = link_->ring();
  if (outcome == signal_result::peer_dead)
    report_death(death_cause::signal_failed);
  return outcome;
}

bool peer_transport::check_hangup() noexcept {
  if (!death() && link_->bell().hung_up())
    report_death(death_cause::hung_up);
  return closed();
}

bool peer_transport::drain_doorbell() noexcept {
  if (link_->bell().drain() == doorbell::drain_result::peer_dead) {
    report_death(death_cause::hung_up);
    return false;
  }
  return true;
}

void peer_transport::adopt_process(process child) noexcept {
  child_.emplace(std::move(child));
}

peer_progress peer_transport::progress() const noexcept {
  const auto& entry = hub_->entry(peer_id_);
  return {entry.heartbeat.load(std::memory_order_acquire),
          entry.last_progress_ns.load(std::memory_order_acquire), link_->unread_by_peer()};
}

} // namespace cellhub::transport
