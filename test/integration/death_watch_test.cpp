// transport::death_watch: deaths of real child processes seen through their doorbells
// and pidfds, with the exit each notice carries, rings, hang-ups only, unwatch, wake.

#include "cellhub/transport/death_watch.hpp"
#include "cellhub/transport/doorbell.hpp"
#include "cellhub/transport/process.hpp"

#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace tr = cellhub::transport;
using namespace std::chrono_literals;

namespace {

// Only catches hangs: every wait below is expected to end much sooner.
constexpr auto hang_bound = 10s;

tr::death_watch make_watch() {
  auto watch = tr::death_watch::create();
  BOOST_TEST_REQUIRE(watch.has_value(), (watch ? "" : watch.error().message()));
  return std::move(watch).value();
}

// A child running `script` under /bin/sh with the cell end of a doorbell at fd 3; the
// host keeps the other end.
struct doorbell_child {
  tr::doorbell host_end;
  tr::process child;
};

doorbell_child spawn_sh(const std::string& script) {
  auto pair = tr::doorbell::create_pair();
  BOOST_TEST_REQUIRE(pair.has_value());
  auto [host_end, cell_end] = std::move(pair).value();
  tr::spawn_options options{.binary = "/bin/sh", .args = {"-c", script}};
  options.inherit.push_back({.fd = cell_end.fd(), .as = 3});
  options.sealed_image = false;
  auto child = tr::process::spawn(options);
  BOOST_TEST_REQUIRE(child.has_value(), (child ? "" : child.error().message()));
  // `cell_end` closes here: the child holds the only other copy, so its death hangs up.
  return {std::move(host_end), std::move(child).value()};
}

// Watches `c` under `key` with duplicates of its doorbell end and pidfd.
void watch(tr::death_watch& watch, std::uint64_t key, doorbell_child& c, bool report_rings = true) {
  auto watched = watch.watch(key, {.doorbell_fd = ::dup(c.host_end.fd()),
                                   .pidfd = ::dup(c.child.pidfd()),
                                   .report_rings = report_rings});
  BOOST_TEST_REQUIRE(watched.has_value(), (watched ? "" : watched.error().message()));
}

// Waits until a notice with `last` set arrives for `key`; returns every notice about
// it, in order.
std::vector<tr::life_notice> notices_until_last(tr::death_watch& watch, std::uint64_t key) {
  std::vector<tr::life_notice> seen;
  const auto deadline = std::chrono::steady_clock::now() + hang_bound;
  while (seen.empty() || !seen.back().last) {
    BOOST_TEST_REQUIRE((std::chrono::steady_clock::now() < deadline), "no last notice in time");
    auto waited = watch.wait(100ms, [&](const tr::life_notice& notice) {
      BOOST_TEST(notice.key == key);
      seen.push_back(notice);
    });
    BOOST_TEST_REQUIRE(waited.has_value());
  }
  return seen;
}

std::optional<tr::death_cause> first_death(const std::vector<tr::life_notice>& notices) {
  for (const auto& notice : notices)
    if (notice.death)
      return notice.death;
  return std::nullopt;
}

std::optional<tr::exit_status> reported_exit(const std::vector<tr::life_notice>& notices) {
  for (const auto& notice : notices)
    if (notice.exit)
      return notice.exit;
  return std::nullopt;
}

bool is_open(int fd) {
  return ::fcntl(fd, F_GETFD) != -1 || errno != EBADF;
}

} // namespace

BOOST_AUTO_TEST_CASE(exit_code_is_reported_with_the_hang_up_and_the_process_is_left_to_reap) {
  auto watch = make_watch();
  auto c = spawn_sh("exit 3");
  ::watch(watch, 7, c);
  const auto notices = notices_until_last(watch, 7);

  BOOST_TEST(first_death(notices).has_value());
  const auto exit = reported_exit(notices);
  BOOST_TEST_REQUIRE(exit.has_value());
  BOOST_TEST(!exit->signaled);
  BOOST_TEST(exit->code == 3);
  BOOST_TEST(watch.watched() == 0U);
  // Peeked, not reaped: the owner reaps, and sees the same status.
  auto reaped = c.child.wait_for(hang_bound);
  BOOST_TEST_REQUIRE(reaped.has_value());
  BOOST_TEST((reaped.value() == *exit));
}

BOOST_AUTO_TEST_CASE(sigkill_is_reported_as_a_signal) {
  auto watch = make_watch();
  auto c = spawn_sh("exec sleep 1000");
  ::watch(watch, 1, c);
  BOOST_TEST_REQUIRE(c.child.send_signal(SIGKILL).has_value());
  const auto notices = notices_until_last(watch, 1);

  const auto exit = reported_exit(notices);
  BOOST_TEST_REQUIRE(exit.has_value());
  BOOST_TEST(exit->signaled);
  BOOST_TEST(exit->signal == SIGKILL);
  BOOST_TEST(!exit->core_dumped);
  // One death notice per kind of fd at most, and nothing after the last.
  std::size_t deaths = 0;
  for (const auto& notice : notices)
    deaths += notice.death ? 1 : 0;
  BOOST_TEST(deaths >= 1U);
  BOOST_TEST(deaths <= 2U);
}

BOOST_AUTO_TEST_CASE(rings_before_the_end_are_reported_and_consumed) {
  auto watch = make_watch();
  // Rings three times (three packets on fd 3), then sleeps until killed.
  auto c = spawn_sh("printf r >&3; printf r >&3; printf r >&3; exec sleep 1000");
  ::watch(watch, 2, c);
  bool rang = false;
  const auto deadline = std::chrono::steady_clock::now() + hang_bound;
  while (!rang) {
    BOOST_TEST_REQUIRE((std::chrono::steady_clock::now() < deadline), "no ring in time");
    auto waited = watch.wait(100ms, [&](const tr::life_notice& notice) {
      BOOST_TEST(!notice.death.has_value());
      rang = rang || notice.rang;
    });
    BOOST_TEST_REQUIRE(waited.has_value());
  }
  // Rings coalesce and are consumed; a pending one would make the next wait report
  // again. The child still runs, so nothing is left to say until it dies.
  std::size_t later = 0;
  (void)watch.wait(0ms, [&](const tr::life_notice& notice) { later += notice.rang ? 1 : 0; });
  BOOST_TEST(later <= 1U); // a ring still in flight when the first wait looked
  BOOST_TEST_REQUIRE(c.child.send_signal(SIGKILL).has_value());
  const auto notices = notices_until_last(watch, 2);
  BOOST_TEST(first_death(notices).has_value());
}

BOOST_AUTO_TEST_CASE(hang_ups_only_leaves_the_rings_to_their_reader) {
  auto watch = make_watch();
  auto c = spawn_sh("printf r >&3; exec sleep 1000");
  ::watch(watch, 3, c, /*report_rings=*/false);
  // The ring arrives and stays for its reader: the watch neither reports nor takes it.
  BOOST_TEST((c.host_end.wait(hang_bound) == tr::doorbell::wait_result::rang));
  std::size_t notices = 0;
  auto waited = watch.wait(0ms, [&](const tr::life_notice&) { ++notices; });
  BOOST_TEST_REQUIRE(waited.has_value());
  BOOST_TEST(notices == 0U);
  BOOST_TEST((c.host_end.drain() == tr::doorbell::drain_result::drained));

  BOOST_TEST_REQUIRE(c.child.send_signal(SIGKILL).has_value());
  const auto seen = notices_until_last(watch, 3);
  for (const auto& notice : seen)
    BOOST_TEST(!notice.rang);
  BOOST_TEST(first_death(seen).has_value());
}

BOOST_AUTO_TEST_CASE(exit_seen_first_when_the_doorbell_outlives_the_process) {
  auto watch = make_watch();
  // A background grandchild keeps fd 3 open after the child exits.
  auto c = spawn_sh("sleep 1000 <&- >/dev/null 2>&1 & exit 5");
  ::watch(watch, 4, c);
  std::vector<tr::life_notice> seen;
  const auto deadline = std::chrono::steady_clock::now() + hang_bound;
  while (seen.empty()) {
    BOOST_TEST_REQUIRE((std::chrono::steady_clock::now() < deadline), "no exit in time");
    (void)watch.wait(100ms, [&](const tr::life_notice& notice) { seen.push_back(notice); });
  }
  BOOST_TEST_REQUIRE(seen.size() == 1U);
  BOOST_TEST((seen[0].death == tr::death_cause::process_exited));
  BOOST_TEST_REQUIRE(seen[0].exit.has_value());
  BOOST_TEST(seen[0].exit->code == 5);
  BOOST_TEST(!seen[0].last); // the doorbell is still watched
  BOOST_TEST(watch.watched() == 1U);
  // Reaping kills the child's group, the grandchild included: the hang-up follows.
  BOOST_TEST_REQUIRE(c.child.wait_for(hang_bound).has_value());
  const auto rest = notices_until_last(watch, 4);
  BOOST_TEST((rest.back().death == tr::death_cause::hung_up));
  BOOST_TEST(!rest.back().exit.has_value()); // reaped by then, and told already
}

BOOST_AUTO_TEST_CASE(unwatch_closes_the_fds_and_silences_the_key) {
  auto watch = make_watch();
  auto c = spawn_sh("exec sleep 1000");
  const int bell = ::dup(c.host_end.fd());
  const int pidfd = ::dup(c.child.pidfd());
  BOOST_TEST_REQUIRE(watch.watch(9, {.doorbell_fd = bell, .pidfd = pidfd}).has_value());
  BOOST_TEST(watch.unwatch(9));
  BOOST_TEST(!watch.unwatch(9));
  BOOST_TEST(!is_open(bell));
  BOOST_TEST(!is_open(pidfd));
  BOOST_TEST_REQUIRE(c.child.send_signal(SIGKILL).has_value());
  BOOST_TEST_REQUIRE(c.child.wait_for(hang_bound).has_value());
  // The death happened while unwatched: no wait reports it.
  std::size_t notices = 0;
  (void)watch.wait(0ms, [&](const tr::life_notice&) { ++notices; });
  BOOST_TEST(notices == 0U);
}

BOOST_AUTO_TEST_CASE(watching_a_key_again_replaces_and_closes_the_first_fds) {
  auto watch = make_watch();
  auto first = spawn_sh("exec sleep 1000");
  auto second = spawn_sh("exit 0");
  const int first_bell = ::dup(first.host_end.fd());
  BOOST_TEST_REQUIRE(watch.watch(5, {.doorbell_fd = first_bell}).has_value());
  ::watch(watch, 5, second);
  BOOST_TEST(!is_open(first_bell));
  BOOST_TEST(watch.watched() == 1U);
  const auto notices = notices_until_last(watch, 5);
  const auto exit = reported_exit(notices);
  BOOST_TEST_REQUIRE(exit.has_value());
  BOOST_TEST(exit->clean());
}

BOOST_AUTO_TEST_CASE(a_life_without_fds_is_refused_and_wake_ends_a_wait_from_another_thread) {
  auto watch = make_watch();
  auto refused = watch.watch(1, {});
  BOOST_TEST_REQUIRE(!refused.has_value());
  BOOST_TEST((refused.error().code == tr::errc::invalid_argument));

  std::thread waker{[&watch] { watch.wake(); }};
  auto waited = watch.wait(std::chrono::milliseconds{-1}, [](const tr::life_notice&) {});
  waker.join();
  BOOST_TEST_REQUIRE(waited.has_value());
  BOOST_TEST(waited.value().woken);
  BOOST_TEST(waited.value().notices == 0U);
  // The wake-up was consumed: a wait now times out empty.
  auto again = watch.wait(0ms, [](const tr::life_notice&) {});
  BOOST_TEST_REQUIRE(again.has_value());
  BOOST_TEST(!again.value().woken);
}
