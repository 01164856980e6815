#include "cellhub/bench/node_session.hpp"

#include "cellhub/bench/bench_context.hpp"

#include "cellhub/actors/messages.hpp"
#include "cellhub/cluster/cluster_node.hpp"
#include "cellhub/cluster/messages.hpp"

#include <caf/all.hpp>

#include <deque>
#include <optional>

namespace cellhub::bench {

namespace ac = cellhub::actors;
namespace cl = cellhub::cluster;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

struct node_session::node_parts {
  std::string name;
  std::optional<cl::cluster_node> node;
  // The node actor, untyped, for calls through it.
  caf::actor handle;
  std::uint16_t port = 0;
};

node_session::node_session(node_session_options options)
    : actor_session{options.caf_settings,
                    [&security = options.security](caf::actor_system_config& cfg) {
                      cl::prepare_config(cfg);
                      security.configure(cfg);
                    }}
    , node_{std::make_unique<node_parts>()} {
  auto& n = *node_;
  n.name = options.node;
  cl::cluster_options cluster{.node = options.node, .listen = {"127.0.0.1", 0}};
  cluster.join = std::move(options.join);
  n.node.emplace(cl::cluster_node::spawn(system(), std::move(cluster), options.security));
  n.handle = caf::actor_cast<caf::actor>(n.node->actor());
  subscribe_to(n.handle, "node " + n.name + "'s events");
  start_tree(std::move(options.hub_path), std::move(options.root),
             {.hub = options.hub, .subscribers = {n.node->subscriber(), caf::actor{self()}}},
             "node " + n.name + "'s tree");
  auto port = n.node->start(tree().registry());
  if (!port)
    throw bench_failure{"starting node " + n.name + ": " + port.error().message()};
  n.port = port.value();
}

node_session::~node_session() {
  stop();
}

void node_session::stop() {
  if (node_->node) {
    node_->node->stop();
    node_->node.reset();
    node_->handle = nullptr;
  }
  stop_tree();
}

const std::string& node_session::name() const {
  return node_->name;
}

std::uint16_t node_session::port() const {
  return node_->port;
}

caf::expected<ac::payload> node_session::cluster_call(const std::string& cluster_name,
                                                      const ac::payload& bytes,
                                                      std::chrono::milliseconds timeout) {
  return call_through(node_->handle, cluster_name, bytes, timeout);
}

std::uint64_t
node_session::confirmed_casts(const std::string& cluster_name, const ac::payload& bytes,
                              std::size_t batch, std::size_t depth, clock_type::time_point stop,
                              std::chrono::milliseconds timeout,
                              const std::function<void(const ac::payload&, std::size_t)>& check) {
  auto& me = self();
  const auto& node = node_->node->actor();
  const auto cast_one = [&] {
    return me->request(node, timeout, ac::cast_atom_v, cluster_name, bytes);
  };
  const auto close_batch = [&] {
    return me->request(node, timeout, ac::call_atom_v, cluster_name, ac::payload{});
  };
  using cast_handle = decltype(cast_one());
  using close_handle = decltype(close_batch());
  struct batch_in_flight {
    std::vector<cast_handle> casts;
    close_handle count;
  };
  std::deque<batch_in_flight> in_flight;
  const auto send_batch = [&] {
    std::vector<cast_handle> casts;
    casts.reserve(batch);
    for (std::size_t i = 0; i < batch; ++i)
      casts.push_back(cast_one());
    in_flight.push_back(batch_in_flight{std::move(casts), close_batch()});
  };
  for (std::size_t i = 0; i < depth; ++i)
    send_batch();
  std::uint64_t confirmed = 0;
  while (!in_flight.empty()) {
    auto oldest = std::move(in_flight.front());
    in_flight.pop_front();
    for (auto& cast : oldest.casts) {
      std::string problem = "no acknowledgement";
      cast.receive([&] { problem.clear(); }, [&](caf::error& err) { problem = render(err); });
      if (!problem.empty())
        throw bench_failure{"a cast to " + cluster_name + ": " + problem};
    }
    std::optional<ac::payload> answer;
    std::string problem = "no answer";
    oldest.count.receive([&](ac::payload& reply) { answer = std::move(reply); },
                         [&](caf::error& err) { problem = render(err); });
    if (!answer)
      throw bench_failure{"the call closing a batch of casts to " + cluster_name + ": " + problem};
    check(*answer, batch);
    confirmed += batch;
    if (clock_type::now() < stop)
      send_batch();
  }
  return confirmed;
}

} // namespace cellhub::bench
