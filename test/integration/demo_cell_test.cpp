// cellhub-demo-cell as a real process under the transport's host API: its replies,
// and each misbehaviour it plays on cue.
#include "hub_path.hpp"

#include "cellhub/demo/demo_protocol.hpp"
#include "cellhub/demo/request_text.hpp"
#include "cellhub/transport/epoll_set.hpp"
#include "cellhub/transport/hub_host.hpp"

#include <boost/test/unit_test.hpp>

#include <array>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tr = cellhub::transport;
namespace shm = cellhub::transport::shm;
namespace demo = cellhub::demo;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using cellhub::test::unique_hub_path;

namespace {

tr::spawn_options demo_command(std::vector<std::string> args = {}) {
  return {.binary = DEMO_CELL_PATH, .args = std::move(args)};
}

std::shared_ptr<tr::hub_host> make_hub(const std::string& name) {
  auto hub = tr::hub_host::create(unique_hub_path("demo-" + name));
  BOOST_TEST_REQUIRE(hub.has_value(), (hub ? "" : hub.error().message()));
  return hub.value();
}

std::shared_ptr<tr::peer_transport> spawn(tr::hub_host& hub, std::vector<std::string> args) {
  auto transport = hub.spawn_peer({.peer_name = "demo"}, demo_command(std::move(args)));
  BOOST_TEST_REQUIRE(transport.has_value(), (transport ? "" : transport.error().message()));
  return transport.value();
}

// Spawns a demo cell and waits for its READY.
std::shared_ptr<tr::peer_transport> spawn_ready(tr::hub_host& hub, std::vector<std::string> args) {
  auto transport = spawn(hub, std::move(args));
  auto ready = transport->receive(30s);
  BOOST_TEST_REQUIRE(ready.has_value(), (ready ? "" : ready.error().message()));
  BOOST_TEST_REQUIRE((ready.value().kind == shm::message_kind::ready));
  return transport;
}

std::span<const std::byte> as_bytes(std::string_view text) {
  return std::as_bytes(std::span{text.data(), text.size()});
}

// Sends `text` as request `id` and tells whether the answer is its demo_reply.
bool exchange(tr::peer_transport& cell, std::span<const std::byte> text, std::uint64_t id) {
  if (!cell.send(shm::message_kind::request, id, text))
    return false;
  auto reply = cell.receive(30s);
  return reply && reply.value().kind == shm::message_kind::reply && reply.value().msg_id == id &&
         reply.value().aux == 0 && demo::is_demo_reply_to(text, reply.value().payload.bytes());
}

// Takes messages with try_receive, sleeping on the doorbell between tries, until it
// fails; returns the failure (timeout when `limit` passed first).
tr::errc take_until_failure(tr::peer_transport& cell, std::vector<tr::incoming_message>& taken,
                            std::chrono::milliseconds limit) {
  auto set = tr::epoll_set::create().value();
  BOOST_TEST_REQUIRE(set.add(cell.doorbell_fd(), 1).has_value());
  const auto deadline = clock_type::now() + limit;
  std::array<tr::fd_event, 4> events{};
  while (clock_type::now() < deadline) {
    auto next = cell.try_receive();
    if (!next)
      return next.error().code;
    if (next.value()) {
      taken.push_back(std::move(*next.value()));
      continue;
    }
    if (cell.check_hangup())
      return tr::errc::peer_dead; // gone, and nothing left to take
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock_type::now());
    if (set.wait(events, left).value() > 0)
      (void)cell.drain_doorbell();
  }
  return tr::errc::timeout;
}

tr::exit_status wait_for_exit(tr::peer_transport& cell) {
  auto status = cell.child()->wait_for(30s);
  BOOST_TEST_REQUIRE(status.has_value(), (status ? "" : status.error().message()));
  return status.value();
}

} // namespace

BOOST_AUTO_TEST_SUITE(demo_cell)

BOOST_AUTO_TEST_CASE(demo_reply_is_fnv1a64_words_and_bytes_encoded_little_endian) {
  const auto empty = demo::compute_demo_reply({});
  BOOST_TEST(empty.fnv1a64 == 0xcbf29ce484222325ull);
  BOOST_TEST(empty.words == 0u);
  BOOST_TEST(empty.bytes == 0u);
  BOOST_TEST(demo::compute_demo_reply(as_bytes("a")).fnv1a64 == 0xaf63dc4c8601ec8cull);
  BOOST_TEST(demo::compute_demo_reply(as_bytes("foobar")).fnv1a64 == 0x85944171f73967e8ull);
  const auto text = demo::compute_demo_reply(as_bytes("  two\t\twords\n"));
  BOOST_TEST(text.words == 2u);
  BOOST_TEST(text.bytes == 13u);
  BOOST_TEST(demo::compute_demo_reply(as_bytes("one")).words == 1u);
  BOOST_TEST(demo::compute_demo_reply(as_bytes(" \r\n\v\f ")).words == 0u);

  const demo::demo_reply reply{.fnv1a64 = 0x0102030405060708ull, .words = 9, .bytes = 0x0a0b};
  const auto encoded = demo::encode_demo_reply(reply);
  BOOST_TEST(encoded.size() == 24u);
  BOOST_TEST(static_cast<int>(encoded[0]) == 0x08);
  BOOST_TEST(static_cast<int>(encoded[7]) == 0x01);
  BOOST_TEST(static_cast<int>(encoded[8]) == 9);
  BOOST_TEST(static_cast<int>(encoded[16]) == 0x0b);
  BOOST_TEST(static_cast<int>(encoded[17]) == 0x0a);
  BOOST_TEST((demo::decode_demo_reply(encoded) == reply));
  BOOST_TEST(!demo::decode_demo_reply(std::span{encoded}.first(23)).has_value());
}

BOOST_AUTO_TEST_CASE(replies_match_compute_demo_reply_for_64b_4kib_and_1mib_texts) {
  auto hub = make_hub("replies");
  auto cell = spawn_ready(*hub, {"--role", "worker"});
  std::uint64_t id = 0;
  for (std::size_t size : {std::size_t{64}, std::size_t{4096}, std::size_t{1} << 20})
    for (int repeat = 0; repeat < 3; ++repeat) {
      ++id;
      BOOST_TEST(exchange(*cell, demo::make_request_text(size, id), id), "size " << size);
    }
}

BOOST_AUTO_TEST_CASE(one_way_messages_get_no_reply) {
  auto hub = make_hub("messages");
  auto cell = spawn_ready(*hub, {});
  for (int i = 0; i < 3; ++i)
    BOOST_TEST_REQUIRE(cell->send(demo::make_request_text(100, 7)).has_value());
  // Handled in order: had a message been answered, its answer would come first.
  BOOST_TEST(exchange(*cell, demo::make_request_text(64, 1), 1));
}

BOOST_AUTO_TEST_CASE(host_goodbye_is_answered_with_a_goodbye_and_exit_code_0) {
  auto hub = make_hub("goodbye");
  auto cell = spawn_ready(*hub, {});
  BOOST_TEST_REQUIRE(cell->request_goodbye().has_value());
  auto bye = cell->receive(30s);
  BOOST_TEST_REQUIRE(bye.has_value(), (bye ? "" : bye.error().message()));
  BOOST_TEST((bye.value().kind == shm::message_kind::goodbye));
  BOOST_TEST(wait_for_exit(*cell).clean());
}

BOOST_AUTO_TEST_CASE(host_hang_up_makes_the_cell_exit_with_code_0) {
  auto hub = make_hub("hang-up");
  auto added = hub->add_peer_transport_with_options({.peer_name = "orphan"});
  BOOST_TEST_REQUIRE(added.has_value());
  // Spawned without the transport adopting it, so dropping the transport only hangs up.
  auto child = added.value().ticket.spawn(demo_command());
  BOOST_TEST_REQUIRE(child.has_value(), (child ? "" : child.error().message()));
  auto ready = added.value().transport->receive(30s);
  BOOST_TEST_REQUIRE(ready.has_value());
  added.value().transport.reset();
  auto status = child.value().wait_for(30s);
  BOOST_TEST_REQUIRE(status.has_value());
  BOOST_TEST(status.value().clean(), status.value());
}

BOOST_AUTO_TEST_CASE(crash_after_ends_the_serving_cell_with_sigsegv) {
  auto hub = make_hub("crash-after");
  // The cell starts its clock (CLOCK_MONOTONIC, as ours) after READY, so after this:
  // its crash cannot be seen sooner than 200 ms later, however slow the machine.
  const auto spawned_at = clock_type::now();
  auto cell = spawn(*hub, {"--crash-after", "200ms"});
  // Waiting before READY, the request is taken on the cell's first turn, so its
  // answer does not race the crash.
  const auto text = demo::make_request_text(64, 1);
  BOOST_TEST_REQUIRE(cell->send(shm::message_kind::request, 1, text).has_value());
  auto ready = cell->receive(30s);
  BOOST_TEST_REQUIRE(ready.has_value(), (ready ? "" : ready.error().message()));
  BOOST_TEST_REQUIRE((ready.value().kind == shm::message_kind::ready));
  auto reply = cell->receive(30s);
  BOOST_TEST_REQUIRE(reply.has_value(), (reply ? "" : reply.error().message()));
  BOOST_TEST(reply.value().msg_id == 1u);
  BOOST_TEST(demo::is_demo_reply_to(text, reply.value().payload.bytes()));
  const auto status = wait_for_exit(*cell);
  BOOST_TEST((clock_type::now() - spawned_at >= 200ms));
  BOOST_TEST(status.signaled, status);
  BOOST_TEST(status.signal == SIGSEGV, status);
}

BOOST_AUTO_TEST_CASE(crash_on_start_exits_with_code_1_and_never_sends_ready) {
  auto hub = make_hub("crash-on-start");
  auto cell = spawn(*hub, {"--crash-on-start"});
  const auto status = wait_for_exit(*cell);
  BOOST_TEST(!status.signaled, status);
  BOOST_TEST(status.code == 1, status);
  std::vector<tr::incoming_message> taken;
  BOOST_TEST(take_until_failure(*cell, taken, 10s) == tr::errc::peer_dead);
  BOOST_TEST(taken.empty());
  BOOST_TEST(!cell->ready());
}

BOOST_AUTO_TEST_CASE(exit_after_sends_a_goodbye_and_exits_with_code_0) {
  auto hub = make_hub("exit-after");
  // As in crash_after: the goodbye cannot be seen sooner than 200 ms after this.
  const auto spawned_at = clock_type::now();
  auto cell = spawn_ready(*hub, {"--exit-after", "200ms"});
  auto bye = cell->receive(30s);
  BOOST_TEST_REQUIRE(bye.has_value(), (bye ? "" : bye.error().message()));
  BOOST_TEST((bye.value().kind == shm::message_kind::goodbye));
  BOOST_TEST((clock_type::now() - spawned_at >= 200ms));
  BOOST_TEST(cell->goodbye_received());
  const auto status = wait_for_exit(*cell);
  BOOST_TEST(status.clean(), status);
}

BOOST_AUTO_TEST_CASE(garbage_is_a_protocol_violation_and_the_cell_is_killed_with_sigkill) {
  auto hub = make_hub("garbage");
  auto cell = spawn(*hub, {"--garbage"});
  std::vector<tr::incoming_message> taken;
  BOOST_TEST(take_until_failure(*cell, taken, 30s) == tr::errc::protocol_violation);
  BOOST_TEST(cell->violated());
  BOOST_TEST_REQUIRE(taken.size() == 1u); // READY, then the garbage
  BOOST_TEST((taken.front().kind == shm::message_kind::ready));
  const auto status = wait_for_exit(*cell);
  BOOST_TEST(status.signaled, status);
  BOOST_TEST(status.signal == SIGKILL, status);
}

BOOST_AUTO_TEST_CASE(hung_cell_stops_heartbeating_while_a_request_stays_unread) {
  auto hub = make_hub("hang-after");
  auto cell = spawn_ready(*hub, {"--hang-after", "100ms"});
  BOOST_TEST(cell->progress().heartbeat > 0u);
  // Requests are answered until the hang; the first one left unanswered stays unread.
  std::uint64_t id = 0;
  bool unanswered = false;
  const auto give_up = clock_type::now() + 30s;
  while (!unanswered && clock_type::now() < give_up) {
    const auto text = demo::make_request_text(64, ++id);
    BOOST_TEST_REQUIRE(cell->send(shm::message_kind::request, id, text).has_value());
    auto reply = cell->receive(500ms);
    if (reply) {
      BOOST_TEST(demo::is_demo_reply_to(text, reply.value().payload.bytes()));
      continue;
    }
    BOOST_TEST_REQUIRE(reply.error().code == tr::errc::timeout, reply.error().message());
    unanswered = cell->progress().unread_by_cell > 0;
  }
  BOOST_TEST_REQUIRE(unanswered);

  const auto before = cell->progress();
  // A bounded wait to observe an absence: nothing may arrive and nothing may move.
  auto during = cell->receive(300ms);
  BOOST_TEST_REQUIRE(!during.has_value());
  BOOST_TEST(during.error().code == tr::errc::timeout);
  const auto after = cell->progress();
  BOOST_TEST(after.heartbeat == before.heartbeat);
  BOOST_TEST(after.last_progress_ns == before.last_progress_ns);
  BOOST_TEST(after.unread_by_cell == 1u);
  BOOST_TEST(cell->child()->running());
}

BOOST_AUTO_TEST_CASE(working_cell_heartbeats_while_busy_and_then_replies) {
  auto hub = make_hub("work");
  auto cell = spawn_ready(*hub, {"--work", "1500ms"});
  const auto text = demo::make_request_text(4096, 3);
  BOOST_TEST_REQUIRE(cell->send(shm::message_kind::request, 1, text).has_value());
  // Bounded waits to observe the cell busy: no reply yet, the request taken.
  BOOST_TEST_REQUIRE(!cell->receive(200ms).has_value());
  const auto first = cell->progress();
  BOOST_TEST(first.unread_by_cell == 0u);
  BOOST_TEST_REQUIRE(!cell->receive(200ms).has_value());
  const auto second = cell->progress();
  BOOST_TEST(second.heartbeat > first.heartbeat);
  auto reply = cell->receive(30s);
  BOOST_TEST_REQUIRE(reply.has_value(), (reply ? "" : reply.error().message()));
  BOOST_TEST(reply.value().msg_id == 1u);
  BOOST_TEST(demo::is_demo_reply_to(text, reply.value().payload.bytes()));
}

BOOST_AUTO_TEST_CASE(sigusr1_makes_an_idle_cell_write_garbage_and_the_host_kills_it) {
  auto hub = make_hub("sigusr1");
  auto cell = spawn_ready(*hub, {});
  BOOST_TEST_REQUIRE(exchange(*cell, demo::make_request_text(64, 1), 1));
  // Idle now: the cue is seen when the cell's bounded wait ends, not on traffic.
  BOOST_TEST_REQUIRE(cell->child()->send_signal(SIGUSR1).has_value());
  std::vector<tr::incoming_message> taken;
  BOOST_TEST(take_until_failure(*cell, taken, 30s) == tr::errc::protocol_violation);
  BOOST_TEST(cell->violated());
  BOOST_TEST(taken.empty());
  const auto status = wait_for_exit(*cell);
  BOOST_TEST(status.signaled, status);
  BOOST_TEST(status.signal == SIGKILL, status);
}

BOOST_AUTO_TEST_CASE(sigusr2_makes_the_cell_say_goodbye_then_heartbeat_and_answer_nothing) {
  auto hub = make_hub("sigusr2");
  auto cell = spawn_ready(*hub, {});
  BOOST_TEST_REQUIRE(exchange(*cell, demo::make_request_text(64, 1), 1));
  BOOST_TEST_REQUIRE(cell->child()->send_signal(SIGUSR2).has_value());
  auto bye = cell->receive(30s);
  BOOST_TEST_REQUIRE(bye.has_value(), (bye ? "" : bye.error().message()));
  BOOST_TEST((bye.value().kind == shm::message_kind::goodbye));
  BOOST_TEST(cell->goodbye_received());

  // A request and a host goodbye after it: the cell takes both and answers neither.
  BOOST_TEST_REQUIRE(
      cell->send(shm::message_kind::request, 2, demo::make_request_text(64, 2)).has_value());
  BOOST_TEST_REQUIRE(cell->request_goodbye().has_value());
  const auto give_up = clock_type::now() + 30s;
  while (cell->progress().unread_by_cell > 0 && clock_type::now() < give_up) {
    auto early = cell->receive(50ms);
    BOOST_TEST_REQUIRE(!early.has_value(), "the lingering cell sent something");
  }
  BOOST_TEST_REQUIRE(cell->progress().unread_by_cell == 0u);
  // Still alive: its heartbeat moves while nothing comes back.
  const auto before = cell->progress().heartbeat;
  while (cell->progress().heartbeat == before && clock_type::now() < give_up) {
    auto early = cell->receive(50ms);
    BOOST_TEST_REQUIRE(!early.has_value(), "the lingering cell sent something");
  }
  BOOST_TEST_REQUIRE(cell->progress().heartbeat > before);
  // Proved by order, not by a silence window: the cell heartbeats as it starts each
  // take, and answers a message before its next take, so a heartbeat after the last
  // take comes after any answer to it. None is there: no reply, no second goodbye.
  auto answer = cell->try_receive();
  BOOST_TEST_REQUIRE(answer.has_value(), (answer ? "" : answer.error().message()));
  BOOST_TEST(!answer.value().has_value());
  BOOST_TEST(cell->child()->running());

  BOOST_TEST_REQUIRE(cell->child()->send_signal(SIGTERM).has_value());
  const auto status = wait_for_exit(*cell);
  BOOST_TEST(status.signaled, status);
  BOOST_TEST(status.signal == SIGTERM, status);
}

BOOST_AUTO_TEST_CASE(lingering_cell_exits_with_code_0_when_the_host_hangs_up) {
  auto hub = make_hub("linger-hang-up");
  auto added = hub->add_peer_transport_with_options({.peer_name = "lingerer"});
  BOOST_TEST_REQUIRE(added.has_value());
  // Spawned without the transport adopting it, so dropping the transport only hangs up.
  auto child = added.value().ticket.spawn(demo_command());
  BOOST_TEST_REQUIRE(child.has_value(), (child ? "" : child.error().message()));
  auto& transport = *added.value().transport;
  auto ready = transport.receive(30s);
  BOOST_TEST_REQUIRE(ready.has_value());
  // Cue it once it serves: under ThreadSanitizer, a cue that lands while the cell is
  // still inside cell::attach was lost about 1 run in 12 (the handler never ran).
  BOOST_TEST_REQUIRE(exchange(transport, demo::make_request_text(64, 1), 1));
  BOOST_TEST_REQUIRE(child.value().send_signal(SIGUSR2).has_value());
  auto bye = transport.receive(30s);
  BOOST_TEST_REQUIRE(bye.has_value(), (bye ? "" : bye.error().message()));
  BOOST_TEST_REQUIRE((bye.value().kind == shm::message_kind::goodbye));
  added.value().transport.reset();
  auto status = child.value().wait_for(30s);
  BOOST_TEST_REQUIRE(status.has_value());
  BOOST_TEST(status.value().clean(), status.value());
}

BOOST_AUTO_TEST_CASE(invalid_flags_exit_with_code_2_before_attaching) {
  auto hub = make_hub("invalid");
  const std::vector<std::vector<std::string>> bad_command_lines = {
      {"--bogus"}, {"--crash-after=soon"}, {"--hang-after", "10"}, {"--exit-after=-1s"}, {"--role"},
      {"--work"},  {"stray-positional"},
  };
  for (const auto& args : bad_command_lines)
    BOOST_TEST_CONTEXT("args " << args.front()) {
      auto cell = spawn(*hub, args);
      const auto status = wait_for_exit(*cell);
      BOOST_TEST(!status.signaled, status);
      BOOST_TEST(status.code == 2, status);
      BOOST_TEST(!cell->ready());
    }
}

BOOST_AUTO_TEST_SUITE_END()
