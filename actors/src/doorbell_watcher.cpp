#include "cellhub/actors/doorbell_watcher.hpp"

#include "cellhub/actors/error.hpp"
#include "cellhub/actors/messages.hpp"
#include "cellhub/actors/types.hpp"
#include "cellhub/transport/death_watch.hpp"
#include "cellhub/transport/log.hpp"

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

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>

namespace cellhub::actors {
namespace {

namespace tr = cellhub::transport;

std::uint64_t make_key(std::uint16_t peer_id, std::uint32_t incarnation) noexcept {
  return (std::uint64_t{peer_id} << 32) | incarnation;
}

class doorbell_watcher_impl final : public caf::blocking_actor {
public:
  // The death watch is created here, not in act(), so that messages enqueued before
  // the thread starts already leave a wake-up behind.
  explicit doorbell_watcher_impl(caf::actor_config& cfg)
      : caf::blocking_actor{cfg} {
    if (auto created = tr::death_watch::create(); created)
      watch_ = std::move(created).value();
    else
      setup_error_ = created.error();
  }

  using caf::blocking_actor::enqueue;

  void enqueue(caf::mailbox_element_ptr ptr, caf::execution_unit* host) override {
    caf::blocking_actor::enqueue(std::move(ptr), host);
    // After the push: a wait that consumed the wake-up empties the mailbox after it, so
    // a message is either seen by that pass or leaves a wake-up for the next wait. The
    // watch lives as long as this object, which outlives every enqueue.
    watch_.wake();
  }

  const char* name() const override { return "doorbell_watcher"; }

  void act() override {
    if (setup_error_) {
      tr::logger()->error("doorbell_watcher: {}; not watching anything", setup_error_->message());
      fail_state(make_error(*setup_error_));
      // Nobody can be watched: take the fds of requests already here, then quit.
      running_ = false;
      process_mailbox();
      return;
    }
    while (running_) {
      auto waited = watch_.wait(std::chrono::milliseconds{-1},
                                [this](const tr::life_notice& notice) { forward(notice); });
      if (!waited) {
        tr::logger()->error("doorbell_watcher: {}; stopping", waited.error().message());
        fail_state(make_error(waited.error()));
        break;
      }
      if (waited.value().woken)
        process_mailbox();
    }
    // Closes every fd still watched. The watch itself stays: enqueue() may still wake
    // it from other threads until the last reference to this actor is gone.
    for (const auto& [key, reg] : owners_)
      watch_.unwatch(key);
    owners_.clear();
  }

private:
  // Handles every queued message without blocking. Once not running (stop requested, or
  // setup failed), watch requests are refused and their fds closed at once.
  void process_mailbox() {
    bool idle = false;
    while (!idle) {
      receive([&](watch_request& req) { watch(std::move(req)); },
              [&](unwatch_request& req) { unwatch(make_key(req.peer_id, req.incarnation)); },
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
    const auto key = make_key(req.peer_id, req.incarnation);
    const tr::watched_life life{.doorbell_fd = req.doorbell_fd, .pidfd = req.pidfd};
    if (!running_ || !req.owner) {
      if (running_)
        tr::logger()->warn("doorbell_watcher: watch request for peer_id={} incarnation={} has no "
                           "owner; closing its fds",
                           req.peer_id, req.incarnation);
      close_fds(life);
      return;
    }
    if (owners_.count(key) != 0) {
      tr::logger()->warn("doorbell_watcher: peer_id={} incarnation={} watched twice; the newer "
                         "request replaces the older",
                         req.peer_id, req.incarnation);
      unwatch(key);
    }
    if (auto watched = watch_.watch(key, life); !watched) {
      tr::logger()->error("doorbell_watcher: peer_id={} incarnation={}: {}", req.peer_id,
                          req.incarnation, watched.error().message());
      return;
    }
    // One monitor per owner: its down message drops all of its registrations, so an
    // owner that dies without unwatching leaks no fds.
    if (monitored_.insert(req.owner.address()).second)
      monitor(req.owner);
    owners_.emplace(key, registration{req.peer_id, req.incarnation, std::move(req.owner)});
  }

  static void close_fds(const tr::watched_life& life) {
    if (life.doorbell_fd >= 0)
      ::close(life.doorbell_fd);
    if (life.pidfd >= 0)
      ::close(life.pidfd);
  }

  void unwatch(std::uint64_t key) {
    watch_.unwatch(key);
    if (auto i = owners_.find(key); i != owners_.end())
      forget(i);
  }

  void drop_owner(const caf::actor_addr& owner) {
    monitored_.erase(owner);
    for (auto i = owners_.begin(); i != owners_.end();) {
      if (i->second.owner.address() == owner) {
        watch_.unwatch(i->first);
        i = owners_.erase(i);
      } else {
        ++i;
      }
    }
  }

  void forward(const tr::life_notice& notice) {
    auto i = owners_.find(notice.key);
    if (i == owners_.end())
      return;
    const auto& reg = i->second;
    if (notice.rang)
      send(reg.owner, doorbell_rang{reg.peer_id, reg.incarnation});
    if (notice.death) {
      peer_dead msg{reg.peer_id, reg.incarnation, *notice.death, {}, notice.last};
      if (notice.exit)
        msg.exit = *notice.exit;
      send(reg.owner, std::move(msg));
    }
    if (notice.last)
      forget(i);
  }

  struct registration {
    std::uint16_t peer_id = 0;
    std::uint32_t incarnation = 0;
    life_listener owner;
  };

  // Drops a registration whose life the death watch no longer watches, and the
  // monitor on an owner with no registration left: the owner's own end then costs no
  // message to this thread, whose wake-up would only slow that end down.
  void forget(std::unordered_map<std::uint64_t, registration>::iterator i) {
    const auto owner = i->second.owner.address();
    owners_.erase(i);
    const bool owns_more = std::any_of(owners_.begin(), owners_.end(), [&](const auto& entry) {
      return entry.second.owner.address() == owner;
    });
    if (!owns_more && monitored_.erase(owner) != 0)
      demonitor(owner);
  }

  tr::death_watch watch_;
  std::optional<tr::error> setup_error_;
  bool running_ = true;
  std::unordered_map<std::uint64_t, registration> owners_;
  std::set<caf::actor_addr> monitored_;
};

} // namespace

doorbell_watcher_actor spawn_doorbell_watcher(caf::actor_system& sys) {
  return caf::actor_cast<doorbell_watcher_actor>(sys.spawn<doorbell_watcher_impl, caf::detached>());
}

} // namespace cellhub::actors
