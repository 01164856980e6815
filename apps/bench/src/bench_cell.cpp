#include "cellhub/bench/bench_cell.hpp"

#include "cellhub/bench/cpu_pinning.hpp"
#include "cellhub/bench/frame_socket.hpp"
#include "cellhub/bench/payload_marks.hpp"

#include "cellhub/transport/cell.hpp"

#include <sys/prctl.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

namespace cellhub::bench {
namespace {

namespace tr = cellhub::transport;
namespace shm = cellhub::transport::shm;
using namespace std::chrono_literals;

// Exit codes beyond 0 (clean) tell the host which step broke.
constexpr int exit_attach_failed = 2;
constexpr int exit_receive_failed = 3;
constexpr int exit_no_space = 4;
constexpr int exit_send_failed = 5;
constexpr int exit_bad_payload = 6;
constexpr int exit_unknown_mode = 9;

// Reserves room for a reply, waiting while every fitting slot is in flight.
tr::result<tr::outgoing_payload> prepare_waiting(tr::cell& self, std::size_t length) {
  for (;;) {
    auto room = self.prepare(length);
    if (room || room.error().code != tr::errc::no_slot)
      return room;
    BOOST_OUTCOME_TRY(self.wait_for_space(10s));
  }
}

// Commits a prepared payload, waiting while the ring is full.
tr::result<void> commit_waiting(tr::cell& self, tr::outgoing_payload& payload,
                                shm::message_kind kind, std::uint64_t msg_id) {
  for (;;) {
    auto sent = self.commit(payload, kind, msg_id);
    if (sent || sent.error().code != tr::errc::ring_full)
      return sent;
    BOOST_OUTCOME_TRY(self.wait_for_space(10s));
  }
}

// Counts what a sink received: messages, bytes and (when reading every byte) their checksum.
struct sink_totals {
  std::uint64_t values[3] = {0, 0, 0};

  // Takes one message in; false if its markers are wrong.
  bool take(std::span<const std::byte> payload, bool read_all) noexcept {
    if (!carries_marker(payload))
      return false;
    ++values[0];
    values[1] += payload.size();
    if (read_all)
      values[2] += payload_checksum(payload);
    return true;
  }

  [[nodiscard]] std::span<const std::byte> bytes() const noexcept {
    return std::as_bytes(std::span{values});
  }

  void reset() noexcept { values[0] = values[1] = values[2] = 0; }
};

// Serves the hub modes until a goodbye or the host's hang-up.
int serve_hub(tr::cell& self, const std::string& mode, bool read_all) {
  const bool echo = mode == "echo";
  const bool sink = mode == "sink";
  sink_totals totals;
  for (;;) {
    auto next = self.receive(10s);
    if (!next) {
      if (next.error().code == tr::errc::timeout)
        continue;
      return next.error().code == tr::errc::peer_dead ? 0 : exit_receive_failed;
    }
    auto& msg = next.value();
    if (msg.kind == shm::message_kind::goodbye) {
      (void)self.goodbye();
      return 0;
    }
    if (sink && msg.kind == shm::message_kind::message) {
      if (!totals.take(msg.payload.bytes(), read_all))
        return exit_bad_payload;
      continue; // the lease returns its slot as it goes out of scope
    }
    if (msg.kind != shm::message_kind::request || !(echo || sink))
      continue;
    const sink_totals answered = totals;
    const auto answer = sink ? answered.bytes() : msg.payload.bytes();
    totals.reset();
    // Zero-copy reply: one copy from the request's slot straight into ours.
    auto reply = prepare_waiting(self, answer.size());
    if (!reply)
      return exit_no_space;
    if (!answer.empty())
      std::memcpy(reply.value().bytes().data(), answer.data(), answer.size());
    msg.payload.release();
    if (!commit_waiting(self, reply.value(), shm::message_kind::reply, msg.msg_id))
      return exit_send_failed;
  }
}

// Serves the socket baselines until the host closes its end.
int serve_socket(int fd, bool echo, bool read_all) {
  frame_socket link{fd};
  std::vector<std::byte> buffer(1 << 16);
  // Announces that the cell is up, so the host never times the start.
  if (!link.send(frame_kind::reply, {}))
    return exit_send_failed;
  sink_totals totals;
  for (;;) {
    auto header = link.receive(buffer);
    if (!header)
      return 0;
    const std::span<const std::byte> payload{buffer.data(), header->length};
    if (header->kind == frame_kind::data) {
      if (!totals.take(payload, read_all))
        return exit_bad_payload;
      continue;
    }
    if (header->kind != frame_kind::request)
      continue;
    const bool sent =
        echo ? link.send(frame_kind::reply, payload) : link.send(frame_kind::reply, totals.bytes());
    totals.reset();
    if (!sent)
      return 0;
  }
}

// Writes one byte to the inherited pipe: the spawn baseline's "I am up".
int pipe_ready(int fd, bool stay) {
  if (stay)
    (void)::prctl(PR_SET_PDEATHSIG, SIGKILL); // never outlive the bench
  const char byte = 'r';
  while (::write(fd, &byte, 1) < 0 && errno == EINTR) {
  }
  if (!stay)
    return 0;
  for (;;)
    ::pause();
}

} // namespace

int run_bench_cell(const bench_cell_settings& settings, int argc, char** argv) {
  if (settings.cpu >= 0)
    (void)pin_this_thread(settings.cpu);
  const auto& mode = settings.mode;
  if (mode == "pipe-ready")
    return pipe_ready(settings.pipe_fd, settings.stay);
  if (mode == "socket-echo" || mode == "socket-sink")
    return serve_socket(settings.socket_fd, mode == "socket-echo", settings.read_all);
  if (mode != "echo" && mode != "sink" && mode != "idle") {
    std::fprintf(stderr, "cellhub-bench-cell: unknown mode %s\n", mode.c_str());
    return exit_unknown_mode;
  }
  auto attached = tr::cell::attach(argc, argv, tr::cell_options{.spin = settings.spin});
  if (!attached) {
    std::fprintf(stderr, "cellhub-bench-cell: %s\n", attached.error().message().c_str());
    return exit_attach_failed;
  }
  return serve_hub(attached.value(), mode, settings.read_all);
}

} // namespace cellhub::bench
