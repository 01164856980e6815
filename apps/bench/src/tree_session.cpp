#include "cellhub/bench/tree_session.hpp"

#include "cellhub/bench/bench_context.hpp"

#include "cellhub/actors/error.hpp"

#include <caf/all.hpp>

#include <deque>
#include <optional>

namespace cellhub::bench {

namespace ac = cellhub::actors;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

// Keeps `depth` requests in flight: `send` issues one and returns its response
// handle, `await` waits for a handle's answer and tells whether it counts (false: a
// refusal, sent again), throwing on a wrong one. Answers come back in the order
// the requests went out (registry, peer actor and cell each keep it), so waiting
// for the oldest never stalls behind a later one. Returns {counted, refused}.
template <class Send, class Await>
cast_tally keep_in_flight(std::size_t depth, clock_type::time_point stop, Send send, Await await) {
  std::deque<decltype(send())> in_flight;
  for (std::size_t i = 0; i < depth; ++i)
    in_flight.push_back(send());
  cast_tally tally;
  while (!in_flight.empty()) {
    auto oldest = in_flight.front();
    in_flight.pop_front();
    if (await(oldest))
      ++tally.taken;
    else
      ++tally.refused;
    if (clock_type::now() < stop)
      in_flight.push_back(send());
  }
  return tally;
}

} // namespace

tree_session::tree_session(std::string hub_path, ac::supervisor_spec root,
                           transport::hub_config hub, const std::vector<std::string>& caf_settings)
    : actor_session{caf_settings} {
  start_tree(std::move(hub_path), std::move(root), {.hub = hub}, "the tree");
  subscribe_to(caf::actor_cast<caf::actor>(tree().root()), "the tree's events");
}

void tree_session::stop() {
  stop_tree();
}

void tree_session::monitor(const caf::actor& actor) {
  self()->monitor(actor);
}

ac::registry_entry tree_session::lookup(const std::string& name) {
  std::optional<ac::registry_entry> out;
  std::string problem;
  self()
      ->request(tree().registry(), 10s, ac::lookup_atom_v, name)
      .receive([&](ac::registry_entry& entry) { out = std::move(entry); },
               [&](caf::error& err) { problem = render(err); });
  if (!out)
    throw bench_failure{"looking up " + name + ": " + problem};
  return std::move(*out);
}

std::vector<ac::child_info> tree_session::which() {
  std::optional<std::vector<ac::child_info>> out;
  std::string problem;
  self()
      ->request(tree().root(), 30s, ac::which_atom_v)
      .receive([&](std::vector<ac::child_info>& infos) { out = std::move(infos); },
               [&](caf::error& err) { problem = render(err); });
  if (!out)
    throw bench_failure{"which_children: " + problem};
  return std::move(*out);
}

void tree_session::resize(std::uint64_t replicas) {
  bool resized = false;
  std::string problem;
  self()
      ->request(tree().root(), 30s, ac::resize_atom_v, replicas)
      .receive([&](caf::ok_atom) { resized = true; },
               [&](caf::error& err) { problem = render(err); });
  if (!resized)
    throw bench_failure{"resizing the pool: " + problem};
}

std::uint64_t tree_session::pipelined_calls(const std::string& name, const ac::payload& bytes,
                                            std::size_t depth, clock_type::time_point stop,
                                            std::chrono::milliseconds timeout) {
  const auto& registry = tree().registry();
  return keep_in_flight(
             depth, stop,
             [&] { return self()->request(registry, timeout, ac::call_atom_v, name, bytes); },
             [&](auto& handle) {
               std::string problem = "no answer";
               handle.receive(
                   [&](ac::payload& reply) {
                     problem = reply.size() == bytes.size() ? "" : "an answer of another size";
                   },
                   [&](caf::error& err) { problem = render(err); });
               if (!problem.empty())
                 throw bench_failure{"a pipelined call by name to " + name + ": " + problem};
               return true;
             })
      .taken;
}

cast_tally tree_session::pipelined_casts(const std::string& name, const ac::payload& bytes,
                                         std::size_t depth, clock_type::time_point stop,
                                         std::chrono::milliseconds timeout) {
  const auto& registry = tree().registry();
  return keep_in_flight(
      depth, stop, [&] { return self()->request(registry, timeout, ac::cast_atom_v, name, bytes); },
      [&](auto& handle) {
        std::string problem = "no acknowledgement";
        bool refused = false;
        handle.receive([&] { problem.clear(); },
                       [&](caf::error& err) {
                         refused = ac::is(err, ac::errc::overloaded);
                         problem = render(err);
                       });
        if (refused)
          return false;
        if (!problem.empty())
          throw bench_failure{"a pipelined cast by name to " + name + ": " + problem};
        return true;
      });
}

} // namespace cellhub::bench
