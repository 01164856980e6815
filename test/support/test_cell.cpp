// test_cell — the cell the transport tests spawn. It attaches from its ticket and
// then behaves as --mode says:
//   echo     answer each request with the checksummed reversal of its payload
//            (status 1 if the request's checksum was wrong); answer a host goodbye
//            with a goodbye and exit 0
//   reverse  answer each request with its payload reversed (status 0)
//   idle     take messages and do nothing with them
//   goodbye  say goodbye right after READY and exit 0
//   crash-on-start  exit 3 before attaching
//   hostile  write --attack=NAME garbage into its own rings, then idle
//   stubborn answer like echo, but ignore SIGTERM and answer a host goodbye only
//            with a one-way message "goodbye" (it never exits by itself)
//   linger   say goodbye right after READY and keep running without answering;
//            with --ignore-term it ignores SIGTERM too
//   wrong-ids  answer each request like echo, but under a message id nobody asked for
//   deaf     close its doorbell right after READY and run on without reading, until a
//            signal ends it
//   tally    count one-way messages, each of which must read "cast-N" with N counting
//            from 0 in arrival order; answer each request with "N in order" (or
//            "N out of order" once one came out of turn). With --fill-first it reads
//            nothing until the host has filled its ring, so the host surely meets a
//            full ring
// It exits 0 when the host hangs up, 2 when attaching fails.
#include "payload_check.hpp"

#include "cellhub/transport/cell.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unistd.h>

namespace tr = cellhub::transport;
namespace shm = cellhub::transport::shm;

namespace {

std::string option(int argc, char** argv, std::string_view name, std::string fallback) {
  const std::string prefix = "--" + std::string{name} + "=";
  for (int i = 1; i < argc; ++i)
    if (std::string_view{argv[i]}.starts_with(prefix))
      return argv[i] + prefix.size();
  return fallback;
}

enum class answer { none, checksummed, reversed };

// Says how the cell takes a host goodbye and names its replies.
struct manners {
  // Answers a goodbye with a one-way "goodbye" message and carries on.
  bool ignore_goodbye = false;
  // Replies under this id offset (0: the request's own id).
  std::uint64_t id_offset = 0;
  // Creates this file when a request arrives (`--mark=PATH`): a test's proof that a
  // call is in flight at the cell.
  std::string mark;
};

// Waits for the next message; nothing once the host is gone (`exit_code` 0) or
// receiving failed (3).
std::optional<tr::incoming_message> next_message(tr::cell& self, int& exit_code) {
  for (;;) {
    auto next = self.receive(std::chrono::seconds{10});
    if (next)
      return std::move(next.value());
    if (next.error().code != tr::errc::timeout) {
      exit_code = next.error().code == tr::errc::peer_dead ? 0 : 3;
      return std::nullopt;
    }
  }
}

int serve(tr::cell& self, answer how, manners way = {}) {
  for (;;) {
    int exit_code = 0;
    auto next = next_message(self, exit_code);
    if (!next)
      return exit_code;
    auto& msg = *next;
    if (msg.kind == shm::message_kind::goodbye) {
      if (way.ignore_goodbye) {
        const std::string_view note = "goodbye";
        (void)self.send(std::as_bytes(std::span{note.data(), note.size()}));
        continue;
      }
      (void)self.goodbye();
      return 0;
    }
    if (msg.kind == shm::message_kind::request && !way.mark.empty())
      if (auto* file = std::fopen(way.mark.c_str(), "w"))
        std::fclose(file);
    if (how == answer::none || msg.kind != shm::message_kind::request)
      continue;
    const auto request = msg.payload.bytes();
    const std::uint32_t status =
        how == answer::reversed || cellhub::test::checksum_ok(request) ? 0 : 1;
    auto reply = self.prepare(request.size());
    while (!reply && reply.error().code == tr::errc::no_slot) {
      if (!self.wait_for_space(std::chrono::seconds{5}))
        return 4;
      reply = self.prepare(request.size());
    }
    if (!reply)
      return 5;
    if (how == answer::reversed)
      std::reverse_copy(request.begin(), request.end(), reply.value().bytes().begin());
    else if (status == 0)
      cellhub::test::write_answer(request, reply.value().bytes());
    msg.payload.release();
    auto sent =
        self.commit(reply.value(), shm::message_kind::reply, msg.msg_id + way.id_offset, status);
    if (!sent)
      return sent.error().code == tr::errc::peer_dead ? 0 : 6;
  }
}

// Waits (up to 30 s) until the host has filled the ring towards this cell.
void await_full_ring(tr::cell& self) {
  const auto& geo = self.link().geometry();
  const auto* header =
      reinterpret_cast<const shm::ring_header*>(self.region() + geo.to_cell_ring_offset);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds{30};
  while (header->head.load() - header->tail.load() < geo.ring_capacity &&
         std::chrono::steady_clock::now() < until)
    std::this_thread::yield();
}

// Serves the tally mode (see the file comment).
int tally(tr::cell& self) {
  std::uint64_t count = 0;
  bool in_order = true;
  for (;;) {
    int exit_code = 0;
    auto next = next_message(self, exit_code);
    if (!next)
      return exit_code;
    auto& msg = *next;
    if (msg.kind == shm::message_kind::goodbye) {
      (void)self.goodbye();
      return 0;
    }
    const auto bytes = msg.payload.bytes();
    const std::string_view text{reinterpret_cast<const char*>(bytes.data()), bytes.size()};
    if (msg.kind == shm::message_kind::message) {
      in_order = in_order && text == "cast-" + std::to_string(count);
      ++count;
      continue;
    }
    if (msg.kind != shm::message_kind::request)
      continue;
    const auto answer = std::to_string(count) + (in_order ? " in order" : " out of order");
    msg.payload.release();
    if (!self.reply(msg.msg_id, std::as_bytes(std::span{answer})))
      return 6;
  }
}

// Publishes `d` in the cell→host ring behind the endpoint's back.
void publish_raw(tr::cell& self, const shm::descriptor& d) {
  const auto& geo = self.link().geometry();
  auto* header = reinterpret_cast<shm::ring_header*>(self.region() + geo.to_host_ring_offset);
  auto* ring = reinterpret_cast<shm::descriptor*>(self.region() + geo.to_host_ring_offset +
                                                  sizeof(shm::ring_header));
  const auto head = header->head.load();
  std::memcpy(&ring[head % geo.ring_capacity], &d, sizeof(d));
  header->head.store(head + 1);
  (void)self.link().ring();
}

bool attack(tr::cell& self, std::string_view name) {
  const auto& geo = self.link().geometry();
  shm::descriptor d{};
  d.kind = static_cast<std::uint16_t>(shm::message_kind::message);
  if (name == "slot_out_of_range") {
    d.slot = geo.slot_total() + 7;
    d.length = 100;
  } else if (name == "length_too_big") {
    d.slot = 0;
    d.length = geo.slot_size(0) + 1;
  } else if (name == "inline_too_long") {
    d.slot = shm::inline_slot;
    d.length = 4096;
  } else if (name == "unknown_kind") {
    d.kind = 77;
  } else if (name == "slot_sent_twice") {
    d.slot = 0;
    d.length = 64;
    publish_raw(self, d);
  } else if (name == "ring_head_too_far") {
    auto* header = reinterpret_cast<shm::ring_header*>(self.region() + geo.to_host_ring_offset);
    header->head.store(header->head.load() + geo.ring_capacity + 5);
    (void)self.link().ring();
    return true;
  } else {
    return false;
  }
  publish_raw(self, d);
  return true;
}

} // namespace

int main(int argc, char** argv) {
  const auto mode = option(argc, argv, "mode", "echo");
  if (mode == "crash-on-start")
    return 3;
  auto attached = tr::cell::attach(argc, argv);
  if (!attached) {
    std::fprintf(stderr, "test_cell: %s\n", attached.error().message().c_str());
    return 2;
  }
  auto& self = attached.value();
  if (mode == "echo")
    return serve(self, answer::checksummed);
  if (mode == "reverse")
    return serve(self, answer::reversed);
  if (mode == "idle")
    return serve(self, answer::none, {.mark = option(argc, argv, "mark", "")});
  if (mode == "goodbye")
    return self.goodbye() ? 0 : 7;
  if (mode == "stubborn") {
    std::signal(SIGTERM, SIG_IGN);
    return serve(self, answer::checksummed, {.ignore_goodbye = true});
  }
  if (mode == "linger") {
    for (int i = 1; i < argc; ++i)
      if (std::string_view{argv[i]} == "--ignore-term")
        std::signal(SIGTERM, SIG_IGN);
    if (!self.goodbye())
      return 7;
    return serve(self, answer::none, {.ignore_goodbye = true});
  }
  if (mode == "tally") {
    for (int i = 1; i < argc; ++i)
      if (std::string_view{argv[i]} == "--fill-first")
        await_full_ring(self);
    return tally(self);
  }
  if (mode == "deaf") {
    ::close(self.link().bell().fd());
    for (;;)
      ::pause();
  }
  if (mode == "wrong-ids")
    return serve(self, answer::checksummed, {.id_offset = std::uint64_t{1} << 40});
  if (mode == "hostile") {
    if (!attack(self, option(argc, argv, "attack", "")))
      return 8;
    return serve(self, answer::none);
  }
  std::fprintf(stderr, "test_cell: unknown mode %s\n", mode.c_str());
  return 9;
}
