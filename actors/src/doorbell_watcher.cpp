#include "cellhub/actors/doorbell_watcher.hpp"

#include "cellhub/actors/error.hpp"
#include "cellhub/actors/messages.hpp"
#include "cellhub/actors/types.hpp"
#include "cellhub/transport/doorbell.hpp"
#include "cellhub/transport/epoll_set.hpp"
#include "cellhub/transport/log.hpp"
#include "cellhub/transport/peer_transport.hpp"

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/actor_system.hpp>
#include <caf/after.hpp>
#include <caf/blocking_actor.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/message.hpp>
#include <caf/message_view.hpp>
#include <caf/others.hpp>
#include <caf/result.hpp>
#include <caf/sec.hpp>
#include <caf/spawn_options.hpp>
#include <caf/system_messages.hpp>

#include <spdlog/logger.h>

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <set>
#include <unordered_map>
#include <utility>

namespace cellhub::actors {
namespace {

namespace tr = cellhub::transport;

// Tokens are `key << 1 | kind`; a key uses 48 bits, so no fd token can reach this one.
constexpr std::uint64_t wake_token = ~std::uint64_t{0};
constexpr std::uint64_t doorbell_kind = 0;
constexpr std::uint64_t pidfd_kind = 1;

// Bounds the events taken per epoll_wait; the rest come with the next (level-triggered) wait.
constexpr std::size_t max_events = 256;

std::uint64_t make_key(std::uint16_t peer_id, std::uint32_t incarnation) noexcept {
  return (std::uint64_t{peer_id} << 32) | incarnation;
}

// Closes an fd on destruction; move-only.
class owned_fd {
public:
  owned_fd() noexcept = default;
  explicit owned_fd(int fd) noexcept
      : fd_{fd} {}
  owned_fd(owned_fd&& other) noexcept
      : fd_{std::exchange(other.fd_, -1)} {}
  owned_fd& operator=(owned_fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  owned_fd(const owned_fd&) = delete;
  owned_fd& operator=(const owned_fd&) = delete;
  ~owned_fd() { reset(); }

  [[nodiscard]] int get() const noexcept { return fd_; }

  void reset() noexcept {
    if (fd_ >= 0)
      ::close(std::exchange(fd_, -1));
  }

private:
  int fd_ = -1;
};

// One watched cell life.
struct registration {
  std::uint16_t peer_id = 0;
  std::uint32_t incarnation = 0;
  caf::actor owner;
  tr::doorbell bell;
  owned_fd pidfd;
  // Set while the fd is in the epoll set; cleared once its death notice went out, so
  // each kind of notice is sent at most once.
  bool watching_bell = false;
  bool watching_pidfd = false;
};

class doorbell_watcher_actor final : public caf::blocking_actor {
public:
  // The eventfd is created here, not in act(), so that messages enqueued before the
  // thread starts already leave a wake-up behind.
  explicit doorbell_watcher_actor(caf::actor_config& cfg)
      : caf::blocking_actor{cfg}
      , wake_fd_{::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)} {
    if (wake_fd_ < 0)
      wake_errno_ = errno;
  }

  ~doorbell_watcher_actor() override {
    // Closed only here: enqueue() may run on other threads until the last reference is
    // gone, and writing to a closed fd number could hit a file that reused it.
    if (wake_fd_ >= 0)
      ::close(wake_fd_);
  }

  using caf::blocking_actor::enqueue;

  void enqueue(caf::mailbox_element_ptr ptr, caf::execution_unit* host) override {
    caf::blocking_actor::enqueue(std::move(ptr), host);
    // After the push: the watcher reads the eventfd before it empties the mailbox, so
    // a message is either seen by that pass or leaves a wake-up for the next wait.
    if (wake_fd_ < 0)
      return;
    const std::uint64_t one = 1;
    // EAGAIN means the counter is saturated, i.e. a wake-up is pending anyway.
    while (::write(wake_fd_, &one, sizeof one) < 0 && errno == EINTR) {
    }
  }

  const char* name() const override { return "doorbell_watcher"; }

  void act() override {
    if (!setup()) {
      // Nobody can be watched: take the fds of requests already here, then quit.
      running_ = false;
      process_mailbox();
      return;
    }
    std::array<tr::fd_event, max_events> events{};
    while (running_) {
      auto n = epoll_.wait(events, std::chrono::milliseconds{-1});
      if (!n) {
        tr::logger()->error("doorbell_watcher: {}; stopping", n.error().message());
        fail_state(make_error(n.error()));
        break;
      }
      bool woken = false;
      // Fds first, messages after: the registrations cannot change while this batch's
      // tokens are looked up, so no token can name a registration that was replaced.
      for (std::size_t i = 0; i < n.value(); ++i) {
        if (events[i].token == wake_token)
          woken = true;
        else
          on_fd_event(events[i]);
      }
      if (woken) {
        std::uint64_t count = 0;
        // Drained before the mailbox: a message enqueued from now on writes again.
        while (::read(wake_fd_, &count, sizeof count) < 0 && errno == EINTR) {
        }
        process_mailbox();
      }
    }
    close_all();
  }

private:
  bool setup() {
    if (wake_fd_ < 0)
      return setup_failed(tr::make_sys_error("eventfd for the doorbell watcher", wake_errno_));
    auto set = tr::epoll_set::create();
    if (!set)
      return setup_failed(set.error());
    epoll_ = std::move(set.value());
    if (auto added = epoll_.add(wake_fd_, wake_token); !added)
      return setup_failed(added.error());
    return true;
  }

  bool setup_failed(const tr::error& err) {
    tr::logger()->error("doorbell_watcher: {}; not watching anything", err.message());
    fail_state(make_error(err));
    return false;
  }

  // Handles every queued message without blocking. Once not running (stop requested, or
  // setup failed), watch requests are refused and their fds closed at once.
  void process_mailbox() {
    bool idle = false;
    while (!idle) {
      receive([&](watch_atom, watch_request& req) { watch(std::move(req)); },
              [&](unwatch_atom, std::uint16_t peer_id, std::uint32_t incarnation) {
                unwatch(make_key(peer_id, incarnation));
              },
              [&](caf::down_msg& msg) { drop_owner(msg.source); },
              [&](caf::exit_msg& msg) {
                if (running_ && msg.reason)
                  fail_state(std::move(msg.reason));
                running_ = false;
              },
              // Without a catch-all, an unexpected message would be skipped: it would stay in
              // the mailbox for good and be matched again on every later pass.
              caf::others >> [&](caf::message_view& msg) -> caf::result<caf::message> {
                tr::logger()->warn("doorbell_watcher: ignoring unexpected message {}",
                                   to_string(msg.copy_content_to_message()));
                auto* current = current_mailbox_element();
                if (current != nullptr && current->mid.is_request())
                  return caf::make_error(caf::sec::unexpected_message);
                return caf::message{};
              },
              caf::after(std::chrono::seconds{0}) >> [&] { idle = true; });
    }
  }

  void watch(watch_request req) {
    registration reg;
    reg.peer_id = req.peer_id;
    reg.incarnation = req.incarnation;
    reg.owner = std::move(req.owner);
    reg.bell = tr::doorbell::adopt(req.doorbell_fd);
    reg.pidfd = owned_fd{req.pidfd};
    // As adopt() does for the doorbell: a plain dup() is inheritable, and no fork/exec
    // elsewhere in the host should hand this pidfd to another program.
    if (reg.pidfd.get() >= 0)
      (void)::fcntl(reg.pidfd.get(), F_SETFD, FD_CLOEXEC);
    if (!running_ || !reg.owner) {
      if (running_)
        tr::logger()->warn("doorbell_watcher: watch request for peer_id={} incarnation={} has no "
                           "owner; closing its fds",
                           reg.peer_id, reg.incarnation);
      return; // `reg` closes the fds
    }
    const auto key = make_key(reg.peer_id, reg.incarnation);
    if (registrations_.count(key) != 0) {
      tr::logger()->warn("doorbell_watcher: peer_id={} incarnation={} watched twice; the newer "
                         "request replaces the older",
                         reg.peer_id, reg.incarnation);
      unwatch(key);
    }
    if (reg.bell.valid()) {
      if (auto added = epoll_.add(reg.bell.fd(), (key << 1) | doorbell_kind); added)
        reg.watching_bell = true;
      else
        tr::logger()->error("doorbell_watcher: peer_id={} incarnation={}: {}", reg.peer_id,
                            reg.incarnation, added.error().message());
    }
    if (reg.pidfd.get() >= 0) {
      if (auto added = epoll_.add(reg.pidfd.get(), (key << 1) | pidfd_kind); added)
        reg.watching_pidfd = true;
      else
        tr::logger()->error("doorbell_watcher: peer_id={} incarnation={}: {}", reg.peer_id,
                            reg.incarnation, added.error().message());
    }
    // One monitor per owner: its down message drops all of its registrations, so an
    // owner that dies without unwatching leaks no fds.
    if (monitored_.insert(reg.owner.address()).second)
      monitor(reg.owner);
    registrations_.emplace(key, std::move(reg));
  }

  void unwatch(std::uint64_t key) {
    auto i = registrations_.find(key);
    if (i == registrations_.end())
      return;
    release(i->second);
    registrations_.erase(i);
  }

  void drop_owner(const caf::actor_addr& owner) {
    monitored_.erase(owner);
    for (auto i = registrations_.begin(); i != registrations_.end();) {
      if (i->second.owner.address() == owner) {
        release(i->second);
        i = registrations_.erase(i);
      } else {
        ++i;
      }
    }
  }

  void close_all() {
    for (auto& entry : registrations_)
      release(entry.second);
    registrations_.clear();
  }

  // Takes the registration's fds out of the epoll set; its destructor closes them.
  void release(registration& reg) {
    // Explicitly, because closing is not enough: the fds are duplicates, and epoll
    // keeps reporting an open file description until every fd for it is closed.
    if (reg.watching_bell)
      stop_watching(reg.bell.fd(), reg.watching_bell);
    if (reg.watching_pidfd)
      stop_watching(reg.pidfd.get(), reg.watching_pidfd);
  }

  void stop_watching(int fd, bool& watching) {
    watching = false;
    if (auto removed = epoll_.remove(fd); !removed)
      tr::logger()->warn("doorbell_watcher: {}", removed.error().message());
  }

  void on_fd_event(const tr::fd_event& event) {
    auto i = registrations_.find(event.token >> 1);
    if (i == registrations_.end())
      return;
    if ((event.token & 1) == doorbell_kind)
      on_doorbell(i->second, event);
    else
      on_pidfd(i->second);
    if (!i->second.watching_bell && !i->second.watching_pidfd)
      forget(i);
  }

  // Drops a registration with nothing left to watch (its last notice said so), and
  // the monitor on an owner with no registration left: the owner's own end then
  // costs no message to this thread, whose wake-up would only slow that end down.
  void forget(std::unordered_map<std::uint64_t, registration>::iterator i) {
    const auto owner = i->second.owner.address();
    registrations_.erase(i);
    const bool owns_more =
        std::any_of(registrations_.begin(), registrations_.end(),
                    [&](const auto& entry) { return entry.second.owner.address() == owner; });
    if (!owns_more && monitored_.erase(owner) != 0)
      demonitor(owner);
  }

  void on_doorbell(registration& reg, const tr::fd_event& event) {
    if (!reg.watching_bell)
      return;
    bool rang = false;
    bool dead = false;
    if (event.hung_up) {
      // drain() reports peer_dead whether or not rings preceded the EOF, so look first.
      char byte = 0;
      rang = ::recv(reg.bell.fd(), &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
      (void)reg.bell.drain();
      dead = true;
    } else {
      switch (reg.bell.drain()) {
      case tr::doorbell::drain_result::empty:
        break;
      case tr::doorbell::drain_result::drained:
        rang = true;
        break;
      case tr::doorbell::drain_result::peer_dead:
        // Readable without a hang-up means a ring was pending when epoll looked; the
        // EOF behind it came later.
        rang = true;
        dead = true;
        break;
      }
    }
    if (rang)
      send(reg.owner, rang_atom_v, reg.peer_id, reg.incarnation);
    if (dead) {
      // Level-triggered: a hung-up fd left in the set would wake every wait.
      stop_watching(reg.bell.fd(), reg.watching_bell);
      // Files close moments before the process becomes reapable, and this thread
      // wakes later than that: usually the exit is already there to report, which
      // spares the owner waiting for the pidfd's own notice before it can reap.
      peer_dead msg = notice_for(reg, tr::death_cause::hung_up);
      if (reg.watching_pidfd && peek_exit(reg, msg) == exit_seen::status_known)
        stop_watching(reg.pidfd.get(), reg.watching_pidfd);
      msg.last = !reg.watching_pidfd;
      send(reg.owner, msg);
    }
  }

  void on_pidfd(registration& reg) {
    if (!reg.watching_pidfd)
      return;
    peer_dead msg = notice_for(reg, tr::death_cause::process_exited);
    if (peek_exit(reg, msg) == exit_seen::still_running)
      return; // a pidfd is readable only once the process exits, so not expected
    stop_watching(reg.pidfd.get(), reg.watching_pidfd);
    msg.last = !reg.watching_bell;
    send(reg.owner, msg);
  }

  static peer_dead notice_for(const registration& reg, tr::death_cause cause) {
    peer_dead msg;
    msg.peer_id = reg.peer_id;
    msg.incarnation = reg.incarnation;
    msg.cause = static_cast<std::uint8_t>(cause);
    return msg;
  }

  enum class exit_seen { still_running, status_known, status_unknown };

  // Peeks at how the process ended, without reaping it (WNOWAIT), so that its owner
  // still can; fills the exit fields of `msg` when the status is known.
  static exit_seen peek_exit(const registration& reg, peer_dead& msg) {
    siginfo_t info{};
    // waitid leaves si_pid untouched when WNOHANG finds nothing, so it must start at 0.
    info.si_pid = 0;
    int rc = 0;
    do {
      rc =
          ::waitid(P_PIDFD, static_cast<id_t>(reg.pidfd.get()), &info, WEXITED | WNOWAIT | WNOHANG);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) {
      // ECHILD: not our child, or reaped already; the process is gone either way.
      tr::logger()->debug("doorbell_watcher: peer_id={} incarnation={}: waitid errno {}; exit "
                          "status unknown",
                          reg.peer_id, reg.incarnation, errno);
      return exit_seen::status_unknown;
    }
    if (info.si_pid == 0)
      return exit_seen::still_running;
    msg.exited = true;
    msg.signaled = info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED;
    msg.status = info.si_status;
    return exit_seen::status_known;
  }

  const int wake_fd_;
  int wake_errno_ = 0;
  bool running_ = true;
  tr::epoll_set epoll_;
  std::unordered_map<std::uint64_t, registration> registrations_;
  std::set<caf::actor_addr> monitored_;
};

} // namespace

caf::actor spawn_doorbell_watcher(caf::actor_system& sys) {
  return sys.spawn<doorbell_watcher_actor, caf::detached>();
}

} // namespace cellhub::actors
