#include "cellhub/remote/handshake_guard.hpp"

#include <algorithm>
#include <sys/socket.h>

namespace cellhub::remote {

handshake_guard::handshake_guard(handshake_limits limits)
    : limits_{limits} {
  watcher_ = std::thread{[this] { run(); }};
}

handshake_guard::~handshake_guard() {
  {
    std::lock_guard lock{mutex_};
    stopping_ = true;
  }
  changed_.notify_all();
  watcher_.join();
}

handshake_guard::ticket handshake_guard::admit(int fd) {
  return add(fd, true);
}

handshake_guard::ticket handshake_guard::watch(int fd) {
  return add(fd, false);
}

handshake_guard::ticket handshake_guard::add(int fd, bool accepted) {
  std::lock_guard lock{mutex_};
  if (accepted) {
    // The map is in admission order: the first accepted entry is the oldest.
    // (0 is taken as 1: a node that accepts must let one handshake run.)
    const auto cap = std::max<std::size_t>(limits_.max_pending, 1);
    for (auto it = entries_.begin(); accepted_ >= cap && it != entries_.end();) {
      if (!it->second.accepted) {
        ++it;
        continue;
      }
      ::shutdown(it->second.fd, SHUT_RDWR);
      it = entries_.erase(it);
      --accepted_;
      ++evicted_;
    }
    ++accepted_;
  }
  const ticket t = next_++;
  entries_.emplace(t, entry{fd, accepted, clock_type::now() + limits_.deadline});
  // A new entry's deadline is the latest of all, so only an empty map's watcher
  // waits for the wrong time (forever).
  if (entries_.size() == 1)
    changed_.notify_all();
  return t;
}

void handshake_guard::release(ticket t) noexcept {
  std::lock_guard lock{mutex_};
  const auto it = entries_.find(t);
  if (it == entries_.end())
    return;
  if (it->second.accepted)
    --accepted_;
  entries_.erase(it);
}

std::size_t handshake_guard::pending() const {
  std::lock_guard lock{mutex_};
  return accepted_;
}

std::uint64_t handshake_guard::evicted() const {
  std::lock_guard lock{mutex_};
  return evicted_;
}

std::uint64_t handshake_guard::expired() const {
  std::lock_guard lock{mutex_};
  return expired_;
}

void handshake_guard::run() {
  std::unique_lock lock{mutex_};
  while (!stopping_) {
    if (entries_.empty()) {
      changed_.wait(lock);
      continue;
    }
    // The first entry has the earliest deadline.
    const auto first = entries_.begin();
    // A copy: the entry may go while the lock is released for the wait.
    const auto deadline = first->second.deadline;
    if (clock_type::now() < deadline) {
      changed_.wait_until(lock, deadline);
      continue;
    }
    // Still watched, so its owner has not closed the fd yet: the number is still
    // this connection's.
    ::shutdown(first->second.fd, SHUT_RDWR);
    if (first->second.accepted)
      --accepted_;
    entries_.erase(first);
    ++expired_;
  }
}

} // namespace cellhub::remote
