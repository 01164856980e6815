#include "cellhub/actors/doorbell_watcher.hpp"
#include "cellhub/actors/messages.hpp"
#include "cellhub/actors/types.hpp"
#include "cellhub/transport/doorbell.hpp"
#include "cellhub/transport/peer_transport.hpp"
#include "cellhub/transport/process.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/after.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/sec.hpp>
#include <caf/send.hpp>
#include <caf/system_messages.hpp>

#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace ac = cellhub::actors;
namespace tr = cellhub::transport;
using namespace std::chrono_literals;

namespace {

// Only catches hangs: every awaited message is expected within milliseconds.
constexpr auto deadline = 5s;

caf::actor_system_config& configure(caf::actor_system_config& cfg) {
  cfg.add_message_types<caf::id_block::cellhub>();
  cfg.set("scheduler.max-threads", 2);
  return cfg;
}

std::pair<tr::doorbell, tr::doorbell> make_pair() {
  auto pair = tr::doorbell::create_pair();
  BOOST_TEST_REQUIRE(pair.has_value(), (pair ? "" : pair.error().message()));
  return std::move(pair).value();
}

// Returns a close-on-exec duplicate of `fd` for the watcher to take over.
int dup_fd(int fd) {
  const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  BOOST_TEST_REQUIRE(copy >= 0, "F_DUPFD_CLOEXEC failed, errno " << errno);
  return copy;
}

// Names one open file by device and inode, to tell it apart from a file that reuses its
// fd number later.
struct file_id {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const file_id&) const = default;
};

std::optional<file_id> identify(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    return std::nullopt;
  return file_id{st.st_dev, st.st_ino};
}

// Tells whether `fd` still refers to `file` (false once it was closed, even if reused).
bool still_open_as(int fd, file_id file) {
  return identify(fd) == file;
}

tr::process spawn_child(std::vector<std::string> args, int inherit_fd = -1) {
  tr::spawn_options options;
  options.binary = args.front();
  options.args.assign(args.begin() + 1, args.end());
  if (inherit_fd >= 0)
    options.inherit = {{inherit_fd, 3}};
  auto child = tr::process::spawn(options);
  BOOST_TEST_REQUIRE(child.has_value(), (child ? "" : child.error().message()));
  return std::move(child).value();
}

// What the owner got from the watcher.
using rang = ac::doorbell_rang;
using notice = std::variant<rang, ac::peer_dead>;

// Peer ids from here up are the markers of `expect_nothing_before_a_marker`.
constexpr std::uint16_t first_marker = 60000;

// Holds an actor system, the watcher and a scoped actor that owns every registration.
struct watcher_fixture {
  watcher_fixture()
      : sys{configure(cfg)}
      , self{sys}
      , watcher{ac::spawn_doorbell_watcher(sys)} {}

  watcher_fixture(const watcher_fixture&) = delete;
  watcher_fixture& operator=(const watcher_fixture&) = delete;

  ~watcher_fixture() {
    // The actor system's destructor waits for the watcher, so it must stop first.
    self->send_exit(watcher, caf::exit_reason::user_shutdown);
  }

  // Registers a cell life; the fds are duplicates the watcher takes over.
  void watch(std::uint16_t peer_id, std::uint32_t incarnation, int doorbell_fd, int pidfd = -1) {
    ac::watch_request req;
    req.peer_id = peer_id;
    req.incarnation = incarnation;
    req.doorbell_fd = doorbell_fd;
    req.pidfd = pidfd;
    req.owner = caf::actor_cast<ac::life_listener>(self);
    self->send(watcher, std::move(req));
  }

  void unwatch(std::uint16_t peer_id, std::uint32_t incarnation) {
    self->send(watcher, ac::unwatch_request{peer_id, incarnation});
  }

  // Returns the next message from the watcher, or nothing after `timeout`.
  std::optional<notice> next(std::chrono::milliseconds timeout) {
    std::optional<notice> got;
    self->receive([&](const ac::doorbell_rang& rung) { got = rung; },
                  [&](ac::peer_dead& dead) { got = dead; }, caf::after(timeout) >> [] {});
    return got;
  }

  rang expect_rang() {
    auto got = next(deadline);
    BOOST_TEST_REQUIRE(got.has_value(), "no message within the deadline");
    BOOST_TEST_REQUIRE(std::holds_alternative<rang>(*got), "expected rang, got peer_dead");
    return std::get<rang>(*got);
  }

  ac::peer_dead expect_peer_dead() {
    auto got = next(deadline);
    BOOST_TEST_REQUIRE(got.has_value(), "no message within the deadline");
    BOOST_TEST_REQUIRE(std::holds_alternative<ac::peer_dead>(*got), "expected peer_dead, got rang");
    return std::get<ac::peer_dead>(*got);
  }

  // Proves that the watcher sent nothing more so far, without a silence window: a new
  // registration (a marker) is rung, and its rang must be the next message. The
  // watcher's messages to one owner arrive in the order it sent them, and it handles
  // every fd event of a wake-up before the next, so anything owed before arrives first.
  void expect_nothing_before_a_marker() {
    auto marker = make_pair();
    const auto id = next_marker++;
    watch(id, 1, dup_fd(marker.first.fd()));
    BOOST_TEST_REQUIRE(marker.second.signal() == tr::signal_result::sent);
    auto got = next(deadline);
    BOOST_TEST_REQUIRE(got.has_value(), "the marker's rang did not come");
    BOOST_TEST_REQUIRE(std::holds_alternative<rang>(*got),
                       "unexpected peer_dead before the marker");
    BOOST_TEST(std::get<rang>(*got).peer_id == id, "unexpected rang before the marker");
    unwatch(id, 1);
  }

  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scoped_actor self;
  ac::doorbell_watcher_actor watcher;
  std::uint16_t next_marker = first_marker;
};

constexpr auto hung_up = tr::death_cause::hung_up;
constexpr auto process_exited = tr::death_cause::process_exited;

} // namespace

BOOST_FIXTURE_TEST_SUITE(doorbell_watcher, watcher_fixture)

BOOST_AUTO_TEST_CASE(ringing_the_cell_end_sends_rang_with_the_peer_ids) {
  auto [host, cell] = make_pair();
  watch(3, 41, dup_fd(host.fd()));
  BOOST_TEST_REQUIRE(cell.signal() == tr::signal_result::sent);
  const auto got = expect_rang();
  BOOST_TEST(got.peer_id == 3);
  BOOST_TEST(got.incarnation == 41u);
  // The watcher drained the ring, so the host end has nothing left to read.
  BOOST_TEST(host.drain() == tr::doorbell::drain_result::empty);
  // And it keeps watching: a second ring is a second message.
  BOOST_TEST_REQUIRE(cell.signal() == tr::signal_result::sent);
  BOOST_TEST(expect_rang().incarnation == 41u);
}

BOOST_AUTO_TEST_CASE(closing_the_cell_end_sends_exactly_one_hung_up_peer_dead) {
  auto [host, cell] = make_pair();
  watch(5, 2, dup_fd(host.fd()));
  cell.close();
  const auto dead = expect_peer_dead();
  BOOST_TEST(dead.peer_id == 5);
  BOOST_TEST(dead.incarnation == 2u);
  BOOST_TEST((dead.cause == hung_up));
  BOOST_TEST(!dead.exit);
  BOOST_TEST(dead.last); // no pidfd: nothing left to watch
  expect_nothing_before_a_marker();
}

BOOST_AUTO_TEST_CASE(ring_pending_at_hang_up_is_reported_before_peer_dead) {
  auto [host, cell] = make_pair();
  BOOST_TEST_REQUIRE(cell.signal() == tr::signal_result::sent);
  cell.close();
  // Watched only now, so the watcher sees the ring and the hang-up in one event.
  watch(6, 1, dup_fd(host.fd()));
  BOOST_TEST(expect_rang().peer_id == 6);
  BOOST_TEST((expect_peer_dead().cause == hung_up));
  expect_nothing_before_a_marker();
}

BOOST_AUTO_TEST_CASE(exited_process_is_reported_with_its_code_and_can_still_be_reaped) {
  auto child = spawn_child({"/bin/sh", "-c", "exit 7"});
  watch(7, 3, -1, dup_fd(child.pidfd()));
  const auto dead = expect_peer_dead();
  BOOST_TEST(dead.peer_id == 7);
  BOOST_TEST(dead.incarnation == 3u);
  BOOST_TEST((dead.cause == process_exited));
  BOOST_TEST_REQUIRE(static_cast<bool>(dead.exit));
  BOOST_TEST(!dead.exit->signaled);
  BOOST_TEST(dead.exit->code == 7);
  BOOST_TEST(dead.last); // no doorbell: nothing left to watch
  // The watcher only peeked (WNOWAIT): the owner of the process still reaps it.
  auto status = child.wait_for(deadline);
  BOOST_TEST_REQUIRE(status.has_value(), (status ? "" : status.error().message()));
  BOOST_TEST(status.value().code == 7);
  expect_nothing_before_a_marker();
}

BOOST_AUTO_TEST_CASE(killed_cell_is_reported_once_with_its_signal) {
  auto [host, cell] = make_pair();
  auto child = spawn_child({"/bin/sleep", "30"}, cell.fd());
  // Only the child holds the cell end now, so its death hangs the doorbell up.
  cell.close();
  watch(8, 9, dup_fd(host.fd()), dup_fd(child.pidfd()));
  BOOST_TEST_REQUIRE(child.send_signal(SIGKILL).has_value());
  // The hang-up comes first; it carries the exit when the process was reapable by
  // then, and otherwise the pidfd's notice follows with it.
  const auto first = expect_peer_dead();
  BOOST_TEST(first.peer_id == 8);
  BOOST_TEST(first.incarnation == 9u);
  BOOST_TEST((first.cause == hung_up));
  BOOST_TEST(first.last == static_cast<bool>(first.exit));
  auto with_exit = first;
  if (!first.exit) {
    with_exit = expect_peer_dead();
    BOOST_TEST(with_exit.peer_id == 8);
    BOOST_TEST(with_exit.incarnation == 9u);
    BOOST_TEST((with_exit.cause == process_exited));
  }
  BOOST_TEST_MESSAGE("notices: " << (first.exit ? 1 : 2));
  BOOST_TEST_REQUIRE(static_cast<bool>(with_exit.exit));
  BOOST_TEST(with_exit.exit->signaled);
  BOOST_TEST(with_exit.exit->signal == SIGKILL);
  BOOST_TEST(with_exit.last);
  expect_nothing_before_a_marker();
  auto status = child.wait_for(deadline);
  BOOST_TEST_REQUIRE(status.has_value(), (status ? "" : status.error().message()));
  BOOST_TEST(status.value().signaled);
  BOOST_TEST(status.value().signal == SIGKILL);
}

BOOST_AUTO_TEST_CASE(unwatched_cell_sends_nothing_more_and_its_fds_are_closed) {
  auto [host, cell] = make_pair();
  auto [other_host, other_cell] = make_pair();
  auto child = spawn_child({"/bin/sleep", "30"});
  // Every fd of the test is opened before the watcher closes any, so none reuses a number.
  const int bell_copy = dup_fd(host.fd());
  const int pidfd_copy = dup_fd(child.pidfd());
  const int other_copy = dup_fd(other_host.fd());
  const auto bell_file = identify(bell_copy).value();
  const auto pidfd_file = identify(pidfd_copy).value();

  watch(10, 1, bell_copy, pidfd_copy);
  BOOST_TEST_REQUIRE(cell.signal() == tr::signal_result::sent);
  BOOST_TEST_REQUIRE(expect_rang().peer_id == 10);

  unwatch(10, 1);
  // Messages from one sender arrive in order: once the later registration rings, the
  // unwatch has been processed.
  BOOST_TEST_REQUIRE(other_cell.signal() == tr::signal_result::sent);
  watch(11, 1, other_copy);
  BOOST_TEST_REQUIRE(expect_rang().peer_id == 11);

  BOOST_TEST(!still_open_as(bell_copy, bell_file));
  BOOST_TEST(!still_open_as(pidfd_copy, pidfd_file));
  BOOST_TEST(cell.signal() == tr::signal_result::sent);
  BOOST_TEST_REQUIRE(child.send_signal(SIGKILL).has_value());
  cell.close();
  expect_nothing_before_a_marker();
}

BOOST_AUTO_TEST_CASE(registration_ends_with_its_last_notice_and_its_fds_are_closed) {
  auto [host, cell] = make_pair();
  auto [other_host, other_cell] = make_pair();
  auto child = spawn_child({"/bin/sleep", "30"}, cell.fd());
  cell.close();
  const int bell_copy = dup_fd(host.fd());
  const int pidfd_copy = dup_fd(child.pidfd());
  const int other_copy = dup_fd(other_host.fd());
  const auto bell_file = identify(bell_copy).value();
  const auto pidfd_file = identify(pidfd_copy).value();

  watch(12, 1, bell_copy, pidfd_copy);
  BOOST_TEST_REQUIRE(child.send_signal(SIGKILL).has_value());
  bool last_seen = false;
  for (int notices = 0; notices < 2 && !last_seen; ++notices)
    last_seen = expect_peer_dead().last;
  BOOST_TEST_REQUIRE(last_seen);
  // A later registration's ring is handled after the last notice's clean-up.
  BOOST_TEST_REQUIRE(other_cell.signal() == tr::signal_result::sent);
  watch(13, 1, other_copy);
  BOOST_TEST_REQUIRE(expect_rang().peer_id == 13);
  BOOST_TEST(!still_open_as(bell_copy, bell_file));
  BOOST_TEST(!still_open_as(pidfd_copy, pidfd_file));
  // Unwatching a forgotten registration is harmless.
  unwatch(12, 1);
  expect_nothing_before_a_marker();
  BOOST_TEST(child.wait_for(deadline).has_value());
}

BOOST_AUTO_TEST_CASE(two_hundred_registrations_each_get_their_own_rang) {
  constexpr std::uint16_t count = 200;
  std::vector<std::pair<tr::doorbell, tr::doorbell>> pairs;
  pairs.reserve(count);
  for (std::uint16_t i = 0; i < count; ++i) {
    pairs.push_back(make_pair());
    watch(i, 1000u + i, dup_fd(pairs.back().first.fd()));
  }
  for (auto& pair : pairs)
    BOOST_TEST_REQUIRE(pair.second.signal() == tr::signal_result::sent);
  std::set<std::uint16_t> seen;
  for (std::uint16_t i = 0; i < count; ++i) {
    const auto got = expect_rang();
    BOOST_TEST_REQUIRE(got.peer_id < count);
    BOOST_TEST(got.incarnation == 1000u + got.peer_id);
    BOOST_TEST(seen.insert(got.peer_id).second, "peer " << got.peer_id << " rang twice");
  }
  BOOST_TEST(seen.size() == count);
  expect_nothing_before_a_marker();
}

BOOST_AUTO_TEST_CASE(rings_before_a_wake_up_coalesce_into_one_rang) {
  auto [host, cell] = make_pair();
  // Rung three times before it is watched: the watcher sees them in one wake-up.
  for (int i = 0; i < 3; ++i)
    BOOST_TEST_REQUIRE(cell.signal() == tr::signal_result::sent);
  watch(12, 1, dup_fd(host.fd()));
  BOOST_TEST(expect_rang().peer_id == 12);
  expect_nothing_before_a_marker();
}

BOOST_AUTO_TEST_CASE(owner_that_terminates_loses_its_registrations_and_their_fds) {
  auto [host, cell] = make_pair();
  auto [other_host, other_cell] = make_pair();
  const int bell_copy = dup_fd(host.fd());
  const int other_copy = dup_fd(other_host.fd());
  const auto bell_file = identify(bell_copy).value();
  {
    caf::scoped_actor owner{sys};
    ac::watch_request req;
    req.peer_id = 13;
    req.incarnation = 1;
    req.doorbell_fd = bell_copy;
    req.owner = caf::actor_cast<ac::life_listener>(owner);
    owner->send(watcher, std::move(req));
    BOOST_TEST_REQUIRE(cell.signal() == tr::signal_result::sent);
    bool got = false;
    owner->receive([&](const ac::doorbell_rang&) { got = true; }, caf::after(deadline) >> [] {});
    BOOST_TEST_REQUIRE(got);
  } // The owner terminates here; its down message is already in the watcher's mailbox.
  BOOST_TEST_REQUIRE(other_cell.signal() == tr::signal_result::sent);
  watch(14, 1, other_copy);
  BOOST_TEST_REQUIRE(expect_rang().peer_id == 14);
  BOOST_TEST(!still_open_as(bell_copy, bell_file));
}

BOOST_AUTO_TEST_CASE(unexpected_request_gets_an_error_and_watching_goes_on) {
  std::optional<caf::error> err;
  // Sent through an untyped handle, as a remote or careless sender could.
  const auto untyped = caf::actor_cast<caf::actor>(watcher);
  self->request(untyped, deadline, std::string{"not a watcher message"})
      .receive([&](const std::string&) {}, [&](caf::error& e) { err = std::move(e); });
  BOOST_TEST_REQUIRE(err.has_value(), "the request was answered with a value");
  BOOST_TEST((*err == caf::sec::unexpected_message), "error: " << sys.render(*err));
  // Also as a plain message, which gets no answer; the watcher still serves registrations.
  self->send(untyped, std::string{"not a watcher message either"});
  auto [host, cell] = make_pair();
  watch(15, 1, dup_fd(host.fd()));
  BOOST_TEST_REQUIRE(cell.signal() == tr::signal_result::sent);
  BOOST_TEST(expect_rang().peer_id == 15);
  expect_nothing_before_a_marker();
}

BOOST_AUTO_TEST_CASE(exit_message_stops_the_watcher_and_closes_every_fd) {
  auto [host, cell] = make_pair();
  const int bell_copy = dup_fd(host.fd());
  const auto bell_file = identify(bell_copy).value();
  watch(16, 1, bell_copy);
  BOOST_TEST_REQUIRE(cell.signal() == tr::signal_result::sent);
  BOOST_TEST_REQUIRE(expect_rang().peer_id == 16);

  self->monitor(watcher);
  self->send_exit(watcher, caf::exit_reason::user_shutdown);
  std::optional<caf::error> reason;
  self->receive([&](caf::down_msg& down) { reason = down.reason; }, caf::after(deadline) >> [] {});
  BOOST_TEST_REQUIRE(reason.has_value(), "the watcher did not stop");
  BOOST_TEST((*reason == caf::exit_reason::user_shutdown), "reason: " << sys.render(*reason));
  BOOST_TEST(!still_open_as(bell_copy, bell_file));
  // The fixture's destructor then shuts the actor system down, which must not hang.
}

BOOST_AUTO_TEST_SUITE_END()
