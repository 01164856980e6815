#include "child_reaper.hpp"

#include "cellhub/transport/log.hpp"

#include <sys/epoll.h>

#include <algorithm>

namespace cellhub::transport::detail {

child_reaper& child_reaper::instance() {
  static child_reaper reaper;
  return reaper;
}

child_reaper::child_reaper() = default;

child_reaper::~child_reaper() {
  // Taken out under the lock, so that a reap in progress sees no thread and stops;
  // joined outside it, since that reap may be waiting for the lock.
  std::unique_ptr<watch_thread> thread;
  {
    std::lock_guard guard{mutex_};
    thread = std::move(thread_);
    stopped_ = true;
  }
  thread.reset();
  // Still running at exit: detached means they outlive this process too.
  for (auto& [token, child] : children_)
    child.abandon();
}

void child_reaper::take(process child) noexcept {
  if (child.pidfd() < 0 || child.status())
    return;
  std::lock_guard guard{mutex_};
  if (stopped_) {
    child.abandon(); // detached during exit: left running, as the others are
    return;
  }
  // Children that could not be watched are looked at whenever another one comes.
  std::erase_if(unwatched_, [this](std::uint64_t token) {
    auto it = children_.find(token);
    if (it == children_.end())
      return true;
    if (!it->second.try_wait() && it->second.running())
      return false;
    if (!it->second.status())
      it->second.abandon(); // reaped by someone else: its pid may be reused already
    children_.erase(it);
    return true;
  });
  const auto token = next_token_++;
  const auto pid = child.pid();
  try {
    const auto& kept = children_.emplace(token, std::move(child)).first->second;
    if (!watch(token, kept)) {
      unwatched_.push_back(token);
      logger()->warn("detached process pid={} cannot be watched; it is reaped only when "
                     "another process is detached",
                     pid);
    }
  } catch (const std::exception& e) {
    // Out of memory: `child` is destroyed here and takes its process with it, as a
    // handle that cannot be kept must.
    logger()->error("detached process pid={} could not be kept ({}); killing it", pid, e.what());
  }
}

bool child_reaper::watch(std::uint64_t token, const process& child) noexcept {
  if (!thread_) {
    auto started = watch_thread::start(
        [this](std::uint64_t ready, std::uint32_t /*events*/) { on_ready(ready); });
    if (!started) {
      logger()->warn("detached processes: {}", started.error().message());
      return false;
    }
    thread_ = std::move(started).value();
  }
  auto added = thread_->add(child.pidfd(), EPOLLIN, token);
  if (!added)
    logger()->warn("detached processes: {}", added.error().message());
  return added.has_value();
}

void child_reaper::on_ready(std::uint64_t token) noexcept {
  std::lock_guard guard{mutex_};
  auto it = children_.find(token);
  if (!thread_ || it == children_.end())
    return; // stopping (the process exits), or reaped already
  auto& child = it->second;
  const auto status = child.try_wait();
  if (!status && child.running())
    return; // not exited after all; level-triggered, so it is reported again
  thread_->remove(child.pidfd());
  if (status)
    logger()->debug("detached process pid={} exited ({}) and was reaped", child.pid(),
                    status->describe());
  else
    child.abandon(); // reaped by someone else (try_wait has said so)
  children_.erase(it);
}

std::size_t child_reaper::pending() const {
  std::lock_guard guard{mutex_};
  return children_.size();
}

} // namespace cellhub::transport::detail
