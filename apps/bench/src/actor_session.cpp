#include "cellhub/bench/actor_session.hpp"

#include "cellhub/bench/bench_context.hpp"
#include "cellhub/bench/caf_settings.hpp"

#include "cellhub/actors/messages.hpp"

#include <caf/all.hpp>

#include <optional>

namespace cellhub::bench {

namespace ac = cellhub::actors;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

caf::actor_system_config&
prepared(caf::actor_system_config& cfg, const std::vector<std::string>& settings,
         const std::function<void(caf::actor_system_config&)>& configure) {
  ac::prepare_config(cfg);
  if (configure)
    configure(cfg);
  apply_caf_settings(cfg, settings);
  return cfg;
}

// Calls `name` through `target` (typed or not) from `self`.
template <class Target>
caf::expected<ac::payload> call_from(caf::scoped_actor& self, const Target& target,
                                     const std::string& name, const ac::payload& bytes,
                                     std::chrono::milliseconds timeout) {
  caf::expected<ac::payload> out{caf::make_error(caf::sec::request_timeout)};
  self->request(target, timeout, ac::call_atom_v, name, bytes)
      .receive([&](ac::payload& reply) { out = std::move(reply); },
               [&](caf::error& err) { out = std::move(err); });
  return out;
}

} // namespace

struct actor_session::parts {
  parts(const std::vector<std::string>& settings,
        const std::function<void(caf::actor_system_config&)>& configure)
      : sys{prepared(cfg, settings, configure)} {}

  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scoped_actor self{sys};
  std::optional<ac::supervision_tree> tree;
};

actor_session::actor_session(const std::vector<std::string>& caf_settings,
                             const std::function<void(caf::actor_system_config&)>& configure)
    : parts_{std::make_unique<parts>(caf_settings, configure)} {}

actor_session::~actor_session() {
  stop_tree();
}

void actor_session::start_tree(std::string hub_path, ac::supervisor_spec root,
                               ac::tree_options options, const std::string& what) {
  auto& p = *parts_;
  auto started =
      ac::supervision_tree::start(p.sys, std::move(hub_path), std::move(root), std::move(options));
  if (!started)
    throw bench_failure{"starting " + what + ": " + p.sys.render(started.error())};
  p.tree.emplace(std::move(*started));
}

void actor_session::subscribe_to(const caf::actor& source, const std::string& what) {
  auto& p = *parts_;
  bool subscribed = false;
  std::string problem = "no answer";
  p.self->request(source, 10s, caf::subscribe_atom_v, caf::actor{p.self})
      .receive([&](caf::ok_atom) { subscribed = true; },
               [&](caf::error& err) { problem = p.sys.render(err); });
  if (!subscribed)
    throw bench_failure{"subscribing to " + what + ": " + problem};
}

void actor_session::stop_tree() {
  if (parts_ && parts_->tree) {
    parts_->tree->stop(60s);
    parts_->tree.reset();
  }
}

const ac::supervision_tree& actor_session::tree() const {
  return *parts_->tree;
}

caf::scoped_actor& actor_session::self() {
  return parts_->self;
}

caf::actor_system& actor_session::system() {
  return parts_->sys;
}

bool actor_session::watch(clock_type::time_point deadline,
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

caf::expected<ac::payload> actor_session::call(const std::string& name, const ac::payload& bytes,
                                               std::chrono::milliseconds timeout) {
  return call_from(parts_->self, parts_->tree->registry(), name, bytes, timeout);
}

caf::expected<ac::payload> actor_session::call_through(const caf::actor& target,
                                                       const std::string& name,
                                                       const ac::payload& bytes,
                                                       std::chrono::milliseconds timeout) {
  return call_from(parts_->self, target, name, bytes, timeout);
}

std::string actor_session::render(const caf::error& err) const {
  return parts_->sys.render(err);
}

} // namespace cellhub::bench
