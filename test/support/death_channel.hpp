#pragma once

// The seed page's death channel in C++: `on_death` pushes the peer id (it must not
// block), and the test, or a manager loop, waits for the next one with a deadline.

#include "cellhub/transport/peer_transport.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace cellhub::test {

/// Queues the peer ids `on_death` reports, from any thread; unbounded like the seed's
/// channel, which is fine for a test's handful of deaths.
class death_channel {
public:
  /// Returns a callback for `add_peer_options::on_death` that pushes the peer id.
  /// It holds the channel's state, so it may outlive the channel.
  transport::peer_death_callback callback() const {
    return [state = state_](std::uint16_t peer_id) {
      {
        std::lock_guard guard{state->mutex};
        state->queue.push_back(peer_id);
        state->all.push_back(peer_id);
      }
      state->pushed.notify_all();
    };
  }

  /// Takes the next peer id, waiting up to `bound`; nothing if none came.
  std::optional<std::uint16_t> next(std::chrono::milliseconds bound) const {
    std::unique_lock lock{state_->mutex};
    if (!state_->pushed.wait_for(lock, bound, [&] { return !state_->queue.empty(); }))
      return std::nullopt;
    const auto id = state_->queue.front();
    state_->queue.pop_front();
    return id;
  }

  /// Returns every peer id reported so far, in order.
  std::vector<std::uint16_t> all() const {
    std::lock_guard guard{state_->mutex};
    return state_->all;
  }

private:
  struct state {
    std::mutex mutex;
    std::condition_variable pushed;
    std::deque<std::uint16_t> queue;
    std::vector<std::uint16_t> all;
  };
  std::shared_ptr<state> state_ = std::make_shared<state>();
};

} // namespace cellhub::test
