#include "cellhub/cli/cluster_view.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace cellhub::cli {
namespace {

using actors::child_state;
using actors::event_kind;

// Bounds the events the terminal view repeats under its table.
constexpr std::size_t recent_events = 6;

std::string uptime_text(const cell_row& row, cluster_view::clock::time_point now) {
  if (!row.ready_since)
    return "-";
  const auto s = std::chrono::duration_cast<std::chrono::seconds>(now - *row.ready_since).count();
  if (s < 60)
    return fmt::format("{}s", s);
  if (s < 3600)
    return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}h{:02}m", s / 3600, (s / 60) % 60);
}

} // namespace

void cluster_view::apply(const actors::lifecycle_event& event, clock::time_point now) {
  if (event.kind == event_kind::node_down || event.kind == event_kind::node_up) {
    remember(event); // a node of the cluster, not a row of this host's cells
    return;
  }
  if (event.kind == event_kind::removed) {
    // The spec is gone (a temporary child ended, a pool shrank): so is the row, as from
    // the supervisor's which_children.
    rows_.erase(event.name);
    remember(event);
    return;
  }
  auto& row = rows_[event.name];
  row.name = event.name;
  row.supervisor = event.supervisor;
  switch (event.kind) {
  case event_kind::started:
    row.state = child_state::starting;
    row.peer_id = event.peer_id;
    row.incarnation = event.incarnation;
    row.pid = event.pid;
    break;
  case event_kind::ready:
    row.state = child_state::running;
    row.peer_id = event.peer_id;
    row.incarnation = event.incarnation;
    row.pid = event.pid;
    row.ready_since = now;
    break;
  case event_kind::died:
    row.state = child_state::idle;
    if (event.end)
      row.last_end = *event.end;
    row.ready_since.reset();
    ++deaths_;
    break;
  case event_kind::restarting:
    row.state = child_state::restarting;
    ++row.restarts;
    break;
  case event_kind::remapped:
    break;
  case event_kind::quarantined:
    row.state = child_state::quarantined;
    break;
  case event_kind::escalated:
    if (event.end)
      row.last_end = *event.end;
    break;
  case event_kind::stopped:
    row.state = child_state::stopped;
    row.ready_since.reset();
    break;
  case event_kind::removed:
  case event_kind::node_down:
  case event_kind::node_up:
    break; // handled above
  }
  remember(event);
}

void cluster_view::remember(const actors::lifecycle_event& event) {
  if (event.kind == event_kind::started || event.kind == event_kind::ready)
    return;
  std::string line = fmt::format("{:<11} {:<14}", actors::to_string(event.kind), event.name);
  if (event.kind == event_kind::remapped)
    line += fmt::format(" peer {} -> {}", event.old_peer_id, event.peer_id);
  else if (event.kind == event_kind::restarting)
    line += fmt::format(" in {} ms", event.delay_ms);
  else if (event.end)
    line += " " + actors::describe(*event.end);
  recent_.push_back(std::move(line));
  while (recent_.size() > recent_events)
    recent_.pop_front();
}

std::vector<cell_row> cluster_view::rows() const {
  std::vector<cell_row> out;
  for (const auto& [name, row] : rows_)
    out.push_back(row);
  std::stable_sort(out.begin(), out.end(), [](const cell_row& a, const cell_row& b) {
    return a.supervisor < b.supervisor;
  });
  return out;
}

std::vector<actors::child_info> cluster_view::as_child_infos(clock::time_point now) const {
  std::vector<actors::child_info> out;
  for (const auto& row : rows()) {
    actors::child_info info;
    info.name = row.name;
    info.state = row.state;
    info.peer_id = row.peer_id;
    info.incarnation = row.incarnation;
    info.pid = row.pid;
    info.restarts = row.restarts;
    if (row.last_end)
      info.last_end = *row.last_end;
    if (row.ready_since)
      info.uptime_ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(now - *row.ready_since).count();
    out.push_back(std::move(info));
  }
  return out;
}

std::string cluster_view::render_table(clock::time_point now) const {
  std::string out =
      fmt::format("{:<14} {:<10} {:>7} {:>5} {:>8} {:<12} {:>8} {:>8}  {}\n", "NAME", "SUPERVISOR",
                  "PEER_ID", "INC", "PID", "STATE", "RESTARTS", "UPTIME", "LAST CAUSE");
  for (const auto& row : rows())
    out += fmt::format("{:<14} {:<10} {:>7} {:>5} {:>8} {:<12} {:>8} {:>8}  {}\n", row.name,
                       row.supervisor, row.peer_id, row.incarnation, row.pid,
                       actors::to_string(row.state), row.restarts, uptime_text(row, now),
                       row.last_end ? actors::describe(*row.last_end) : std::string{});
  out += fmt::format("\nrequests served {}   failed {}   deaths {}   up {}s\n", served_, failed_,
                     deaths_,
                     std::chrono::duration_cast<std::chrono::seconds>(now - started_).count());
  if (!recent_.empty()) {
    out += "\nrecent events:\n";
    for (const auto& line : recent_)
      out += "  " + line + "\n";
  }
  if (!note_.empty())
    out += "\n" + note_ + "\n";
  return out;
}

cluster_view::tally cluster_view::count_states() const {
  tally out;
  for (const auto& [name, row] : rows_) {
    out.restarts += row.restarts;
    if (row.state == child_state::running)
      ++out.running;
    else if (row.state == child_state::restarting ||
             (row.state == child_state::starting && row.restarts > 0))
      // Only a child whose supervisor announced another life is restarting.
      ++out.restarting;
    else if (row.state == child_state::starting)
      ++out.starting;
    else
      // died without a restart (yet), stopped, quarantined: not coming back by itself.
      ++out.down;
  }
  return out;
}

std::string cluster_view::render_line(clock::time_point now) const {
  const auto counts = count_states();
  const double up = std::chrono::duration<double>(now - started_).count();
  return fmt::format("t={:.1f}s cells={} running={} starting={} restarting={} down={} "
                     "restarts={} served={} failed={}",
                     up, rows_.size(), counts.running, counts.starting, counts.restarting,
                     counts.down, counts.restarts, served_, failed_);
}

} // namespace cellhub::cli
