#include "cellhub/transport/death_watch.hpp"

#include "cellhub/transport/doorbell.hpp"
#include "cellhub/transport/epoll_set.hpp"
#include "cellhub/transport/log.hpp"
#include "unique_fd.hpp"

#include <fmt/format.h>

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <unordered_map>
#include <utility>

namespace cellhub::transport {
namespace {

// An fd's token is its life's serial number times two, plus one for the pidfd. The
// serial number only grows, so a token left in a batch for a life that was replaced
// meanwhile names nothing. The wake-up eventfd's token is out of that range.
constexpr std::uint64_t pidfd_bit = 1;
constexpr std::uint64_t wake_token = ~std::uint64_t{0};

// Bounds the events taken per wait; the rest come with the next (level-triggered) one.
constexpr std::size_t max_events = 256;

struct life_entry {
  std::uint64_t serial = 0;
  doorbell bell;
  detail::unique_fd pidfd;
  bool report_rings = true;
  // Set while the fd is in the epoll set; cleared once its death was reported, so
  // each kind of death notice goes out at most once.
  bool watching_bell = false;
  bool watching_pidfd = false;
};

} // namespace

struct death_watch::state {
  epoll_set set;
  detail::unique_fd wake_fd;
  std::uint64_t next_serial = 0;
  std::unordered_map<std::uint64_t, life_entry> lives;        // by key
  std::unordered_map<std::uint64_t, std::uint64_t> by_serial; // serial -> key

  void stop_watching(int fd, bool& watching) noexcept {
    watching = false;
    if (auto removed = set.remove(fd); !removed)
      logger()->warn("death_watch: {}", removed.error().message());
  }

  // Takes the life's fds out of the epoll set; they close with the entry. Explicitly,
  // because closing is not enough when the fds are duplicates: epoll reports an open
  // file description until every fd for it is closed.
  void release(life_entry& life) noexcept {
    if (life.watching_bell)
      stop_watching(life.bell.fd(), life.watching_bell);
    if (life.watching_pidfd)
      stop_watching(life.pidfd.get(), life.watching_pidfd);
  }

  void forget(std::uint64_t key, life_entry& life) noexcept {
    release(life);
    by_serial.erase(life.serial);
    lives.erase(key); // `life` dies here
  }

  // Peeks at the exit of a life whose pidfd is watched; stops watching the pidfd once
  // the status is known or cannot be known (the process is gone either way then).
  void peek_exit_into(life_entry& life, life_notice& notice) {
    auto peeked = peek_exit(life.pidfd.get());
    if (!peeked) {
      logger()->debug("death_watch: key {}: {}; exit status unknown", notice.key,
                      peeked.error().message());
      stop_watching(life.pidfd.get(), life.watching_pidfd);
      return;
    }
    if (!peeked.value())
      return; // still running
    notice.exit = peeked.value();
    stop_watching(life.pidfd.get(), life.watching_pidfd);
  }

  // Builds the notice for a ready doorbell; returns false when there is nothing to say.
  bool on_doorbell(std::uint64_t key, life_entry& life, const fd_event& event,
                   life_notice& notice) {
    if (!life.watching_bell)
      return false;
    bool dead = false;
    if (event.hung_up) {
      // drain() says peer_dead whether or not rings preceded the end, so look first.
      char byte = 0;
      notice.rang =
          life.report_rings && ::recv(life.bell.fd(), &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
      (void)life.bell.drain();
      dead = true;
    } else {
      switch (life.bell.drain()) {
      case doorbell::drain_result::empty:
        break;
      case doorbell::drain_result::drained:
        notice.rang = life.report_rings;
        break;
      case doorbell::drain_result::peer_dead:
        // Readable without a hang-up: a ring was pending when epoll looked, and the
        // end behind it came later.
        notice.rang = life.report_rings;
        dead = true;
        break;
      }
    }
    if (dead) {
      // Level-triggered: a hung-up fd left in the set would wake every wait.
      stop_watching(life.bell.fd(), life.watching_bell);
      notice.death = death_cause::hung_up;
      // Files close an instant before the process becomes reapable, and this thread
      // wakes later than that: usually the exit is there to report already.
      if (life.watching_pidfd)
        peek_exit_into(life, notice);
    }
    notice.key = key;
    notice.last = !life.watching_bell && !life.watching_pidfd;
    return notice.rang || notice.death;
  }

  bool on_pidfd(std::uint64_t key, life_entry& life, life_notice& notice) {
    if (!life.watching_pidfd)
      return false;
    peek_exit_into(life, notice);
    if (life.watching_pidfd)
      return false; // a pidfd turns readable only at the exit, so not expected
    notice.key = key;
    notice.death = death_cause::process_exited;
    notice.last = !life.watching_bell;
    return true;
  }
};

result<death_watch> death_watch::create() {
  auto st = std::make_unique<state>();
  BOOST_OUTCOME_TRY(set, epoll_set::create());
  st->set = std::move(set);
  st->wake_fd = detail::unique_fd{::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
  if (st->wake_fd.get() < 0)
    return make_sys_error("eventfd for a death watch");
  BOOST_OUTCOME_TRY(st->set.add(st->wake_fd.get(), wake_token));
  return death_watch{std::move(st)};
}

death_watch::death_watch() noexcept = default;
death_watch::death_watch(std::unique_ptr<state> st) noexcept
    : state_{std::move(st)} {}
death_watch::death_watch(death_watch&& other) noexcept = default;
death_watch& death_watch::operator=(death_watch&& other) noexcept = default;

death_watch::~death_watch() {
  if (!state_)
    return;
  for (auto& [key, life] : state_->lives)
    state_->release(life);
}

result<void> death_watch::watch(std::uint64_t key, watched_life life) {
  life_entry entry;
  entry.bell = doorbell::adopt(life.doorbell_fd);
  entry.pidfd = detail::unique_fd{life.pidfd};
  entry.report_rings = life.report_rings;
  if (!state_)
    return make_error(errc::invalid_argument, "death_watch: watch on an empty handle");
  if (!entry.bell.valid() && entry.pidfd.get() < 0)
    return make_error(errc::invalid_argument,
                      fmt::format("death_watch: key {} has neither a doorbell nor a pidfd", key));
  // As adopt() does for the doorbell: a plain dup() is inheritable, and no spawn
  // elsewhere in the host should hand this pidfd on.
  if (entry.pidfd.get() >= 0)
    (void)::fcntl(entry.pidfd.get(), F_SETFD, FD_CLOEXEC);
  unwatch(key);
  entry.serial = state_->next_serial++;
  if (entry.bell.valid()) {
    const auto what = life.report_rings ? epoll_set::interest::input_and_hangups
                                        : epoll_set::interest::hangups_only;
    BOOST_OUTCOME_TRY(state_->set.add(entry.bell.fd(), entry.serial << 1, what));
    entry.watching_bell = true;
  }
  if (entry.pidfd.get() >= 0) {
    if (auto added = state_->set.add(entry.pidfd.get(), (entry.serial << 1) | pidfd_bit); !added) {
      state_->release(entry);
      return std::move(added).error();
    }
    entry.watching_pidfd = true;
  }
  state_->by_serial.emplace(entry.serial, key);
  state_->lives.emplace(key, std::move(entry));
  return success();
}

bool death_watch::unwatch(std::uint64_t key) noexcept {
  if (!state_)
    return false;
  const auto it = state_->lives.find(key);
  if (it == state_->lives.end())
    return false;
  state_->forget(key, it->second);
  return true;
}

void death_watch::wake() noexcept {
  if (!state_)
    return;
  const std::uint64_t one = 1;
  // EAGAIN means the counter is saturated, i.e. a wake-up is pending anyway.
  while (::write(state_->wake_fd.get(), &one, sizeof one) < 0 && errno == EINTR) {
  }
}

result<death_watch::wait_outcome> death_watch::wait(std::chrono::milliseconds timeout,
                                                    const notice_handler& on_notice) {
  if (!state_)
    return make_error(errc::invalid_argument, "death_watch: wait on an empty handle");
  std::array<fd_event, max_events> events{};
  BOOST_OUTCOME_TRY(count, state_->set.wait(events, timeout));
  wait_outcome outcome;
  for (std::size_t i = 0; i < count; ++i) {
    const auto& event = events[i];
    if (event.token == wake_token) {
      std::uint64_t pending = 0;
      while (::read(state_->wake_fd.get(), &pending, sizeof pending) < 0 && errno == EINTR) {
      }
      outcome.woken = true;
      continue;
    }
    // Looked up per event: the handler of an earlier notice may have changed the set.
    const auto serial = state_->by_serial.find(event.token >> 1);
    if (serial == state_->by_serial.end())
      continue;
    const auto key = serial->second;
    auto& life = state_->lives.at(key);
    life_notice notice;
    const bool said = (event.token & pidfd_bit) != 0
                          ? state_->on_pidfd(key, life, notice)
                          : state_->on_doorbell(key, life, event, notice);
    if (!said)
      continue;
    if (notice.last)
      state_->forget(key, life);
    ++outcome.notices;
    on_notice(notice);
  }
  return outcome;
}

std::size_t death_watch::watched() const noexcept {
  return state_ ? state_->lives.size() : 0;
}

int death_watch::fd() const noexcept {
  return state_ ? state_->set.fd() : -1;
}

} // namespace cellhub::transport
