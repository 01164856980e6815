// life_end: how a life ended, in words only at the edge, clean only for a goodbye or a
// requested stop, and the same value after a trip through CAF's binary format (the
// form it takes between hosts).
#include "cellhub/actors/lifecycle_event.hpp"
#include "cellhub/actors/messages.hpp"
#include "cellhub/actors/types.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include <boost/test/unit_test.hpp>

#include <csignal>
#include <vector>

namespace ac = cellhub::actors;
namespace tr = cellhub::transport;
using ac::ending;

namespace {

tr::exit_status signaled(int signal, bool core_dumped = false) {
  return {.signaled = true, .signal = signal, .core_dumped = core_dumped};
}

tr::exit_status exited(int code) {
  return {.code = code};
}

ac::life_end end_of(ending how, caf::optional<tr::exit_status> status = {}) {
  ac::life_end end;
  end.how = how;
  end.status = status;
  return end;
}

// Serializing an actor handle (child_info carries one) needs an actor system.
struct wire_config : caf::actor_system_config {
  wire_config() {
    add_message_types<caf::id_block::cellhub>();
    set("scheduler.max-threads", 1);
  }
};

struct wire_fixture {
  wire_config cfg;
  caf::actor_system sys{cfg};

  // Writes `value` with CAF's binary serializer and reads it back into a fresh value.
  template <class T>
  T round_trip(T value) {
    std::vector<char> bytes;
    caf::binary_serializer sink{sys, bytes};
    const auto written = sink(value);
    BOOST_TEST_REQUIRE(!written, "serializing failed: " << caf::to_string(written));
    BOOST_TEST_REQUIRE(!bytes.empty());
    T copy;
    caf::binary_deserializer source{sys, bytes};
    const auto read = source(copy);
    BOOST_TEST_REQUIRE(!read, "deserializing failed: " << caf::to_string(read));
    BOOST_TEST(source.remaining() == 0u);
    return copy;
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(life_end_words)

BOOST_AUTO_TEST_CASE(describe_starts_with_the_ending_word_and_adds_what_is_known) {
  BOOST_TEST(ac::describe(end_of(ending::goodbye, exited(0))) == "goodbye");
  BOOST_TEST(ac::describe(end_of(ending::killed, signaled(SIGKILL))) ==
             "killed: signal 9 (SIGKILL)");
  BOOST_TEST(ac::describe(end_of(ending::killed, signaled(SIGSEGV, true))) ==
             "killed: signal 11 (SIGSEGV, core dumped)");
  BOOST_TEST(ac::describe(end_of(ending::exited, exited(3))) == "exited: exit code 3");
  BOOST_TEST(ac::describe(end_of(ending::gave_up)) == "gave_up");

  auto no_ready = end_of(ending::no_ready, signaled(SIGKILL));
  no_ready.timeout_ms = 2000;
  BOOST_TEST(ac::describe(no_ready) == "no_ready: no READY within 2000 ms");
  BOOST_TEST(ac::describe(end_of(ending::no_ready, exited(3))) ==
             "no_ready: ended before READY; exit code 3");

  auto hung = end_of(ending::hung, signaled(SIGKILL));
  hung.timeout_ms = 1000;
  BOOST_TEST(ac::describe(hung) == "hung: no progress for 1000 ms with work waiting");

  auto lingered = end_of(ending::lingered, signaled(SIGTERM));
  lingered.timeout_ms = 500;
  lingered.last_step = tr::stop_step::sigterm;
  BOOST_TEST(ac::describe(lingered) ==
             "lingered: said goodbye but was still running 500 ms later; signal 15 (SIGTERM)");

  auto broken = end_of(ending::killed, signaled(SIGKILL));
  broken.last_step = tr::stop_step::sigkill;
  BOOST_TEST(ac::describe(broken) == "killed: signal 9 (SIGKILL), sent by the host after the "
                                     "cell's doorbell hung up while it ran on");
  auto raced = end_of(ending::exited, exited(0));
  raced.last_step = tr::stop_step::sigkill; // it exited before the kill landed
  BOOST_TEST(ac::describe(raced) == "exited: exit code 0");

  auto failed = end_of(ending::exec_failed);
  failed.spawn_error = "exec /nope: No such file or directory";
  BOOST_TEST(ac::describe(failed) == "exec_failed: exec /nope: No such file or directory");
}

BOOST_AUTO_TEST_CASE(a_stop_tells_how_far_the_escalation_went) {
  auto polite = end_of(ending::stopped, exited(0));
  polite.last_step = tr::stop_step::goodbye;
  BOOST_TEST(ac::describe(polite) == "stopped");
  auto termed = end_of(ending::stopped, signaled(SIGTERM));
  termed.last_step = tr::stop_step::sigterm;
  BOOST_TEST(ac::describe(termed) ==
             "stopped: ended by SIGTERM (signal 15) after ignoring goodbye");
  auto killed = end_of(ending::stopped, signaled(SIGKILL));
  killed.last_step = tr::stop_step::sigkill;
  BOOST_TEST(ac::describe(killed) ==
             "stopped: killed (signal 9) after ignoring goodbye and SIGTERM");
  // A SIGKILL the escalation did not send is told as what it is.
  auto outside = end_of(ending::stopped, signaled(SIGKILL));
  outside.last_step = tr::stop_step::goodbye;
  BOOST_TEST(ac::describe(outside) == "stopped: signal 9 (SIGKILL)");
  BOOST_TEST(ac::describe(end_of(ending::stopped, exited(3))) == "stopped: exit code 3");
}

BOOST_AUTO_TEST_CASE(only_a_goodbye_and_a_requested_stop_are_clean) {
  for (auto how : {ending::goodbye, ending::stopped})
    BOOST_TEST(ac::is_clean(how), ac::to_string(how));
  for (auto how : {ending::exited, ending::killed, ending::exec_failed, ending::no_ready,
                   ending::hung, ending::protocol_violation, ending::lingered, ending::gave_up})
    BOOST_TEST(!ac::is_clean(how), ac::to_string(how));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(life_end_wire, wire_fixture)

BOOST_AUTO_TEST_CASE(an_end_comes_back_equal_after_the_binary_format) {
  auto end = end_of(ending::lingered, signaled(SIGSEGV, true));
  end.pid = 4242;
  end.uptime_ms = 51234;
  end.timeout_ms = 2000;
  end.last_step = tr::stop_step::sigterm;
  end.spawn_error = "not used here, but carried";
  BOOST_TEST((round_trip(end) == end));
  BOOST_TEST((round_trip(end_of(ending::gave_up)) == end_of(ending::gave_up)));
}

BOOST_AUTO_TEST_CASE(events_and_child_infos_carry_the_end_unchanged) {
  ac::lifecycle_event event;
  event.kind = ac::event_kind::died;
  event.name = "worker";
  event.end = end_of(ending::killed, signaled(SIGKILL));
  const auto event_copy = round_trip(event);
  BOOST_TEST_REQUIRE(static_cast<bool>(event_copy.end));
  BOOST_TEST((*event_copy.end == *event.end));
  BOOST_TEST(event_copy.name == "worker");

  ac::child_info info;
  info.name = "worker";
  info.state = ac::child_state::quarantined;
  info.last_end = end_of(ending::no_ready, exited(3));
  const auto info_copy = round_trip(info);
  BOOST_TEST((info_copy.state == ac::child_state::quarantined));
  BOOST_TEST_REQUIRE(static_cast<bool>(info_copy.last_end));
  BOOST_TEST((*info_copy.last_end == *info.last_end));
}

BOOST_AUTO_TEST_SUITE_END()
