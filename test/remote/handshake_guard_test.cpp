// The guard that bounds TLS handshakes, on real sockets: the cap shuts down the
// oldest accepted connection, the deadline shuts down whatever is still watched,
// and nothing released, opened by the node itself or left at destruction is touched.
#include "cellhub/remote/handshake_guard.hpp"

#include <boost/test/unit_test.hpp>

#include <array>
#include <chrono>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace rm = cellhub::remote;
using namespace std::chrono_literals;

namespace {

// Generous: the deadlines below are milliseconds.
constexpr auto hang_guard = 30s;
// Long enough never to pass during a test.
constexpr std::chrono::milliseconds no_deadline = std::chrono::hours{1};

// A connected pair of sockets: `near` is the node's end, `far` the peer's.
struct connection {
  int near = -1;
  int far = -1;
  connection() {
    std::array<int, 2> fds{};
    BOOST_TEST_REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds.data()) == 0);
    near = fds[0];
    far = fds[1];
  }
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
  ~connection() {
    ::close(near);
    ::close(far);
  }

  // Tells whether the peer has seen the node's end shut down, waiting at most `limit`.
  bool peer_sees_end(std::chrono::milliseconds limit = 0ms) const {
    pollfd pfd{far, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(limit.count())) != 1)
      return false;
    char byte = 0;
    return ::recv(far, &byte, 1, MSG_DONTWAIT) == 0;
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(handshake_guard)

BOOST_AUTO_TEST_CASE(admitting_past_the_cap_shuts_down_the_oldest_pending_connection) {
  rm::handshake_guard guard{{.max_pending = 2, .deadline = no_deadline}};
  connection a;
  connection b;
  connection c;
  guard.admit(a.near);
  guard.admit(b.near);
  BOOST_TEST(guard.pending() == 2u);
  BOOST_TEST(!a.peer_sees_end());
  guard.admit(c.near);
  BOOST_TEST(a.peer_sees_end());
  BOOST_TEST(!b.peer_sees_end());
  BOOST_TEST(!c.peer_sees_end());
  BOOST_TEST(guard.pending() == 2u);
  BOOST_TEST(guard.evicted() == 1u);
  BOOST_TEST(guard.expired() == 0u);
}

BOOST_AUTO_TEST_CASE(connection_still_in_its_handshake_at_its_deadline_is_shut_down) {
  rm::handshake_guard guard{{.max_pending = 4, .deadline = 50ms}};
  connection accepted;
  connection opened;
  guard.admit(accepted.near);
  guard.watch(opened.near);
  BOOST_TEST(accepted.peer_sees_end(hang_guard));
  BOOST_TEST(opened.peer_sees_end(hang_guard));
  BOOST_TEST(guard.expired() == 2u);
  BOOST_TEST(guard.pending() == 0u);
}

BOOST_AUTO_TEST_CASE(released_connection_is_neither_evicted_nor_shut_down_at_its_deadline) {
  rm::handshake_guard guard{{.max_pending = 1, .deadline = 50ms}};
  connection done;
  connection later;
  const auto ticket = guard.admit(done.near);
  guard.release(ticket);
  BOOST_TEST(guard.pending() == 0u);
  guard.admit(later.near); // the cap is 1: `done` no longer counts
  BOOST_TEST(guard.evicted() == 0u);
  // `later` reaches its deadline well after `done` would have.
  BOOST_TEST(later.peer_sees_end(hang_guard));
  BOOST_TEST(!done.peer_sees_end());
  BOOST_TEST(guard.expired() == 1u);
}

BOOST_AUTO_TEST_CASE(connections_the_node_opened_never_count_toward_the_cap) {
  rm::handshake_guard guard{{.max_pending = 1, .deadline = no_deadline}};
  connection out1;
  connection out2;
  connection in1;
  connection in2;
  guard.watch(out1.near);
  guard.admit(in1.near);
  guard.watch(out2.near);
  guard.admit(in2.near);
  BOOST_TEST(in1.peer_sees_end());
  BOOST_TEST(!in2.peer_sees_end());
  BOOST_TEST(!out1.peer_sees_end());
  BOOST_TEST(!out2.peer_sees_end());
  BOOST_TEST(guard.pending() == 1u);
  BOOST_TEST(guard.evicted() == 1u);
}

BOOST_AUTO_TEST_CASE(releasing_again_or_after_a_shutdown_changes_nothing) {
  rm::handshake_guard guard{{.max_pending = 1, .deadline = no_deadline}};
  connection first;
  connection second;
  const auto evicted = guard.admit(first.near);
  const auto kept = guard.admit(second.near);
  BOOST_TEST(first.peer_sees_end());
  guard.release(evicted);
  BOOST_TEST(guard.pending() == 1u);
  guard.release(kept);
  guard.release(kept);
  BOOST_TEST(guard.pending() == 0u);
  BOOST_TEST(!second.peer_sees_end());
}

BOOST_AUTO_TEST_CASE(zero_cap_still_lets_one_handshake_run) {
  rm::handshake_guard guard{{.max_pending = 0, .deadline = no_deadline}};
  connection only;
  guard.admit(only.near);
  BOOST_TEST(!only.peer_sees_end());
  BOOST_TEST(guard.pending() == 1u);
}

BOOST_AUTO_TEST_CASE(destroying_the_guard_leaves_watched_connections_open) {
  connection a;
  {
    rm::handshake_guard guard{{.max_pending = 4, .deadline = no_deadline}};
    guard.admit(a.near);
  }
  BOOST_TEST(!a.peer_sees_end());
}

BOOST_AUTO_TEST_SUITE_END()
