#include "owned_pipe.hpp"

#include "cellhub/transport/doorbell.hpp"
#include "cellhub/transport/fd_limit.hpp"
#include "cellhub/transport/log.hpp"

#include <boost/test/unit_test.hpp>
#include <spdlog/sinks/ostream_sink.h>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>
#include <utility>

namespace tr = cellhub::transport;
using namespace std::chrono_literals;
using drain_result = tr::doorbell::drain_result;
using wait_result = tr::doorbell::wait_result;

namespace {

// Only catches hangs: every wait below is expected to end at once.
constexpr auto hang_bound = 5s;

// Bounds the fill loop far above any socket buffer, so a broken buffer_full cannot spin.
constexpr int max_fill = 1'000'000;

std::pair<tr::doorbell, tr::doorbell> make_pair() {
  auto pair = tr::doorbell::create_pair();
  BOOST_TEST_REQUIRE(pair.has_value(), (pair ? "" : pair.error().message()));
  return std::move(pair).value();
}

// Rings `bell` until the socket buffer is full; returns how many rings were sent.
int fill(tr::doorbell& bell) {
  int sent = 0;
  for (; sent < max_fill; ++sent) {
    const auto result = bell.signal();
    if (result == tr::signal_result::buffer_full)
      return sent;
    BOOST_TEST_REQUIRE(result == tr::signal_result::sent);
  }
  BOOST_FAIL("signal() never reported buffer_full");
  return sent;
}

// Routes the cellhub logger into a string for the lifetime of the object.
class captured_log {
public:
  captured_log()
      : previous_{tr::logger()} {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(text_);
    tr::set_logger(std::make_shared<spdlog::logger>("cellhub", std::move(sink)));
  }
  captured_log(const captured_log&) = delete;
  captured_log& operator=(const captured_log&) = delete;
  ~captured_log() { tr::set_logger(previous_, true); }

  std::string text() const { return text_.str(); }

  // Counts the lines logged at warn level.
  int warnings() const {
    int count = 0;
    const auto all = text();
    for (auto at = all.find(" WARN "); at != std::string::npos; at = all.find(" WARN ", at + 1))
      ++count;
    return count;
  }

private:
  std::ostringstream text_;
  std::shared_ptr<spdlog::logger> previous_;
};

// Sends `fd` from `bell` in a packet of 0 bytes: no host sends one, but a peer may.
void send_empty_packet_carrying(const tr::doorbell& bell, int fd) {
  iovec data{nullptr, 0};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &data;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  cmsghdr* header = CMSG_FIRSTHDR(&msg);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(header), &fd, sizeof(int));
  BOOST_TEST_REQUIRE(::sendmsg(bell.fd(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL) == 0,
                     std::strerror(errno));
}

// Returns whether no process holds the write end of the pipe whose read end is
// `read_end` any more (poll reports the hang-up at once; it does not wait).
bool no_writer_left(int read_end) {
  pollfd entry{read_end, POLLIN, 0};
  return ::poll(&entry, 1, 0) == 1 && (entry.revents & POLLHUP) != 0;
}

} // namespace

BOOST_AUTO_TEST_SUITE(transport_doorbell)

BOOST_AUTO_TEST_CASE(signal_result_names_are_stable) {
  BOOST_TEST(tr::to_string(tr::signal_result::sent) == "sent");
  BOOST_TEST(tr::to_string(tr::signal_result::buffer_full) == "buffer_full");
  BOOST_TEST(tr::to_string(tr::signal_result::peer_dead) == "peer_dead");
  BOOST_TEST(tr::to_string(drain_result::drained) == "drained");
  BOOST_TEST(tr::to_string(wait_result::rang) == "rang");
  std::ostringstream out;
  out << tr::signal_result::buffer_full;
  BOOST_TEST(out.str() == "buffer_full");
}

BOOST_AUTO_TEST_CASE(created_ends_are_nonblocking_and_close_on_exec) {
  auto [a, b] = make_pair();
  for (const auto* bell : {&a, &b}) {
    BOOST_TEST(bell->valid());
    BOOST_TEST((::fcntl(bell->fd(), F_GETFD) & FD_CLOEXEC) != 0);
    BOOST_TEST((::fcntl(bell->fd(), F_GETFL) & O_NONBLOCK) != 0);
  }
}

BOOST_AUTO_TEST_CASE(signal_to_live_peer_is_sent) {
  auto [a, b] = make_pair();
  BOOST_TEST(a.signal() == tr::signal_result::sent);
}

BOOST_AUTO_TEST_CASE(signal_reports_buffer_full_when_peer_does_not_drain) {
  auto [a, b] = make_pair();
  const int capacity = fill(a);
  BOOST_TEST_MESSAGE("one-byte rings queued before buffer_full: " << capacity);
  BOOST_TEST(capacity > 0);
  BOOST_TEST(a.signal() == tr::signal_result::buffer_full); // stays full, peer alive
  BOOST_TEST(!a.hung_up());
  BOOST_TEST(b.drain() == drain_result::drained);
  BOOST_TEST(b.drain() == drain_result::empty);
  BOOST_TEST(a.signal() == tr::signal_result::sent); // room again once drained
}

BOOST_AUTO_TEST_CASE(signal_reports_peer_dead_after_peer_closed_without_unread_data) {
  captured_log log;
  auto [a, b] = make_pair();
  b.close();
  BOOST_TEST(a.signal() == tr::signal_result::peer_dead); // EPIPE
  BOOST_TEST(a.signal() == tr::signal_result::peer_dead);
  BOOST_TEST(log.warnings() == 0); // EPIPE is an expected errno, not a warning
}

BOOST_AUTO_TEST_CASE(signal_reports_peer_dead_after_peer_closed_with_unread_data) {
  captured_log log;
  auto [a, b] = make_pair();
  BOOST_TEST(a.signal() == tr::signal_result::sent);
  b.close(); // closes with our byte unread: the next send sees ECONNRESET, then EPIPE
  BOOST_TEST(a.signal() == tr::signal_result::peer_dead);
  BOOST_TEST(a.signal() == tr::signal_result::peer_dead);
  BOOST_TEST(log.warnings() == 0); // ECONNRESET is an expected errno, not a warning
}

BOOST_AUTO_TEST_CASE(signal_reports_peer_dead_with_a_full_buffer_once_peer_closed) {
  auto [a, b] = make_pair();
  fill(a);
  b.close();
  BOOST_TEST(a.signal() == tr::signal_result::peer_dead);
}

BOOST_AUTO_TEST_CASE(unexpected_errno_is_logged_once_and_reported_as_peer_dead) {
  captured_log log;
  int pipe_fds[2];
  BOOST_TEST_REQUIRE(::pipe2(pipe_fds, O_CLOEXEC) == 0);
  ::close(pipe_fds[0]);
  // send() on a pipe fails with ENOTSOCK, which is none of the peer-gone errnos.
  auto bell = tr::doorbell::adopt(pipe_fds[1]);
  BOOST_TEST(bell.signal() == tr::signal_result::peer_dead);
  BOOST_TEST(bell.signal() == tr::signal_result::peer_dead);
  BOOST_TEST(log.warnings() == 1, log.text());
  BOOST_TEST(log.text().find("Socket operation on non-socket") != std::string::npos, log.text());
}

BOOST_AUTO_TEST_CASE(drain_reports_drained_then_empty) {
  auto [a, b] = make_pair();
  BOOST_TEST(b.drain() == drain_result::empty);
  BOOST_TEST(a.signal() == tr::signal_result::sent);
  BOOST_TEST(a.signal() == tr::signal_result::sent);
  BOOST_TEST(a.signal() == tr::signal_result::sent);
  BOOST_TEST(b.drain() == drain_result::drained); // all three at once
  BOOST_TEST(b.drain() == drain_result::empty);
}

BOOST_AUTO_TEST_CASE(drain_reports_peer_dead_after_peer_closed) {
  auto [a, b] = make_pair();
  a.close();
  BOOST_TEST(b.drain() == drain_result::peer_dead);
  BOOST_TEST(b.drain() == drain_result::peer_dead);
}

BOOST_AUTO_TEST_CASE(drain_reports_peer_dead_when_peer_rang_then_closed) {
  auto [a, b] = make_pair();
  BOOST_TEST(a.signal() == tr::signal_result::sent);
  a.close();
  // The pending ring is consumed, but death is what matters.
  BOOST_TEST(b.drain() == drain_result::peer_dead);
}

BOOST_AUTO_TEST_CASE(wait_reports_rang_and_leaves_the_ring_pending) {
  auto [a, b] = make_pair();
  BOOST_TEST(a.signal() == tr::signal_result::sent);
  BOOST_TEST(b.wait(hang_bound) == wait_result::rang);
  BOOST_TEST(b.wait(0ns) == wait_result::rang); // not consumed by wait
  BOOST_TEST(b.wait(-1ns) == wait_result::rang);
  BOOST_TEST(b.drain() == drain_result::drained);
}

BOOST_AUTO_TEST_CASE(wait_reports_timeout_when_nothing_rang) {
  auto [a, b] = make_pair();
  constexpr auto timeout = 20ms;
  const auto start = std::chrono::steady_clock::now();
  BOOST_TEST(b.wait(timeout) == wait_result::timeout);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  BOOST_TEST(std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count() >=
             std::chrono::duration_cast<std::chrono::microseconds>(timeout).count());
  BOOST_TEST(b.wait(0ns) == wait_result::timeout);
}

BOOST_AUTO_TEST_CASE(wait_reports_peer_dead_after_peer_closed) {
  auto [a, b] = make_pair();
  a.close();
  BOOST_TEST(b.wait(hang_bound) == wait_result::peer_dead);
  BOOST_TEST(b.wait(-1ns) == wait_result::peer_dead); // never blocks once dead
}

BOOST_AUTO_TEST_CASE(wait_reports_peer_dead_when_peer_rang_then_closed) {
  auto [a, b] = make_pair();
  BOOST_TEST(a.signal() == tr::signal_result::sent);
  a.close();
  BOOST_TEST(b.wait(hang_bound) == wait_result::peer_dead);
}

BOOST_AUTO_TEST_CASE(hang_up_is_seen_by_poll_without_any_signal) {
  auto [a, b] = make_pair();
  BOOST_TEST(!a.hung_up());
  BOOST_TEST(!b.hung_up());
  b = tr::doorbell{}; // destroying the owner closes its end
  BOOST_TEST(a.hung_up());
  BOOST_TEST(a.wait(hang_bound) == wait_result::peer_dead);
}

BOOST_AUTO_TEST_CASE(hang_up_is_seen_when_peer_left_unread_data) {
  auto [a, b] = make_pair();
  BOOST_TEST(a.signal() == tr::signal_result::sent);
  b.close(); // POLLERR joins POLLHUP here
  BOOST_TEST(a.hung_up());
  BOOST_TEST(a.wait(hang_bound) == wait_result::peer_dead);
}

BOOST_AUTO_TEST_CASE(shutdown_hangs_up_both_ends_but_keeps_the_fd) {
  auto [a, b] = make_pair();
  const int fd = a.fd();
  a.shutdown();
  BOOST_TEST(a.fd() == fd);
  BOOST_TEST(::fcntl(fd, F_GETFD) >= 0); // still open: the number stays taken
  BOOST_TEST(b.hung_up());
  BOOST_TEST(b.wait(hang_bound) == wait_result::peer_dead);
  BOOST_TEST(b.signal() == tr::signal_result::peer_dead);
  BOOST_TEST(a.hung_up());
  BOOST_TEST(a.signal() == tr::signal_result::peer_dead);
  BOOST_TEST(a.drain() == drain_result::peer_dead);
  a.shutdown(); // twice is harmless
}

BOOST_AUTO_TEST_CASE(adopt_sets_cloexec_and_nonblock) {
  int fds[2];
  BOOST_TEST_REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds) == 0);
  BOOST_TEST_REQUIRE((::fcntl(fds[0], F_GETFD) & FD_CLOEXEC) == 0);
  BOOST_TEST_REQUIRE((::fcntl(fds[0], F_GETFL) & O_NONBLOCK) == 0);
  auto cell = tr::doorbell::adopt(fds[0]);
  auto host = tr::doorbell::adopt(fds[1]);
  BOOST_TEST(cell.fd() == fds[0]);
  BOOST_TEST((::fcntl(cell.fd(), F_GETFD) & FD_CLOEXEC) != 0);
  BOOST_TEST((::fcntl(cell.fd(), F_GETFL) & O_NONBLOCK) != 0);
  // Non-blocking for real: a full buffer reports buffer_full instead of blocking.
  fill(cell);
  BOOST_TEST(host.wait(hang_bound) == wait_result::rang);
  BOOST_TEST(host.drain() == drain_result::drained);
}

BOOST_AUTO_TEST_CASE(adopt_of_a_negative_or_closed_fd_gives_an_empty_doorbell) {
  BOOST_TEST(!tr::doorbell::adopt(-1).valid());
  int fds[2];
  BOOST_TEST_REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  ::close(fds[0]);
  ::close(fds[1]);
  captured_log log;
  BOOST_TEST(!tr::doorbell::adopt(fds[0]).valid());
}

BOOST_AUTO_TEST_CASE(empty_doorbell_behaves_as_if_the_peer_were_dead) {
  tr::doorbell bell;
  BOOST_TEST(!bell.valid());
  BOOST_TEST(bell.fd() == -1);
  BOOST_TEST(bell.signal() == tr::signal_result::peer_dead);
  BOOST_TEST(bell.drain() == drain_result::peer_dead);
  BOOST_TEST(bell.wait(-1ns) == wait_result::peer_dead); // must not block forever
  BOOST_TEST(bell.hung_up());
}

BOOST_AUTO_TEST_CASE(move_transfers_ownership) {
  auto [a, b] = make_pair();
  const int fd = a.fd();
  tr::doorbell moved{std::move(a)};
  BOOST_TEST(!a.valid()); // NOLINT(bugprone-use-after-move): moved-from state is specified
  BOOST_TEST(moved.fd() == fd);
  BOOST_TEST(moved.signal() == tr::signal_result::sent);
  tr::doorbell assigned;
  assigned = std::move(moved);
  BOOST_TEST(assigned.fd() == fd);
  BOOST_TEST(!b.hung_up());
}

BOOST_AUTO_TEST_CASE(release_gives_up_ownership) {
  auto [a, b] = make_pair();
  const int fd = a.release();
  BOOST_TEST(!a.valid());
  a.close();                // a no-op now
  BOOST_TEST(!b.hung_up()); // the fd is still open: release did not close it
  BOOST_TEST(::close(fd) == 0);
  BOOST_TEST(b.hung_up());
}

BOOST_AUTO_TEST_CASE(receive_fd_refuses_an_empty_packet_that_carries_a_descriptor_and_closes_it) {
  auto [host, cell] = make_pair();
  cellhub::test::owned_pipe pipe;
  const auto open_before = tr::count_open_fds();
  send_empty_packet_carrying(host, pipe.write_end);
  pipe.close_write_end(); // the only write end left is the one in flight
  auto received = cell.receive_fd();
  BOOST_TEST_REQUIRE(!received.has_value());
  // Not a hang-up: the host is there and sent a packet, just not a region handed over.
  BOOST_TEST(received.error().code == tr::errc::bad_ticket, received.error().message());
  // The descriptor the receiver was given is closed again.
  BOOST_TEST(no_writer_left(pipe.read_end));
  BOOST_TEST(tr::count_open_fds() == open_before - 1);
}

BOOST_AUTO_TEST_SUITE_END()
