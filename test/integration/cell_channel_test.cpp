// Calls by name through a cell channel, with real cells: the bytes go through the
// life's lane (cell_lane.hpp) and come back to the right caller while the peer actor
// and other callers use the same rings; a SIGKILLed life fails the call in flight and
// the next call reaches the new life; timeouts and overload behave as through the
// registry.
#include "hub_path.hpp"
#include "log_capture.hpp"

#include "cellhub/actors/cell_lane.hpp"
#include "cellhub/actors/embedding.hpp"

#include <caf/all.hpp>

#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace ac = cellhub::actors;
using namespace std::chrono_literals;

namespace {

// Every wait is bounded by this: a broken lane fails a test, never hangs it.
constexpr auto deadline = 60s;

caf::actor_system_config& prepared(caf::actor_system_config& cfg) {
  ac::prepare_config(cfg);
  return cfg;
}

std::string reversed(std::string text) {
  std::reverse(text.begin(), text.end());
  return text;
}

// A tree of one test cell named "cell" in `mode` ("reverse" answers every request
// with its bytes reversed, "idle" never answers).
struct one_cell {
  cellhub::test::log_capture log; // keeps the expected death warnings off the output
  caf::actor_system_config cfg;
  caf::actor_system sys{prepared(cfg)};
  caf::scoped_actor self{sys};
  std::optional<ac::supervision_tree> tree;

  explicit one_cell(const std::string& test, const std::string& mode,
                    std::chrono::milliseconds request_timeout = 30s, std::size_t max_pending = 64,
                    cellhub::transport::hub_config hub = {}) {
    ac::cell_spec spec;
    spec.name = "cell";
    spec.binary = TEST_CELL_PATH;
    spec.args = {"--mode=" + mode};
    if (mode == "tally")
      spec.args.emplace_back("--fill-first");
    spec.start_timeout = 30s; // generous: sanitizers make starting slow
    spec.hang_timeout = 0ms;
    spec.request_timeout = request_timeout;
    spec.max_pending = max_pending;
    spec.backoff = {.min_delay = 0ms, .max_delay = 1s, .jitter = 0.0, .reset_after = 30s};
    ac::supervisor_spec root;
    root.name = "root";
    root.max_restarts = 10;
    root.period = 10s;
    root.children = {std::move(spec)};
    ac::tree_options options;
    options.hub = std::move(hub);
    options.subscribers.push_back(caf::actor{self});
    auto started =
        ac::supervision_tree::start(sys, cellhub::test::unique_hub_path("channel-" + test),
                                    std::move(root), std::move(options));
    BOOST_TEST_REQUIRE(static_cast<bool>(started), (started ? "" : sys.render(started.error())));
    tree.emplace(std::move(*started));
  }

  ~one_cell() {
    if (tree)
      tree->stop();
  }

  one_cell(const one_cell&) = delete;
  one_cell& operator=(const one_cell&) = delete;

  // Waits for the cell's next `ready` event; returns the life it names.
  ac::lifecycle_event await_ready() {
    for (;;) {
      std::optional<ac::lifecycle_event> got;
      self->receive([&](ac::lifecycle_event& e) { got = std::move(e); },
                    caf::after(deadline) >> [] {});
      BOOST_TEST_REQUIRE(got.has_value(), "the cell never became ready");
      if (got->kind == ac::event_kind::ready && got->name == "cell")
        return *got;
    }
  }

  // Returns the current life's lane, asked of its peer actor as a channel does.
  std::shared_ptr<ac::cell_lane> lane() {
    ac::peer_actor life;
    self->request(tree->registry(), deadline, ac::lookup_atom_v, std::string{"cell"})
        .receive([&](ac::registry_entry& entry) { life = entry.actor; },
                 [&](caf::error& err) { BOOST_FAIL("lookup: " + sys.render(err)); });
    BOOST_TEST_REQUIRE(static_cast<bool>(life));
    std::shared_ptr<ac::cell_lane> out;
    self->request(life, deadline, ac::lane_atom_v)
        .receive([&](ac::lane_handle& handle) { out = handle.lane; },
                 [&](caf::error& err) { BOOST_FAIL("lane: " + sys.render(err)); });
    BOOST_TEST_REQUIRE(static_cast<bool>(out));
    return out;
  }

  // Calls the cell through the registry; returns the answer text or the error.
  std::string call_through_registry(const std::string& request) {
    std::string out;
    self->request(tree->registry(), deadline, ac::call_atom_v, std::string{"cell"},
                  ac::payload::from_string(request))
        .receive([&](ac::payload& reply) { out = std::string{reply.as_string()}; },
                 [&](caf::error& err) { out = "error: " + sys.render(err); });
    return out;
  }
};

// Waits until `lane` has `n` calls waiting for their answer (the call is in flight).
void await_calls_waiting(const ac::cell_lane& lane, std::size_t n) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (lane.calls_waiting() != n) {
    BOOST_TEST_REQUIRE((std::chrono::steady_clock::now() < until),
                       "the lane never had " << n << " calls waiting");
    std::this_thread::yield();
  }
}

std::string text_of(const caf::expected<ac::payload>& answer, caf::actor_system& sys) {
  return answer ? std::string{answer->as_string()} : "error: " + sys.render(answer.error());
}

bool has_code(const caf::expected<ac::payload>& answer, ac::errc code) {
  return !answer && ac::is(answer.error(), code);
}

} // namespace

BOOST_AUTO_TEST_SUITE(cell_channel_test)

BOOST_AUTO_TEST_CASE(calls_by_name_go_through_the_lane_and_come_back_right) {
  one_cell f{"direct", "reverse"};
  f.await_ready();
  // Spinning (the default) and sleeping (no spin: the peer actor routes the answer).
  for (const auto spin : {std::chrono::nanoseconds{50us}, std::chrono::nanoseconds{0}}) {
    auto channel = f.tree->channel("cell", {.spin = spin});
    for (int i = 0; i < 200; ++i) {
      const auto request = "call-" + std::to_string(i);
      BOOST_TEST(text_of(channel.call(ac::payload::from_string(request), deadline), f.sys) ==
                 reversed(request));
    }
    BOOST_TEST(channel.direct());
    BOOST_TEST(channel.stats().direct == 200u);
    BOOST_TEST(channel.stats().through_registry == 0u);
    BOOST_TEST(channel.stats().resolves == 1u);
  }
}

BOOST_AUTO_TEST_CASE(lane_callers_and_the_peer_actor_share_the_rings) {
  one_cell f{"shared", "reverse"};
  f.await_ready();
  // Two threads call through their own channels while this one calls through the
  // registry (the peer actor): every answer reaches the caller that asked.
  std::vector<std::string> wrong;
  std::mutex wrong_mutex;
  auto caller = [&](const std::string& tag, std::chrono::nanoseconds spin) {
    auto channel = f.tree->channel("cell", {.spin = spin});
    for (int i = 0; i < 300; ++i) {
      const auto request = tag + "-" + std::to_string(i);
      const auto got = text_of(channel.call(ac::payload::from_string(request), deadline), f.sys);
      if (got != reversed(request)) {
        std::lock_guard lock{wrong_mutex};
        wrong.push_back(request + " -> " + got);
      }
    }
  };
  std::thread spinner{caller, "spin", std::chrono::nanoseconds{50us}};
  std::thread sleeper{caller, "sleep", std::chrono::nanoseconds{0}};
  for (int i = 0; i < 300; ++i) {
    const auto request = "registry-" + std::to_string(i);
    const auto got = f.call_through_registry(request);
    if (got != reversed(request)) {
      std::lock_guard lock{wrong_mutex};
      wrong.push_back(request + " -> " + got);
    }
  }
  spinner.join();
  sleeper.join();
  BOOST_TEST(wrong.empty(), (wrong.empty() ? "" : wrong.front()));
  BOOST_TEST(f.lane()->calls_waiting() == 0u);
}

BOOST_AUTO_TEST_CASE(many_calls_in_flight_are_answered_in_any_order) {
  one_cell f{"pipelined", "reverse"};
  f.await_ready();
  auto channel = f.tree->channel("cell");
  // 64 in flight, their answers taken last to first.
  std::vector<ac::pending_call> calls;
  for (int i = 0; i < 64; ++i) {
    auto sent = channel.send_call(ac::payload::from_string("p-" + std::to_string(i)), deadline);
    BOOST_TEST_REQUIRE(static_cast<bool>(sent), (sent ? "" : f.sys.render(sent.error())));
    calls.push_back(std::move(*sent));
  }
  BOOST_TEST(f.lane()->calls_waiting() == 64u);
  for (int i = 63; i >= 0; --i) {
    BOOST_TEST(text_of(channel.await(std::move(calls[static_cast<std::size_t>(i)])), f.sys) ==
               reversed("p-" + std::to_string(i)));
  }
  // A call nobody awaits is forgotten with its handle: nothing stays behind.
  {
    auto dropped = channel.send_call(ac::payload::from_string("dropped"), deadline);
    BOOST_TEST_REQUIRE(static_cast<bool>(dropped));
    BOOST_TEST(f.lane()->calls_waiting() == 1u);
  }
  BOOST_TEST(f.lane()->calls_waiting() == 0u);
  // Its late answer goes nowhere; the next call gets its own.
  BOOST_TEST(text_of(channel.call(ac::payload::from_string("after"), deadline), f.sys) ==
             reversed("after"));
  BOOST_TEST(channel.stats().direct == 66u);
  BOOST_TEST(channel.stats().through_registry == 0u);
}

BOOST_AUTO_TEST_CASE(a_killed_life_fails_the_call_in_flight_and_the_next_reaches_the_new_life) {
  one_cell f{"killed", "idle"};
  const auto first = f.await_ready();
  auto channel = f.tree->channel("cell");
  std::optional<caf::expected<ac::payload>> in_flight;
  std::thread caller{
      [&] { in_flight = channel.call(ac::payload::from_string("never answered"), deadline); }};
  await_calls_waiting(*f.lane(), 1);
  BOOST_TEST_REQUIRE(first.pid > 0);
  BOOST_TEST_REQUIRE(::kill(first.pid, SIGKILL) == 0);
  caller.join();
  BOOST_TEST_REQUIRE(in_flight.has_value());
  BOOST_TEST(has_code(*in_flight, ac::errc::cell_died), text_of(*in_flight, f.sys));
  BOOST_TEST(!channel.direct());

  // The new life is idle too: a call reaches it through a newly resolved lane.
  const auto second = f.await_ready();
  BOOST_TEST(second.pid != first.pid);
  std::thread next{[&] { in_flight = channel.call(ac::payload::from_string("again"), deadline); }};
  const auto lane = f.lane();
  BOOST_TEST(lane->incarnation() != 0u);
  await_calls_waiting(*lane, 1);
  BOOST_TEST(channel.stats().resolves == 2u);
  BOOST_TEST_REQUIRE(::kill(second.pid, SIGKILL) == 0);
  next.join();
  BOOST_TEST(has_code(*in_flight, ac::errc::cell_died), text_of(*in_flight, f.sys));
  BOOST_TEST(channel.stats().through_registry == 0u);
}

BOOST_AUTO_TEST_CASE(an_unanswered_call_times_out_and_a_full_lane_refuses_more) {
  one_cell f{"bounds", "idle", 300ms, 1};
  f.await_ready();
  auto channel = f.tree->channel("cell");
  const auto timed_out = channel.call(ac::payload::from_string("nobody answers"), deadline);
  BOOST_TEST(has_code(timed_out, ac::errc::request_timeout), text_of(timed_out, f.sys));

  // With max_pending 1, a second call while one waits is refused at once.
  one_cell g{"overload", "idle", 60s, 1};
  g.await_ready();
  auto waiting = g.tree->channel("cell");
  std::optional<caf::expected<ac::payload>> first;
  std::thread caller{[&] { first = waiting.call(ac::payload::from_string("first"), deadline); }};
  const auto lane = g.lane();
  await_calls_waiting(*lane, 1);
  auto second = g.tree->channel("cell");
  const auto refused = second.call(ac::payload::from_string("second"), deadline);
  BOOST_TEST(has_code(refused, ac::errc::overloaded), text_of(refused, g.sys));
  // Stopping the tree fails the waiting call instead of leaving it to its timeout.
  g.tree->stop();
  caller.join();
  BOOST_TEST_REQUIRE(first.has_value());
  BOOST_TEST(!*first);
}

BOOST_AUTO_TEST_CASE(casts_through_a_channel_arrive_in_order_and_wait_for_room) {
  // The cell reads nothing until its ring of 8 is full: the ninth cast surely finds
  // it full and waits for the cell to make room, woken through the peer actor.
  cellhub::transport::hub_config small;
  small.ring_capacity = 8;
  one_cell f{"casts", "tally", 30s, 64, small};
  f.await_ready();
  auto channel = f.tree->channel("cell");
  constexpr int casts = 3000;
  for (int i = 0; i < casts; ++i) {
    const auto sent = channel.cast(ac::payload::from_string("cast-" + std::to_string(i)), deadline);
    BOOST_TEST_REQUIRE(static_cast<bool>(sent),
                       "cast " << i << ": " << (sent ? "" : f.sys.render(sent.error())));
  }
  // A call through the same channel comes after every cast.
  BOOST_TEST(text_of(channel.call(ac::payload::from_string("count"), deadline), f.sys) ==
             std::to_string(casts) + " in order");
  BOOST_TEST(channel.stats().direct == casts + 1u);
  BOOST_TEST(f.lane()->room_waits() > 0u, "no cast ever found the ring full");
  BOOST_TEST(channel.stats().through_registry == 0u);
}

BOOST_AUTO_TEST_CASE(a_name_without_a_lane_goes_through_the_registry) {
  one_cell f{"unknown", "reverse"};
  f.await_ready();
  auto channel = f.tree->channel("nobody");
  const auto answer = channel.call(ac::payload::from_string("hello"), deadline);
  BOOST_TEST(has_code(answer, ac::errc::unknown_name), text_of(answer, f.sys));
  BOOST_TEST(channel.stats().through_registry == 1u);
  BOOST_TEST(channel.stats().direct == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
