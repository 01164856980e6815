#include "cellhub/actors/registry.hpp"

#include "cellhub/actors/error.hpp"
#include "cellhub/actors/types.hpp"

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace ac = cellhub::actors;
using namespace std::chrono_literals;

namespace {

// Every receive waits at most this long: a broken registry fails a test, never hangs it.
constexpr auto deadline = 5s;

struct test_config : caf::actor_system_config {
  test_config() {
    add_message_types<caf::id_block::cellhub>();
    ac::add_error_category(*this);
    set("scheduler.max-threads", 2);
  }
};

struct stand_in_state {
  int calls = 0;
  static inline const char* name = "stand_in";
};

// Stands in for a peer actor: answers a call with "<name>#<n>:<text>", where n counts
// its calls, and reports each cast to `reporter` as (cast_atom, name, text).
caf::behavior stand_in(caf::stateful_actor<stand_in_state>* self, std::string name,
                       caf::actor reporter) {
  return {
      [self, name](ac::call_atom, const ac::payload& data) {
        const auto n = ++self->state.calls;
        return ac::payload::from_string(name + "#" + std::to_string(n) + ":" +
                                        std::string{data.as_string()});
      },
      [self, name, reporter](ac::cast_atom, const ac::payload& data) {
        self->send(reporter, ac::cast_atom_v, name, std::string{data.as_string()});
      },
  };
}

// Subscribes on behalf of nobody in particular: it only has to be alive, then die.
caf::behavior idle_subscriber(caf::event_based_actor*, std::string) {
  return {[](const ac::remapped&) {}};
}

// Holds the outcome of one request: the reply text, or the error.
struct outcome {
  std::string text;
  caf::error err;
};

struct fixture {
  test_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  ac::registry_actor reg = ac::spawn_registry(sys);

  ~fixture() { self->send_exit(reg, caf::exit_reason::user_shutdown); }

  caf::actor spawn_stand_in(const std::string& name) {
    return sys.spawn(stand_in, name, caf::actor{self});
  }

  static ac::registry_entry entry(const std::string& name, std::int32_t peer_id,
                                  std::uint32_t incarnation, caf::actor actor) {
    // A stand-in answers the calls and casts of a peer actor, which is all the registry sends.
    return ac::registry_entry{name, peer_id, incarnation, 1000 + peer_id,
                              caf::actor_cast<ac::peer_actor>(std::move(actor))};
  }

  void bind(ac::registry_entry e, ac::restart_delivery delivery = ac::restart_delivery::hold,
            std::uint64_t capacity = 8) {
    self->request(reg, deadline, ac::bind_request{std::move(e), delivery, capacity})
        .receive([](caf::ok_atom) {},
                 [this](caf::error& err) { BOOST_FAIL("bind failed: " << sys.render(err)); });
  }

  void unbind(const std::string& name, ac::errc reason) {
    self->request(reg, deadline, ac::unbind_request{name, reason})
        .receive([](caf::ok_atom) {},
                 [this](caf::error& err) { BOOST_FAIL("unbind failed: " << sys.render(err)); });
  }

  void subscribe(caf::actor subscriber) {
    self->request(reg, deadline, caf::subscribe_atom_v, std::move(subscriber))
        .receive([](caf::ok_atom) {},
                 [this](caf::error& err) { BOOST_FAIL("subscribe failed: " << sys.render(err)); });
  }

  // Sends a call by name without waiting for its answer.
  auto call_async(const std::string& name, const std::string& text) {
    return self->request(reg, deadline, ac::call_atom_v, name, ac::payload::from_string(text));
  }

  template <class Handle>
  outcome await(Handle&& handle) {
    outcome out;
    std::forward<Handle>(handle).receive(
        [&](ac::payload& reply) { out.text = std::string{reply.as_string()}; },
        [&](caf::error& err) { out.err = std::move(err); });
    return out;
  }

  outcome call(const std::string& name, const std::string& text) {
    return await(call_async(name, text));
  }

  outcome cast(const std::string& name, const std::string& text) {
    outcome out;
    self->request(reg, deadline, ac::cast_atom_v, name, ac::payload::from_string(text))
        .receive([] {}, [&](caf::error& err) { out.err = std::move(err); });
    return out;
  }

  caf::expected<ac::registry_entry> lookup(const std::string& name) {
    caf::expected<ac::registry_entry> out{caf::error{}};
    self->request(reg, deadline, ac::lookup_atom_v, name)
        .receive([&](ac::registry_entry& e) { out = std::move(e); },
                 [&](caf::error& err) { out = std::move(err); });
    return out;
  }

  std::vector<ac::registry_entry> names() {
    std::vector<ac::registry_entry> out;
    self->request(reg, deadline, ac::names_atom_v)
        .receive([&](std::vector<ac::registry_entry>& xs) { out = std::move(xs); },
                 [this](caf::error& err) { BOOST_FAIL("names failed: " << sys.render(err)); });
    return out;
  }

  // Waits for the next cast a stand-in reports, as "<name>:<text>".
  std::string next_cast() {
    std::string out;
    self->receive([&](ac::cast_atom, const std::string& name,
                      const std::string& text) { out = name + ":" + text; },
                  caf::after(deadline) >> [] { BOOST_FAIL("no cast reported"); });
    return out;
  }

  // Takes every remap notice already in the mailbox, without waiting. The registry
  // publishes before it answers the bind, so notices precede the bind's reply.
  std::vector<ac::remapped> take_remaps() {
    std::vector<ac::remapped> out;
    for (bool more = true; more;)
      self->receive([&](ac::remapped& note) { out.push_back(std::move(note)); },
                    caf::after(0ms) >> [&] { more = false; });
    return out;
  }
};

bool failed_with(const outcome& out, ac::errc code) {
  return ac::is(out.err, code);
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(registry, fixture)

BOOST_AUTO_TEST_CASE(call_by_name_reaches_the_bound_life) {
  bind(entry("worker-1", 3, 1, spawn_stand_in("w1a")));
  auto out = call("worker-1", "ping");
  BOOST_TEST(!out.err);
  BOOST_TEST(out.text == "w1a#1:ping");
}

// The supervisor unbinds a life only after its actor is gone; a call arriving in
// between must read as the death it is, not as CAF's `request_receiver_down`.
BOOST_AUTO_TEST_CASE(call_to_a_life_that_ended_before_its_unbind_fails_with_cell_died) {
  auto life = spawn_stand_in("w1a");
  bind(entry("worker-1", 3, 1, life));
  self->monitor(life);
  self->send_exit(life, caf::exit_reason::kill);
  self->receive([&](const caf::down_msg& msg) { BOOST_TEST((msg.source == life.address())); },
                caf::after(deadline) >> [] { BOOST_FAIL("the life did not go down"); });
  life = nullptr;
  const auto out = call("worker-1", "ping");
  BOOST_TEST(failed_with(out, ac::errc::cell_died), sys.render(out.err));
}

BOOST_AUTO_TEST_CASE(several_calls_in_flight_each_get_their_own_reply) {
  bind(entry("worker-1", 3, 1, spawn_stand_in("w1a")));
  auto first = call_async("worker-1", "a");
  auto second = call_async("worker-1", "b");
  BOOST_TEST(await(std::move(first)).text == "w1a#1:a");
  BOOST_TEST(await(std::move(second)).text == "w1a#2:b");
}

BOOST_AUTO_TEST_CASE(call_to_unknown_name_fails_with_unknown_name) {
  bind(entry("worker-1", 3, 1, spawn_stand_in("w1a")));
  BOOST_TEST(failed_with(call("worker-2", "ping"), ac::errc::unknown_name));
  BOOST_TEST(failed_with(cast("worker-2", "ping"), ac::errc::unknown_name));
}

BOOST_AUTO_TEST_CASE(cast_by_name_reaches_the_bound_life) {
  bind(entry("worker-1", 3, 1, spawn_stand_in("w1a")));
  BOOST_TEST(!cast("worker-1", "hello").err);
  BOOST_TEST(next_cast() == "w1a:hello");
}

BOOST_AUTO_TEST_CASE(restart_publishes_exactly_one_remap_and_calls_reach_the_new_life) {
  subscribe(caf::actor{self});
  bind(entry("worker-1", 3, 1, spawn_stand_in("old")));
  BOOST_TEST(take_remaps().empty(), "the first bind of a name is no remap");

  unbind("worker-1", ac::errc::restarting);
  bind(entry("worker-1", 7, 2, spawn_stand_in("new")));
  const auto remaps = take_remaps();
  BOOST_REQUIRE_EQUAL(remaps.size(), 1u);
  BOOST_TEST(remaps[0].name == "worker-1");
  BOOST_TEST(remaps[0].old_peer_id == 3);
  BOOST_TEST(remaps[0].new_peer_id == 7);
  BOOST_TEST(remaps[0].incarnation == 2u);
  BOOST_TEST(call("worker-1", "ping").text == "new#1:ping");
}

BOOST_AUTO_TEST_CASE(rebind_without_unbind_publishes_a_remap_from_the_bound_life) {
  subscribe(caf::actor{self});
  bind(entry("worker-1", 3, 1, spawn_stand_in("old")));
  bind(entry("worker-1", 4, 5, spawn_stand_in("new")));
  const auto remaps = take_remaps();
  BOOST_REQUIRE_EQUAL(remaps.size(), 1u);
  BOOST_TEST(remaps[0].old_peer_id == 3);
  BOOST_TEST(remaps[0].new_peer_id == 4);
  BOOST_TEST(remaps[0].incarnation == 5u);
}

BOOST_AUTO_TEST_CASE(messages_held_during_restart_reach_the_new_life_in_arrival_order) {
  bind(entry("worker-1", 3, 1, spawn_stand_in("old")), ac::restart_delivery::hold, 8);
  unbind("worker-1", ac::errc::restarting);
  auto first = call_async("worker-1", "a");
  auto second = call_async("worker-1", "b");
  auto cast_handle = self->request(reg, deadline, ac::cast_atom_v, std::string{"worker-1"},
                                   ac::payload::from_string("c"));
  auto third = call_async("worker-1", "d");

  bind(entry("worker-1", 7, 2, spawn_stand_in("new")));
  BOOST_TEST(await(std::move(first)).text == "new#1:a");
  BOOST_TEST(await(std::move(second)).text == "new#2:b");
  bool cast_done = false;
  std::move(cast_handle)
      .receive([&] { cast_done = true; },
               [this](caf::error& err) { BOOST_FAIL("held cast failed: " << sys.render(err)); });
  BOOST_TEST(cast_done);
  BOOST_TEST(await(std::move(third)).text == "new#3:d");
  BOOST_TEST(next_cast() == "new:c");
}

BOOST_AUTO_TEST_CASE(messages_during_restart_with_fail_delivery_fail_at_once_with_restarting) {
  bind(entry("worker-1", 3, 1, spawn_stand_in("old")), ac::restart_delivery::fail, 8);
  unbind("worker-1", ac::errc::restarting);
  BOOST_TEST(failed_with(call("worker-1", "a"), ac::errc::restarting));
  BOOST_TEST(failed_with(cast("worker-1", "b"), ac::errc::restarting));
}

BOOST_AUTO_TEST_CASE(hold_over_capacity_fails_only_the_overflow_with_hold_buffer_full) {
  bind(entry("worker-1", 3, 1, spawn_stand_in("old")), ac::restart_delivery::hold, 2);
  unbind("worker-1", ac::errc::restarting);
  auto first = call_async("worker-1", "a");
  auto second = call_async("worker-1", "b");
  BOOST_TEST(failed_with(call("worker-1", "c"), ac::errc::hold_buffer_full));

  bind(entry("worker-1", 7, 2, spawn_stand_in("new")));
  BOOST_TEST(await(std::move(first)).text == "new#1:a");
  BOOST_TEST(await(std::move(second)).text == "new#2:b");
}

BOOST_AUTO_TEST_CASE(unbind_quarantined_fails_held_and_later_messages_with_quarantined) {
  bind(entry("worker-1", 3, 1, spawn_stand_in("old")), ac::restart_delivery::hold, 8);
  unbind("worker-1", ac::errc::restarting);
  auto first = call_async("worker-1", "a");
  auto second = call_async("worker-1", "b");
  unbind("worker-1", ac::errc::quarantined);
  BOOST_TEST(failed_with(await(std::move(first)), ac::errc::quarantined));
  BOOST_TEST(failed_with(await(std::move(second)), ac::errc::quarantined));
  BOOST_TEST(failed_with(call("worker-1", "c"), ac::errc::quarantined));
  BOOST_TEST(failed_with(cast("worker-1", "d"), ac::errc::quarantined));
  BOOST_TEST(ac::is(lookup("worker-1").error(), ac::errc::quarantined));
}

BOOST_AUTO_TEST_CASE(released_quarantined_name_remaps_from_its_last_life) {
  subscribe(caf::actor{self});
  bind(entry("worker-1", 3, 1, spawn_stand_in("old")));
  unbind("worker-1", ac::errc::quarantined);
  bind(entry("worker-1", 9, 4, spawn_stand_in("new")));
  const auto remaps = take_remaps();
  BOOST_REQUIRE_EQUAL(remaps.size(), 1u);
  BOOST_TEST(remaps[0].old_peer_id == 3);
  BOOST_TEST(remaps[0].new_peer_id == 9);
  BOOST_TEST(call("worker-1", "ping").text == "new#1:ping");
}

BOOST_AUTO_TEST_CASE(deleted_name_fails_held_with_unknown_child_and_later_with_unknown_name) {
  bind(entry("worker-1", 3, 1, spawn_stand_in("old")), ac::restart_delivery::hold, 8);
  unbind("worker-1", ac::errc::restarting);
  auto held = call_async("worker-1", "a");
  unbind("worker-1", ac::errc::unknown_child);
  BOOST_TEST(failed_with(await(std::move(held)), ac::errc::unknown_child));
  BOOST_TEST(failed_with(call("worker-1", "b"), ac::errc::unknown_name));
  BOOST_TEST(ac::is(lookup("worker-1").error(), ac::errc::unknown_name));
}

BOOST_AUTO_TEST_CASE(lookup_and_names_reflect_current_lives) {
  auto b = spawn_stand_in("b");
  bind(entry("worker-b", 2, 1, b));
  bind(entry("worker-a", 1, 1, spawn_stand_in("a")));
  bind(entry("worker-c", 5, 3, spawn_stand_in("c")));

  auto found = lookup("worker-b");
  BOOST_REQUIRE(found);
  BOOST_TEST(found->peer_id == 2);
  BOOST_TEST(found->incarnation == 1u);
  BOOST_TEST(found->pid == 1002);
  BOOST_TEST((found->actor == b));
  BOOST_TEST(ac::is(lookup("worker-z").error(), ac::errc::unknown_name));

  unbind("worker-a", ac::errc::restarting);
  unbind("worker-c", ac::errc::quarantined);
  auto all = names();
  BOOST_REQUIRE_EQUAL(all.size(), 2u);
  BOOST_TEST(all[0].name == "worker-a");
  BOOST_TEST(all[0].peer_id == -1, "a restarting name has no peer");
  BOOST_TEST(!all[0].actor);
  BOOST_TEST(all[1].name == "worker-b");
  BOOST_TEST(all[1].peer_id == 2);

  bind(entry("worker-a", 6, 2, spawn_stand_in("a2")));
  found = lookup("worker-a");
  BOOST_REQUIRE(found);
  BOOST_TEST(found->peer_id == 6);
  BOOST_TEST(found->incarnation == 2u);
}

BOOST_AUTO_TEST_CASE(subscriber_that_exits_is_dropped_and_others_still_get_remaps) {
  auto gone = sys.spawn(idle_subscriber, std::string{"gone"});
  subscribe(gone);
  subscribe(caf::actor{self});
  self->monitor(gone);
  self->send_exit(gone, caf::exit_reason::kill);
  self->receive([&](const caf::down_msg& msg) { BOOST_TEST((msg.source == gone.address())); },
                caf::after(deadline) >> [] { BOOST_FAIL("subscriber did not go down"); });
  gone = nullptr;

  bind(entry("worker-1", 3, 1, spawn_stand_in("old")));
  unbind("worker-1", ac::errc::restarting);
  bind(entry("worker-1", 4, 2, spawn_stand_in("new")));
  BOOST_TEST(take_remaps().size() == 1u);
  BOOST_TEST(call("worker-1", "ping").text == "new#1:ping");
}

BOOST_AUTO_TEST_CASE(bind_without_an_actor_fails_with_invalid_spec) {
  bool failed = false;
  self->request(reg, deadline,
                ac::bind_request{entry("worker-1", 3, 1, caf::actor{}), ac::restart_delivery::hold,
                                 std::uint64_t{8}})
      .receive([](caf::ok_atom) {},
               [&](caf::error& err) { failed = ac::is(err, ac::errc::invalid_spec); });
  BOOST_TEST(failed);
  BOOST_TEST(ac::is(lookup("worker-1").error(), ac::errc::unknown_name));
}

BOOST_AUTO_TEST_CASE(stopping_registry_fails_held_calls_instead_of_leaving_them_waiting) {
  bind(entry("worker-1", 3, 1, spawn_stand_in("old")));
  unbind("worker-1", ac::errc::restarting);
  auto held = call_async("worker-1", "a");
  // A synchronous lookup proves the call above is held before the registry stops.
  BOOST_TEST(lookup("worker-1")->peer_id == -1);
  self->send_exit(reg, caf::exit_reason::user_shutdown);
  const auto out = await(std::move(held));
  BOOST_TEST((out.err == caf::sec::request_receiver_down), sys.render(out.err));
}

BOOST_AUTO_TEST_SUITE_END()

// The registry's routing under CAF's deterministic test coordinator: every actor runs
// only when the test says `run()`, one message at a time, so the order of what is
// held, failed and delivered is exact and no test waits on a clock.
namespace {

struct deterministic_config : caf::actor_system_config {
  deterministic_config() {
    add_message_types<caf::id_block::cellhub>();
    ac::add_error_category(*this);
    set("scheduler.policy", caf::atom("testing"));
  }
};

using call_log = std::shared_ptr<std::vector<std::string>>;

// Calls a name for whoever sends it (call_atom, name, text) and logs the answer: the
// reply text, or "error:<errc>".
caf::behavior caller(caf::event_based_actor* self, ac::registry_actor reg, call_log log) {
  return {
      [=](ac::call_atom, const std::string& name, const std::string& text) {
        self->request(reg, caf::infinite, ac::call_atom_v, name, ac::payload::from_string(text))
            .then([=](const ac::payload& reply) { log->emplace_back(reply.as_string()); },
                  [=](const caf::error& err) {
                    log->push_back("error:" + std::string{err.category() == ac::error_category()
                                                              ? ac::to_string(static_cast<ac::errc>(
                                                                    err.code()))
                                                              : "other"});
                  });
      },
  };
}

struct deterministic_fixture {
  deterministic_config cfg;
  caf::actor_system sys{cfg};
  caf::scheduler::test_coordinator& sched =
      dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
  ac::registry_actor reg = ac::spawn_registry(sys);
  call_log log = std::make_shared<std::vector<std::string>>();
  caf::actor client = sys.spawn(caller, reg, log);

  ~deterministic_fixture() {
    caf::anon_send_exit(client, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(reg, caf::exit_reason::user_shutdown);
    sched.run();
  }

  caf::actor stand_in_named(const std::string& name) {
    return sys.spawn(stand_in, name, caf::actor{});
  }

  void bind(const std::string& name, std::int32_t peer_id, caf::actor life,
            ac::restart_delivery delivery = ac::restart_delivery::hold,
            std::uint64_t capacity = 8) {
    caf::anon_send(
        reg, ac::bind_request{ac::registry_entry{name, peer_id, 1, 1000 + peer_id,
                                                 caf::actor_cast<ac::peer_actor>(std::move(life))},
                              delivery, capacity});
    sched.run();
  }

  void unbind(const std::string& name, ac::errc reason) {
    caf::anon_send(reg, ac::unbind_request{name, reason});
    sched.run();
  }

  // Sends the calls, then runs every actor until nothing is left to do.
  void call(const std::string& name, std::initializer_list<std::string> texts) {
    for (const auto& text : texts)
      caf::anon_send(client, ac::call_atom_v, name, text);
    sched.run();
  }

  std::vector<std::string> answers() const { return *log; }
};

using texts = std::vector<std::string>;

} // namespace

BOOST_FIXTURE_TEST_SUITE(registry_deterministic, deterministic_fixture)

BOOST_AUTO_TEST_CASE(held_calls_reach_the_next_life_in_arrival_order_once_it_binds) {
  bind("w", 1, stand_in_named("old"));
  call("w", {"a", "b"});
  BOOST_TEST(answers() == (texts{"old#1:a", "old#2:b"}), boost::test_tools::per_element());

  unbind("w", ac::errc::restarting);
  call("w", {"c", "d", "e"});
  // Held: nothing answers them while the name has no life.
  BOOST_TEST(answers().size() == 2u);

  bind("w", 2, stand_in_named("new"));
  BOOST_TEST(answers() == (texts{"old#1:a", "old#2:b", "new#1:c", "new#2:d", "new#3:e"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_full_hold_buffer_fails_the_overflow_at_once_and_keeps_the_rest) {
  bind("w", 1, stand_in_named("old"), ac::restart_delivery::hold, 2);
  unbind("w", ac::errc::restarting);
  call("w", {"a", "b", "c"});
  BOOST_TEST(answers() == (texts{"error:hold_buffer_full"}), boost::test_tools::per_element());
  bind("w", 2, stand_in_named("new"));
  BOOST_TEST(answers() == (texts{"error:hold_buffer_full", "new#1:a", "new#2:b"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(fail_delivery_answers_restarting_and_a_quarantine_fails_until_rebound) {
  bind("w", 1, stand_in_named("old"), ac::restart_delivery::fail);
  unbind("w", ac::errc::restarting);
  call("w", {"a"});
  BOOST_TEST(answers() == (texts{"error:restarting"}), boost::test_tools::per_element());

  unbind("w", ac::errc::quarantined);
  call("w", {"b"});
  bind("w", 3, stand_in_named("back"));
  call("w", {"c"});
  BOOST_TEST(answers() == (texts{"error:restarting", "error:quarantined", "back#1:c"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_deleted_name_fails_its_held_calls_and_is_forgotten) {
  bind("w", 1, stand_in_named("old"));
  unbind("w", ac::errc::restarting);
  call("w", {"a"});
  unbind("w", ac::errc::unknown_child);
  call("w", {"b"});
  BOOST_TEST(answers() == (texts{"error:unknown_child", "error:unknown_name"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
