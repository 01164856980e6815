#include "cellhub/bench/tree_session.hpp"

#include "cellhub/bench/bench_context.hpp"

#include "cellhub/actors/error.hpp"

#include <cellhub/apps/duration.hpp>

#include <caf/all.hpp>

#include <deque>

namespace cellhub::bench {

namespace ac = cellhub::actors;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

// Applies one `key=value`: a whole number, a duration ("50us"), a boolean, or else
// an atom (a scheduler policy such as `sharing`).
void apply_setting(caf::actor_system_config& cfg, const std::string& setting) {
  const auto equals = setting.find('=');
  if (equals == std::string::npos || equals == 0)
    throw bench_failure{"--caf " + setting + ": expected KEY=VALUE"};
  const auto key = setting.substr(0, equals);
  const auto value = setting.substr(equals + 1);
  if (!value.empty() && value.find_first_not_of("0123456789") == std::string::npos)
    cfg.set(key, static_cast<std::size_t>(std::stoull(value)));
  else if (auto span = apps::parse_duration(value))
    cfg.set(key, caf::timespan{*span});
  else if (value == "true" || value == "false")
    cfg.set(key, value == "true");
  else if (!value.empty() && value.size() <= 10)
    cfg.set(key, caf::atom_from_string(value));
  else
    throw bench_failure{"--caf " + setting + ": cannot read the value"};
}

caf::actor_system_config& prepared(caf::actor_system_config& cfg,
                                   const std::vector<std::string>& settings) {
  ac::prepare_config(cfg);
  for (const auto& setting : settings)
    apply_setting(cfg, setting);
  return cfg;
}

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

struct tree_session::parts {
  explicit parts(const std::vector<std::string>& settings)
      : sys{prepared(cfg, settings)} {}

  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scoped_actor self{sys};
  std::optional<ac::supervision_tree> tree;
};

tree_session::tree_session(std::string hub_path, ac::supervisor_spec root,
                           transport::hub_config hub, const std::vector<std::string>& caf_settings)
    : parts_{std::make_unique<parts>(caf_settings)} {
  auto& p = *parts_;
  auto started =
      ac::supervision_tree::start(p.sys, std::move(hub_path), std::move(root), {.hub = hub});
  if (!started)
    throw bench_failure{"starting the tree: " + p.sys.render(started.error())};
  p.tree.emplace(std::move(*started));
  bool subscribed = false;
  std::string problem;
  p.self->request(p.tree->root(), 10s, caf::subscribe_atom_v, caf::actor{p.self})
      .receive([&](caf::ok_atom) { subscribed = true; },
               [&](caf::error& err) { problem = p.sys.render(err); });
  if (!subscribed)
    throw bench_failure{"subscribing to the tree's events: " + problem};
}

tree_session::~tree_session() {
  stop();
}

void tree_session::stop() {
  if (parts_ && parts_->tree) {
    parts_->tree->stop(60s);
    parts_->tree.reset();
  }
}

const ac::supervision_tree& tree_session::tree() const {
  return *parts_->tree;
}

caf::scoped_actor& tree_session::self() {
  return parts_->self;
}

bool tree_session::watch(clock_type::time_point deadline,
                         const std::function<bool(const sighting&)>& done) {
  auto& self = parts_->self;
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock_type::now());
    if (left.count() <= 0)
      return false;
    bool finished = false;
    self->receive(
        [&](ac::lifecycle_event& event) {
          sighting seen{clock_type::now(), std::move(event), false, {}};
          finished = done(seen);
        },
        [&](caf::down_msg& msg) {
          sighting seen{clock_type::now(), std::nullopt, true, msg.source};
          finished = done(seen);
        },
        // Anything else (a late reply) would otherwise stay queued and be matched forever.
        caf::others >>
            [](caf::message_view&) -> caf::result<caf::message> { return caf::message{}; },
        caf::after(left) >> [] {});
    if (finished)
      return true;
  }
}

void tree_session::monitor(const caf::actor& actor) {
  parts_->self->monitor(actor);
}

ac::registry_entry tree_session::lookup(const std::string& name) {
  auto& p = *parts_;
  std::optional<ac::registry_entry> out;
  std::string problem;
  p.self->request(p.tree->registry(), 10s, ac::lookup_atom_v, name)
      .receive([&](ac::registry_entry& entry) { out = std::move(entry); },
               [&](caf::error& err) { problem = p.sys.render(err); });
  if (!out)
    throw bench_failure{"looking up " + name + ": " + problem};
  return std::move(*out);
}

std::vector<ac::child_info> tree_session::which() {
  auto& p = *parts_;
  std::optional<std::vector<ac::child_info>> out;
  std::string problem;
  p.self->request(p.tree->root(), 30s, ac::which_atom_v)
      .receive([&](std::vector<ac::child_info>& infos) { out = std::move(infos); },
               [&](caf::error& err) { problem = p.sys.render(err); });
  if (!out)
    throw bench_failure{"which_children: " + problem};
  return std::move(*out);
}

void tree_session::resize(std::uint64_t replicas) {
  auto& p = *parts_;
  bool resized = false;
  std::string problem;
  p.self->request(p.tree->root(), 30s, ac::resize_atom_v, replicas)
      .receive([&](caf::ok_atom) { resized = true; },
               [&](caf::error& err) { problem = p.sys.render(err); });
  if (!resized)
    throw bench_failure{"resizing the pool: " + problem};
}

std::string tree_session::render(const caf::error& err) const {
  return parts_->sys.render(err);
}

caf::expected<ac::payload> tree_session::call(const std::string& name, const ac::payload& bytes,
                                              std::chrono::milliseconds timeout) {
  auto& p = *parts_;
  caf::expected<ac::payload> out{caf::make_error(caf::sec::request_timeout)};
  p.self->request(p.tree->registry(), timeout, ac::call_atom_v, name, bytes)
      .receive([&](ac::payload& reply) { out = std::move(reply); },
               [&](caf::error& err) { out = std::move(err); });
  return out;
}

std::uint64_t tree_session::pipelined_calls(const std::string& name, const ac::payload& bytes,
                                            std::size_t depth, clock_type::time_point stop,
                                            std::chrono::milliseconds timeout) {
  auto& p = *parts_;
  const auto& registry = p.tree->registry();
  return keep_in_flight(
             depth, stop,
             [&] { return p.self->request(registry, timeout, ac::call_atom_v, name, bytes); },
             [&](auto& handle) {
               std::string problem = "no answer";
               handle.receive(
                   [&](ac::payload& reply) {
                     problem = reply.size() == bytes.size() ? "" : "an answer of another size";
                   },
                   [&](caf::error& err) { problem = p.sys.render(err); });
               if (!problem.empty())
                 throw bench_failure{"a pipelined call by name to " + name + ": " + problem};
               return true;
             })
      .taken;
}

cast_tally tree_session::pipelined_casts(const std::string& name, const ac::payload& bytes,
                                         std::size_t depth, clock_type::time_point stop,
                                         std::chrono::milliseconds timeout) {
  auto& p = *parts_;
  const auto& registry = p.tree->registry();
  return keep_in_flight(
      depth, stop, [&] { return p.self->request(registry, timeout, ac::cast_atom_v, name, bytes); },
      [&](auto& handle) {
        std::string problem = "no acknowledgement";
        bool refused = false;
        handle.receive([&] { problem.clear(); },
                       [&](caf::error& err) {
                         refused = ac::is(err, ac::errc::overloaded);
                         problem = p.sys.render(err);
                       });
        if (refused)
          return false;
        if (!problem.empty())
          throw bench_failure{"a pipelined cast by name to " + name + ": " + problem};
        return true;
      });
}

} // namespace cellhub::bench
