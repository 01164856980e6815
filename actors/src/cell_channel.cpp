#include "cellhub/actors/cell_channel.hpp"

#include "cellhub/actors/cell_lane.hpp"
#include "cellhub/actors/error.hpp"
#include "cellhub/actors/types.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <utility>

namespace cellhub::actors {
namespace {

// What is left of `deadline`, at least a millisecond (CAF's request timeouts are
// durations; a zero would never fire).
std::chrono::milliseconds left_until(std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return std::max(left, std::chrono::milliseconds{1});
}

} // namespace

pending_call::pending_call(pending_call&& other) noexcept
    : lane_{std::move(other.lane_)}
    , id_{other.id_}
    , deadline_{other.deadline_}
    , answered_{std::move(other.answered_)} {}

pending_call& pending_call::operator=(pending_call&& other) noexcept {
  if (this != &other) {
    forget();
    lane_ = std::move(other.lane_);
    id_ = other.id_;
    deadline_ = other.deadline_;
    answered_ = std::move(other.answered_);
  }
  return *this;
}

pending_call::~pending_call() {
  forget();
}

void pending_call::forget() noexcept {
  if (lane_)
    lane_->abandon_call(id_);
  lane_.reset();
}

cell_channel::cell_channel(caf::actor_system& sys, registry_actor registry, std::string name,
                           channel_options options)
    : self_{std::make_unique<caf::scoped_actor>(sys)}
    , registry_{std::move(registry)}
    , name_{std::move(name)}
    , options_{options} {}

cell_channel::cell_channel(cell_channel&& other) noexcept = default;
cell_channel& cell_channel::operator=(cell_channel&& other) noexcept = default;
cell_channel::~cell_channel() = default;

bool cell_channel::direct() const noexcept {
  return lane_ && !lane_->closed();
}

void cell_channel::refresh_lane(clock::time_point deadline) {
  if (direct())
    return;
  lane_.reset();
  resolve(deadline);
}

void cell_channel::resolve(clock::time_point deadline) {
  peer_actor life;
  (*self_)
      ->request(registry_, left_until(deadline), lookup_atom_v, name_)
      .receive([&](registry_entry& entry) { life = std::move(entry.actor); }, [](caf::error&) {});
  // Restarting, unknown, or a life on another host: the registry's way serves it.
  if (!life)
    return;
  (*self_)
      ->request(life, left_until(deadline), lane_atom_v)
      .receive([&](lane_handle& handle) { lane_ = std::move(handle.lane); }, [](caf::error&) {});
  if (lane_)
    ++stats_.resolves;
}

caf::expected<payload> cell_channel::call_through_registry(const payload& request,
                                                           clock::time_point deadline) {
  ++stats_.through_registry;
  caf::expected<payload> outcome{caf::error{}};
  (*self_)
      ->request(registry_, left_until(deadline), call_atom_v, name_, request)
      .receive([&](payload& answer) { outcome = std::move(answer); },
               [&](caf::error& err) { outcome = std::move(err); });
  return outcome;
}

caf::expected<payload> cell_channel::call(const payload& request,
                                          std::chrono::milliseconds timeout) {
  auto sent = send_call(request, timeout);
  if (!sent)
    return std::move(sent.error());
  return await(std::move(*sent));
}

caf::expected<pending_call> cell_channel::send_call(const payload& request,
                                                    std::chrono::milliseconds timeout) {
  const auto deadline = clock::now() + timeout;
  refresh_lane(deadline);
  pending_call call;
  call.deadline_ = deadline;
  if (lane_) {
    if (auto started = lane_->start_call(request.bytes(), deadline)) {
      if (!*started)
        return std::move(started->error());
      ++stats_.direct;
      call.lane_ = lane_;
      call.id_ = **started;
      return call;
    }
    lane_.reset();
  }
  call.answered_ = call_through_registry(request, deadline);
  return call;
}

caf::expected<payload> cell_channel::await(pending_call call) {
  if (call.answered_)
    return std::move(*call.answered_);
  auto lane = std::move(call.lane_);
  if (!lane)
    return make_error(errc::stale_peer, name_ + ": this call's answer was already taken");
  auto answer = lane->finish_call(call.id_, call.deadline_, options_.spin);
  // A life that ended is resolved anew by the next call.
  if (lane_ == lane && lane->closed())
    lane_.reset();
  return answer;
}

caf::expected<void> cell_channel::cast(const payload& request, std::chrono::milliseconds timeout) {
  const auto deadline = clock::now() + timeout;
  refresh_lane(deadline);
  if (lane_) {
    if (auto taken = lane_->cast(request.bytes(), deadline)) {
      ++stats_.direct;
      return std::move(*taken);
    }
    // The life ended before the ring took it: the next life, through the registry.
    lane_.reset();
  }
  ++stats_.through_registry;
  caf::expected<void> outcome{};
  (*self_)
      ->request(registry_, left_until(deadline), cast_atom_v, name_, request)
      .receive([] {}, [&](caf::error& err) { outcome = std::move(err); });
  return outcome;
}

} // namespace cellhub::actors
