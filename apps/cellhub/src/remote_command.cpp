#include "cellhub/actors/embedding.hpp"
#include "cellhub/cli/commands.hpp"
#include "cellhub/cli/console.hpp"
#include "cellhub/cli/link_setup.hpp"
#include "cellhub/cluster/cluster_node.hpp"
#include "cellhub/cluster/messages.hpp"

#include <cellhub/apps/duration.hpp>
#include <cellhub/remote/link.hpp>

#include <caf/all.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

namespace cellhub::cli {
namespace {

namespace ac = cellhub::actors;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

// Defaults of `--timeout`: connecting on loopback takes milliseconds, and a restart
// waits for the cell's graceful stop (up to twice its shutdown timeout) and its start.
constexpr std::chrono::nanoseconds default_timeout = 5s;
constexpr std::chrono::nanoseconds default_restart_timeout = 30s;
// How long past a deadline the main thread waits for the worker's own verdict (CAF's
// request timeout fires at the deadline) before it gives up on the worker.
constexpr std::chrono::nanoseconds verdict_grace = 1s;
// How long the worker may take to tear its actor system down once the verdict is out.
constexpr std::chrono::nanoseconds teardown_limit = 2s;

bool split_endpoint(const std::string& endpoint, std::string& host, std::uint16_t& port) {
  const auto colon = endpoint.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return false;
  host = endpoint.substr(0, colon);
  // [::1]:4242 names an IPv6 host.
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  const auto* first = endpoint.data() + colon + 1;
  const auto* last = endpoint.data() + endpoint.size();
  const auto [end, ec] = std::from_chars(first, last, port);
  return ec == std::errc{} && end == last && port != 0;
}

std::string format_status(const std::vector<ac::child_info>& cells, bool json) {
  if (json) {
    auto out = nlohmann::json::array();
    for (const auto& c : cells)
      out.push_back({{"name", c.name},
                     {"state", std::string{ac::to_string(c.state)}},
                     {"peer_id", c.peer_id},
                     {"incarnation", c.incarnation},
                     {"pid", c.pid},
                     {"restarts", c.restarts},
                     {"last_cause", c.last_end ? ac::describe(*c.last_end) : std::string{}},
                     {"uptime_ms", c.uptime_ms}});
    return out.dump(2) + "\n";
  }
  auto text = fmt::format("{:<14} {:>7} {:>5} {:>8} {:<12} {:>8} {:>10}  {}\n", "NAME", "PEER_ID",
                          "INC", "PID", "STATE", "RESTARTS", "UPTIME_MS", "LAST CAUSE");
  for (const auto& c : cells)
    text += fmt::format("{:<14} {:>7} {:>5} {:>8} {:<12} {:>8} {:>10}  {}\n", c.name, c.peer_id,
                        c.incarnation, c.pid, ac::to_string(c.state), c.restarts, c.uptime_ms,
                        c.last_end ? ac::describe(*c.last_end) : std::string{});
  return text;
}

std::string uptime_of(const cluster::cell_record& c) {
  if (c.ready_ns == 0)
    return "-";
  const auto ms = (ac::event_clock_ns() - c.ready_ns) / 1'000'000;
  return std::to_string(std::max<std::int64_t>(ms, 0));
}

std::string format_cluster_status(const cluster::cluster_status& status, bool json) {
  if (json) {
    auto nodes = nlohmann::json::array();
    nodes.push_back({{"name", status.node}, {"up", true}, {"self", true}});
    for (const auto& n : status.nodes)
      nodes.push_back({{"name", n.name}, {"up", n.up}, {"self", false}});
    auto cells = nlohmann::json::array();
    for (const auto& c : status.cells)
      cells.push_back({{"node", c.node},
                       {"name", c.name},
                       {"state", std::string{ac::to_string(c.state)}},
                       {"reachable", c.reachable},
                       {"peer_id", c.peer_id},
                       {"incarnation", c.incarnation},
                       {"pid", c.pid},
                       {"restarts", c.restarts},
                       {"last_cause", c.last_end ? ac::describe(*c.last_end) : std::string{}}});
    return nlohmann::json{{"node", status.node}, {"nodes", nodes}, {"cells", cells}}.dump(2) + "\n";
  }
  std::string nodes = status.node + " (this node, up)";
  for (const auto& n : status.nodes)
    nodes += fmt::format(", {} ({})", n.name, n.up ? "up" : "DOWN");
  auto text = fmt::format("nodes: {}\n", nodes);
  text += fmt::format("{:<12} {:<14} {:>7} {:>5} {:>8} {:<12} {:>8} {:>10}  {}\n", "NODE", "NAME",
                      "PEER_ID", "INC", "PID", "STATE", "RESTARTS", "UPTIME_MS", "LAST CAUSE");
  for (const auto& c : status.cells)
    text += fmt::format(
        "{:<12} {:<14} {:>7} {:>5} {:>8} {:<12} {:>8} {:>10}  {}\n", c.node, c.name, c.peer_id,
        c.incarnation, c.pid, c.reachable ? std::string{ac::to_string(c.state)} : "unreachable",
        c.restarts, uptime_of(c), c.last_end ? ac::describe(*c.last_end) : std::string{});
  return text;
}

std::string format_reply(const std::string& name, const ac::payload& reply, bool json) {
  if (!json)
    return std::string{reply.as_string()}; // the bytes as they are, for pipes
  std::string hex;
  for (const auto b : reply.bytes())
    hex += fmt::format("{:02x}", static_cast<unsigned>(b));
  // "reply" is the text (bytes that are not UTF-8 replaced), "reply_hex" every byte.
  return nlohmann::json{
             {"name", name}, {"reply", std::string{reply.as_string()}}, {"reply_hex", hex}}
             .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
         "\n";
}

// What one remote command asks, and the deadlines it runs under.
struct remote_request {
  remote_action action = remote_action::status;
  std::string name;
  std::string payload; // the request of `call`
  std::string host;
  std::uint16_t port = 0;
  std::string where; // HOST:PORT as the user wrote it
  std::chrono::nanoseconds connect_timeout = default_timeout;
  std::chrono::nanoseconds answer_timeout = default_timeout;
  bool json = false;
};

// The worker's progress and verdict, shared with the main thread.
struct remote_job {
  std::mutex mutex;
  std::condition_variable changed;
  std::optional<clock_type::time_point> connected_at;
  bool answered = false;  // `code`, `out` and `err` hold the verdict
  bool torn_down = false; // the worker's actor system is gone
  int code = exit_runtime_error;
  std::string out;
  std::string err;

  void connected() {
    std::lock_guard guard{mutex};
    connected_at = clock_type::now();
    changed.notify_all();
  }
  void answer(int exit_code, std::string stdout_text, std::string stderr_text) {
    std::lock_guard guard{mutex};
    answered = true;
    code = exit_code;
    out = std::move(stdout_text);
    err = std::move(stderr_text);
    changed.notify_all();
  }
  void finished() {
    std::lock_guard guard{mutex};
    torn_down = true;
    changed.notify_all();
  }
};

std::string no_answer(const remote_request& req, std::chrono::nanoseconds timeout) {
  return fmt::format("cellhub: no answer from {} within {} (is it a cellhub control port?)\n",
                     req.where, apps::format_duration(timeout));
}

// Asks the console for what `req` wants and returns the verdict.
void ask(caf::actor_system& sys, const console_actor& console, const remote_request& req,
         remote_job& job) {
  caf::scoped_actor self{sys};
  const auto timeout = std::chrono::duration_cast<caf::timespan>(req.answer_timeout);
  auto fail = [&](const caf::error& err) {
    if (err == caf::sec::request_timeout)
      job.answer(exit_runtime_error, {}, no_answer(req, req.answer_timeout));
    else
      job.answer(exit_runtime_error, {}, fmt::format("cellhub: {}\n", sys.render(err)));
  };
  switch (req.action) {
  case remote_action::status: {
    // A node of a cluster shows the whole cluster; a lone host, its own tree.
    bool clustered = false;
    self->request(console, timeout, cluster::cluster_atom_v)
        .receive(
            [&](const cluster::cluster_status& status) {
              if ((clustered = !status.node.empty()))
                job.answer(exit_ok, format_cluster_status(status, req.json), {});
            },
            fail);
    if (clustered || job.answered)
      break;
    self->request(console, timeout, ac::which_atom_v)
        .receive(
            [&](const std::vector<ac::child_info>& cells) {
              job.answer(exit_ok, format_status(cells, req.json), {});
            },
            fail);
    break;
  }
  case remote_action::call:
    self->request(console, timeout, ac::call_atom_v, req.name,
                  ac::payload::from_string(req.payload))
        .receive(
            [&](const ac::payload& reply) {
              job.answer(exit_ok, format_reply(req.name, reply, req.json), {});
            },
            [&](const caf::error& err) {
              if (err == caf::sec::request_timeout)
                job.answer(exit_runtime_error, {}, no_answer(req, req.answer_timeout));
              else
                job.answer(exit_runtime_error, {},
                           fmt::format("cellhub: call {}: {}\n", req.name, sys.render(err)));
            });
    break;
  case remote_action::restart:
    self->request(console, timeout, ac::restart_atom_v, req.name)
        .receive(
            [&](caf::ok_atom) {
              job.answer(exit_ok,
                         req.json ? nlohmann::json{{"restarted", req.name}}.dump() + "\n"
                                  : fmt::format("restarted {}\n", req.name),
                         {});
            },
            fail);
    break;
  case remote_action::stop:
    self->request(console, timeout, ac::stop_atom_v)
        .receive(
            [&](caf::ok_atom) {
              job.answer(exit_ok, req.json ? "{\"stopping\":true}\n" : "stopping\n", {});
            },
            fail);
    break;
  }
}

// Runs on the worker thread: builds the actor system, connects, asks, tears down.
void run_remote(const remote_request& req, const remote::link_security& security, remote_job& job) {
  caf::actor_system_config cfg;
  ac::prepare_config(cfg);
  cluster::prepare_config(cfg);
  cfg.add_message_types<caf::id_block::cellhub_cli>();
  security.configure(cfg);
  {
    caf::actor_system sys{cfg};
    auto console =
        remote::connect<console_actor>(sys, req.host, req.port, req.connect_timeout, security);
    if (!console) {
      job.answer(exit_runtime_error, {},
                 console.error().code == remote::errc::timeout
                     ? no_answer(req, req.connect_timeout)
                     : fmt::format("cellhub: {}\n", console.error().message()));
    } else {
      job.connected();
      ask(sys, console.value(), req, job);
    }
  }
  job.finished();
}

// Ends the process with `code` at once, leaving the worker thread and its actor
// system behind. Only for a worker stuck in a blocking call: CAF 0.17's middleman
// actor resolves names and opens TCP connections synchronously, and the actor
// system's destructor waits for that actor, so neither a join nor a return from
// main (which would destroy the joinable std::thread and call std::terminate) can
// be bounded. This process owns nothing that needs a goodbye — no file, no child,
// no shared memory; the kernel closes its sockets — so _Exit after flushing our
// output is a clean end, and it skips the destructors that would wait.
[[noreturn]] void abandon_worker(int code) {
  std::fflush(stdout);
  std::fflush(stderr);
  std::_Exit(code);
}

} // namespace

int remote_command(remote_action action, const remote_options& options, const std::string& name,
                   const std::string& payload) {
  remote_request req;
  req.action = action;
  req.name = name;
  req.payload = payload;
  req.where = options.endpoint;
  req.json = options.json;
  if (!split_endpoint(options.endpoint, req.host, req.port)) {
    std::fprintf(stderr, "cellhub: --connect wants HOST:PORT, got '%s'\n",
                 options.endpoint.c_str());
    return exit_bad_usage;
  }
  if (options.timeout && options.timeout->count() <= 0) {
    std::fprintf(stderr, "cellhub: --timeout must be more than 0\n");
    return exit_bad_usage;
  }
  req.connect_timeout = options.timeout.value_or(default_timeout);
  req.answer_timeout = options.timeout.value_or(
      action == remote_action::restart ? default_restart_timeout : default_timeout);
  auto made = make_link_security(options.link, req.host, link_role::connect);
  if (auto* code = std::get_if<int>(&made))
    return *code;
  const auto security = std::get<remote::link_security>(std::move(made));

  // The worker does all of CAF's work and normally reaches its own verdict, CAF's
  // request timeouts included. The main thread only keeps the deadlines: when the
  // worker is stuck past one (see abandon_worker), it answers for it.
  auto job = std::make_shared<remote_job>();
  std::thread worker{[job, req, security] { run_remote(req, security, *job); }};
  std::unique_lock lock{job->mutex};
  const auto start = clock_type::now();
  if (!job->changed.wait_until(lock, start + req.connect_timeout + verdict_grace,
                               [&] { return job->connected_at || job->answered; })) {
    std::fputs(no_answer(req, req.connect_timeout).c_str(), stderr);
    abandon_worker(exit_runtime_error);
  }
  if (!job->answered &&
      !job->changed.wait_until(lock, *job->connected_at + req.answer_timeout + verdict_grace,
                               [&] { return job->answered; })) {
    std::fputs(no_answer(req, req.answer_timeout).c_str(), stderr);
    abandon_worker(exit_runtime_error);
  }
  std::fwrite(job->out.data(), 1, job->out.size(), stdout); // a reply may hold NUL bytes
  std::fputs(job->err.c_str(), stderr);
  const int code = job->code;
  if (!job->changed.wait_for(lock, teardown_limit, [&] { return job->torn_down; }))
    abandon_worker(code);
  lock.unlock();
  worker.join();
  return code;
}

} // namespace cellhub::cli
