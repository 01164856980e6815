#include "hub_keeper.hpp"

#include <fmt/format.h>

#include <sys/epoll.h>

#include <utility>

namespace cellhub::transport {
namespace {

// A kept transport's id, times two, is its doorbell's token; plus one, its pidfd's.
constexpr std::uint64_t pidfd_bit = 1;

} // namespace

result<std::unique_ptr<hub_keeper>> hub_keeper::start() {
  std::unique_ptr<hub_keeper> keeper{new hub_keeper};
  // The thread only calls back once a transport is kept, which takes `mutex_` after
  // `thread_` is set here.
  BOOST_OUTCOME_TRY(thread,
                    detail::watch_thread::start(
                        [raw = keeper.get()](std::uint64_t token, std::uint32_t /*events*/) {
                          raw->on_ready(token);
                        }));
  keeper->thread_ = std::move(thread);
  return keeper;
}

hub_keeper::~hub_keeper() {
  // Taken out under the lock, so that a callback in progress sees no thread and
  // stops; then joined, unless the last kept transport was dropped on the keeper's
  // own thread and took the hub with it: then the thread finishes by itself.
  std::unique_ptr<detail::watch_thread> thread;
  {
    std::lock_guard guard{mutex_};
    thread = std::move(thread_);
  }
  thread.reset();
}

result<void> hub_keeper::keep(const std::shared_ptr<peer_transport>& transport) {
  if (!transport)
    return make_error(errc::invalid_argument, "keep_until_death: no transport");
  // Already reported: there is no death left to wait for.
  if (transport->death())
    return success();
  const int doorbell_fd = transport->doorbell_fd();
  const auto* child = transport->child();
  const int pidfd =
      child != nullptr && child->pidfd() >= 0 && !child->status() ? child->pidfd() : -1;

  std::lock_guard guard{mutex_};
  if (!thread_)
    return make_error(errc::closed, "keep_until_death: the hub's keeper has stopped");
  for (const auto& [id, entry] : kept_)
    if (entry.transport == transport)
      return success(); // kept already
  const auto id = next_id_++;
  // Hang-ups only (EPOLLHUP comes with them): the wake-ups of a live cell are not
  // the keeper's business, and it must not take them from anyone else.
  if (auto added = thread_->add(doorbell_fd, EPOLLRDHUP, id << 1); !added)
    return make_error(errc::io_error,
                      fmt::format("keep_until_death of peer {} ({}): {}", transport->peer_id(),
                                  transport->name(), added.error().message()));
  if (pidfd >= 0) {
    if (auto added = thread_->add(pidfd, EPOLLIN, (id << 1) | pidfd_bit); !added) {
      thread_->remove(doorbell_fd);
      return make_error(errc::io_error,
                        fmt::format("keep_until_death of peer {} ({}): {}", transport->peer_id(),
                                    transport->name(), added.error().message()));
    }
  }
  kept_.emplace(id, kept_transport{transport, doorbell_fd, pidfd});
  return success();
}

std::size_t hub_keeper::kept() const {
  std::lock_guard guard{mutex_};
  return kept_.size();
}

void hub_keeper::on_ready(std::uint64_t token) noexcept {
  const auto id = token >> 1;
  std::shared_ptr<peer_transport> transport;
  {
    std::lock_guard guard{mutex_};
    const auto it = kept_.find(id);
    if (it == kept_.end())
      return; // retired by an earlier event of the same wait
    transport = it->second.transport;
  }
  // Outside the lock: on_death runs here, and it may keep the relaunched cell.
  if ((token & pidfd_bit) != 0)
    transport->report_death(death_cause::process_exited);
  else
    transport->check_hangup();
  if (!transport->death())
    return;

  kept_transport retired;
  {
    std::lock_guard guard{mutex_};
    const auto it = kept_.find(id);
    if (!thread_ || it == kept_.end())
      return;
    thread_->remove(it->second.doorbell_fd);
    if (it->second.pidfd >= 0)
      thread_->remove(it->second.pidfd);
    retired = std::move(it->second);
    kept_.erase(it);
  }
  // Nothing of `this` is touched from here: dropping the last references ends the
  // transport (its entry is freed) and may end the hub, and this keeper with it.
  retired.transport.reset();
  transport.reset();
}

} // namespace cellhub::transport
