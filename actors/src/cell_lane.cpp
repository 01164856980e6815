#include "cellhub/actors/cell_lane.hpp"

#include "cellhub/actors/error.hpp"
#include "cellhub/transport/cpu_relax.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <utility>

namespace cellhub::actors {
namespace {

namespace tr = cellhub::transport;
namespace shm = cellhub::transport::shm;

bool is_back_pressure(tr::errc code) noexcept {
  return code == tr::errc::no_slot || code == tr::errc::ring_full;
}

} // namespace

caf::expected<payload> answer_of(tr::incoming_message& reply) {
  if (reply.aux != 0)
    return make_error(errc::cell_error, fmt::format("status {}", reply.aux));
  return payload{std::move(reply.payload)};
}

cell_lane::cell_lane(std::shared_ptr<tr::peer_transport> cell, settings config)
    : cell_{std::move(cell)}
    , config_{std::move(config)}
    , peer_id_{cell_->peer_id()}
    , incarnation_{cell_->incarnation()}
    , next_id_{config_.first_msg_id} {}

cell_lane::~cell_lane() {
  close(make_error(errc::cell_died, config_.name + " is gone"));
}

tr::result<void> cell_lane::send(shm::message_kind kind, std::uint64_t msg_id,
                                 std::span<const std::byte> bytes) {
  std::lock_guard lock{mutex_};
  if (!cell_)
    return tr::make_error(tr::errc::peer_dead, config_.name + ": its lane is closed");
  return cell_->send(kind, msg_id, bytes);
}

tr::peer_progress cell_lane::progress() const {
  std::lock_guard lock{mutex_};
  return cell_ ? cell_->progress() : tr::peer_progress{};
}

cell_lane::batch cell_lane::take_for_actor() {
  batch out;
  std::lock_guard lock{mutex_};
  // Behind what callers parked, which came out of the ring first.
  (void)drain_locked(std::numeric_limits<std::size_t>::max());
  nudged_ = false;
  out.messages.reserve(parked_.size());
  for (auto& msg : parked_)
    out.messages.push_back(std::move(msg));
  parked_.clear();
  out.violation = std::exchange(violation_, std::nullopt);
  // The peer actor was woken: the cell may have freed room a sender waits for.
  if (senders_waiting_ > 0)
    answered_.notify_all();
  return out;
}

void cell_lane::set_queueing(bool queueing) {
  std::lock_guard lock{mutex_};
  queueing_ = queueing;
  if (!queueing && senders_waiting_ > 0)
    answered_.notify_all();
}

std::size_t cell_lane::calls_waiting() const {
  std::lock_guard lock{mutex_};
  return waiting_.size();
}

void cell_lane::close(const caf::error& reason) {
  std::shared_ptr<tr::peer_transport> released;
  {
    std::lock_guard lock{mutex_};
    if (closed_flag_.load(std::memory_order_relaxed))
      return;
    close_reason_ = reason;
    closed_flag_.store(true, std::memory_order_release);
    for (auto& [id, call] : waiting_)
      if (!call.answer)
        call.answer = caf::expected<payload>{reason};
    answered_.notify_all();
    // What still waits for the peer actor dies with the life; leases go back now.
    parked_.clear();
    released = std::move(cell_);
  }
  // The transport may go here (hanging up on the cell): outside the lock.
}

bool cell_lane::park_locked(tr::incoming_message msg) {
  parked_.push_back(std::move(msg));
  const bool first = !nudged_;
  nudged_ = true;
  return first;
}

bool cell_lane::drain_locked(std::size_t max_parked) {
  bool nudge = false;
  while (cell_ && parked_.size() < max_parked) {
    auto next = cell_->try_receive();
    if (!next) {
      // The transport killed the cell and reported its death; the peer actor hears of
      // the violation on its next take, and callers through the lane from its close.
      if (next.error().code == tr::errc::protocol_violation && !violation_) {
        violation_ = next.error();
        nudge |= !std::exchange(nudged_, true);
      }
      break;
    }
    if (!next.value())
      break;
    auto& msg = *next.value();
    if (msg.kind == shm::message_kind::reply) {
      if (auto it = waiting_.find(msg.msg_id); it != waiting_.end()) {
        it->second.answer = answer_of(msg);
        answers_.fetch_add(1, std::memory_order_release);
        answered_.notify_all();
        continue;
      }
    }
    nudge |= park_locked(std::move(msg));
  }
  return nudge;
}

void cell_lane::nudge_actor() const {
  if (config_.nudge)
    config_.nudge();
}

std::optional<caf::expected<void>> cell_lane::cast(std::span<const std::byte> bytes,
                                                   clock::time_point deadline) {
  std::unique_lock lock{mutex_};
  return send_waiting(lock, shm::message_kind::message, 0, bytes, deadline);
}

std::optional<caf::expected<void>> cell_lane::send_waiting(std::unique_lock<std::mutex>& lock,
                                                           shm::message_kind kind,
                                                           std::uint64_t msg_id,
                                                           std::span<const std::byte> bytes,
                                                           clock::time_point deadline) {
  for (;;) {
    if (!cell_)
      return std::nullopt;
    if (!queueing_) {
      auto sent = cell_->send(kind, msg_id, bytes);
      if (sent)
        return caf::expected<void>{};
      if (sent.error().code == tr::errc::peer_dead)
        return std::nullopt;
      if (!is_back_pressure(sent.error().code))
        return caf::expected<void>{make_error(sent.error())};
    }
    // The failed send asked the cell to ring when it frees space; the peer actor,
    // woken by that ring, wakes this sender (take_for_actor, set_queueing).
    room_waits_.fetch_add(1, std::memory_order_relaxed);
    ++senders_waiting_;
    const auto woken = answered_.wait_until(lock, deadline);
    --senders_waiting_;
    if (woken == std::cv_status::timeout)
      return caf::expected<void>{
          make_error(errc::overloaded,
                     fmt::format("{}: no room in its ring before the deadline", config_.name))};
  }
}

std::optional<caf::expected<std::uint64_t>>
cell_lane::start_call(std::span<const std::byte> request, clock::time_point deadline) {
  std::unique_lock lock{mutex_};
  if (!cell_)
    return std::nullopt;
  if (waiting_.size() >= config_.max_calls)
    return caf::expected<std::uint64_t>{make_error(
        errc::overloaded, fmt::format("{}: {} calls already wait on its lane (max_pending {})",
                                      config_.name, waiting_.size(), config_.max_calls))};
  const auto id = next_msg_id();
  auto sent = send_waiting(lock, shm::message_kind::request, id, request, deadline);
  if (!sent)
    return std::nullopt;
  if (!*sent)
    return caf::expected<std::uint64_t>{sent->error()};
  // Still under the lock that sent it: no drain can have met the answer yet.
  const auto now = clock::now();
  waiting_.emplace(id, waiter{{}, now, now + config_.request_timeout});
  return caf::expected<std::uint64_t>{id};
}

caf::expected<payload> cell_lane::finish_call(std::uint64_t id, clock::time_point deadline,
                                              std::chrono::nanoseconds spin) {
  std::unique_lock lock{mutex_};
  const auto slot = waiting_.find(id);
  if (slot == waiting_.end())
    return make_error(errc::stale_peer,
                      fmt::format("{}: call {} does not wait on this lane (finished, abandoned "
                                  "or never started)",
                                  config_.name, id));
  auto& call = slot->second;
  const auto call_deadline = std::min(deadline, call.expires);
  bool nudge = false;
  // A spin pays only while the cell runs on another CPU; on ours it would wait for the
  // spin to end. While anyone spins, the cell rings nobody for its messages.
  auto cell = cell_;
  if (!call.answer && cell && spin.count() > 0 && !cell->cell_on_this_cpu()) {
    if (spinners_++ == 0)
      cell->mute_message_wakeups();
    const auto spin_end = std::min(call_deadline, clock::now() + spin);
    // The peer actor may route the answer too: a new answer is worth a look.
    auto answers_seen = answers_.load(std::memory_order_relaxed);
    lock.unlock();
    for (unsigned i = 0;; ++i) {
      if (closed())
        break;
      const auto answers = answers_.load(std::memory_order_acquire);
      if ((answers != answers_seen || cell->message_hint()) && lock.try_lock()) {
        answers_seen = answers;
        nudge |= drain_locked(config_.max_parked);
        const bool answered = call.answer.has_value();
        lock.unlock();
        if (nudge)
          nudge_actor();
        nudge = false;
        if (answered)
          break;
      }
      // Reading the clock costs more than a pause; look at it every few rounds.
      if (i % 64 == 63 && clock::now() >= spin_end)
        break;
      tr::cpu_relax();
    }
    lock.lock();
    // The last spinner asks for the doorbell again; what came meanwhile rang nobody.
    if (--spinners_ == 0 && cell_ && cell_->restore_message_wakeups())
      nudge |= drain_locked(config_.max_parked);
  }
  if (nudge) {
    lock.unlock();
    nudge_actor();
    lock.lock();
  }
  // The peer actor, woken by the doorbell, routes the answer here.
  answered_.wait_until(lock, call_deadline, [&] { return call.answer.has_value(); });
  auto outcome = call.answer
                     ? std::move(*call.answer)
                     : caf::expected<payload>{make_error(
                           errc::request_timeout,
                           fmt::format("{} did not answer within {} ms", config_.name,
                                       std::chrono::duration_cast<std::chrono::milliseconds>(
                                           call_deadline - call.started)
                                           .count()))};
  waiting_.erase(slot);
  lock.unlock();
  return outcome;
}

void cell_lane::abandon_call(std::uint64_t id) {
  std::lock_guard lock{mutex_};
  waiting_.erase(id);
}

} // namespace cellhub::actors
