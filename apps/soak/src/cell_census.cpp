#include "cellhub/soak/cell_census.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <string.h>

namespace cellhub::soak {
namespace {

namespace ac = cellhub::actors;

std::string signal_name(int signal) {
  if (const char* abbrev = ::sigabbrev_np(signal))
    return std::string{"SIG"} + abbrev;
  return "signal " + std::to_string(signal);
}

// Describes how a life ended: "died killed SIGKILL", "stopped stopped exit 0".
std::string describe_end(const ac::lifecycle_event& event) {
  auto text = std::string{ac::to_string(event.kind)};
  if (!event.end)
    return text;
  text += fmt::format(" {}", ac::to_string(event.end->how));
  if (const auto& status = event.end->status; status && status->signaled)
    text += " " + signal_name(status->signal);
  else if (status)
    text += fmt::format(" exit {}", status->code);
  return text;
}

// Tells whether `event` reports a death that ended as `how`.
bool died_as(const ac::lifecycle_event& event, ac::ending how) {
  return event.kind == ac::event_kind::died && event.end && event.end->how == how;
}

// Tells the event's end in words, for a report.
std::string cause_of(const ac::lifecycle_event& event) {
  return event.end ? ac::describe(*event.end) : std::string{};
}

// Tells whether `event` is the ending a strike of `kind` must bring.
bool expected_end(chaos_kind kind, const ac::lifecycle_event& event) {
  switch (kind) {
  case chaos_kind::kill:
    return died_as(event, ac::ending::killed) && event.end->status->signal == SIGKILL;
  case chaos_kind::stop:
    return died_as(event, ac::ending::hung);
  case chaos_kind::garbage:
    return died_as(event, ac::ending::protocol_violation);
  case chaos_kind::linger:
    // Ended at all, however the host words it: the point is that it did not linger on.
    return true;
  }
  return false;
}

std::string describe_life(const std::string& name, const process_identity& process) {
  return fmt::format("{} (pid {})", name, process.pid);
}

} // namespace

cell_census::cell_census(std::vector<std::string> names, census_bounds bounds)
    : names_{std::move(names)}
    , bounds_{bounds} {
  for (const auto& name : names_)
    cells_.emplace(name, cell{});
}

std::optional<std::chrono::milliseconds> cell_census::bound(chaos_kind kind) const noexcept {
  switch (kind) {
  case chaos_kind::kill:
  case chaos_kind::garbage:
    return bounds_.reaction;
  case chaos_kind::linger:
    return bounds_.linger;
  case chaos_kind::stop:
    // A stopped cell is resumed by the soak itself: no bound on the host.
    return std::nullopt;
  }
  return std::nullopt;
}

cell_census::life& cell_census::begin_life(cell& c, const ac::lifecycle_event& event) {
  life fresh;
  fresh.process.pid = event.pid;
  fresh.peer_id = event.peer_id;
  fresh.incarnation = event.incarnation;
  if (event.pid > 0) {
    ++processes_seen_;
    // Unreadable: the process is already gone (and reaped), so there is nothing to
    // strike or to see gone; start_ticks stays 0 and it is not tracked.
    fresh.process.start_ticks = process_start_ticks(event.pid).value_or(0);
  }
  c.current = fresh;
  return *c.current;
}

void cell_census::on_event(const ac::lifecycle_event& event, clock::time_point now,
                           invariant_book& book) {
  switch (event.kind) {
  case ac::event_kind::restarting:
    ++restarts_;
    return;
  case ac::event_kind::quarantined:
  case ac::event_kind::escalated:
    ++give_ups_;
    return;
  default:
    break;
  }
  const auto found = cells_.find(event.name);
  if (found == cells_.end())
    return; // a supervisor's event
  auto& c = found->second;
  const bool same_life = c.current && (event.pid == 0 || c.current->process.pid == event.pid);
  switch (event.kind) {
  case ac::event_kind::started:
    if (!same_life)
      begin_life(c, event);
    break;
  case ac::event_kind::ready:
    if (!same_life)
      begin_life(c, event);
    c.current->ready = true;
    c.current->peer_id = event.peer_id;
    c.current->incarnation = event.incarnation;
    break;
  case ac::event_kind::died:
  case ac::event_kind::stopped:
    if (!same_life)
      begin_life(c, event); // a life that ended before the census saw it start
    end_life(found->first, c, event, now, book);
    break;
  default:
    break;
  }
}

void cell_census::end_life(const std::string& name, cell& c, const ac::lifecycle_event& event,
                           clock::time_point now, invariant_book& book) {
  const life ended = *c.current;
  c.current.reset();
  const auto text = describe_end(event);
  c.last_end = text;
  const auto label = ended.struck ? std::string{to_string(*ended.struck)} : std::string{"none"};
  ++endings_[label][text];
  judge(name, ended, event, text, now, book);
  if (ended.process.start_ticks != 0) {
    // The host reaps a cell before it reports the end: it should be gone already.
    if (!state_if_alive(ended.process))
      ++verified_gone_;
    else
      endings_pending_.push_back({name, ended.process, now});
  }
}

void cell_census::judge(const std::string& name, const life& l, const ac::lifecycle_event& event,
                        const std::string& ending_text, clock::time_point now,
                        invariant_book& book) {
  if (!l.struck) {
    if (event.kind == ac::event_kind::died) {
      ++unprovoked_;
      book.violate(invariant::no_unprovoked_deaths,
                   fmt::format("{} {} although nothing struck it ({})",
                               describe_life(name, l.process), ending_text, cause_of(event)));
    }
    return;
  }
  auto& counts = strikes_[index_of(*l.struck)];
  counts.reaction.add(now - l.struck_at);
  if (expected_end(*l.struck, event)) {
    ++counts.ended;
    return;
  }
  ++counts.unexpected;
  book.violate(
      invariant::chaos_handled,
      fmt::format("{} struck by {} {} ms earlier ended \"{}\" ({})", describe_life(name, l.process),
                  to_string(*l.struck),
                  std::chrono::duration_cast<std::chrono::milliseconds>(now - l.struck_at).count(),
                  ending_text, cause_of(event)));
}

std::vector<chaos_victim> cell_census::eligible() const {
  std::vector<chaos_victim> out;
  for (const auto& [name, c] : cells_)
    if (c.current && c.current->ready && !c.current->struck && c.current->process.start_ticks != 0)
      out.push_back({name, c.current->process});
  return out;
}

void cell_census::struck(const std::string& name, chaos_kind kind, clock::time_point now) {
  auto& counts = strikes_[index_of(kind)];
  ++counts.struck;
  const auto found = cells_.find(name);
  if (found == cells_.end() || !found->second.current)
    return;
  auto& l = *found->second.current;
  l.struck = kind;
  l.struck_at = now;
}

void cell_census::skipped(chaos_kind kind) {
  ++strikes_[index_of(kind)].skipped;
}

void cell_census::resumed(const std::string& name, const process_identity& who,
                          clock::time_point now) {
  const auto found = cells_.find(name);
  if (found == cells_.end() || !found->second.current)
    return;
  auto& l = *found->second.current;
  if (l.process == who && l.struck == chaos_kind::stop)
    l.resumed_at = now;
}

void cell_census::check(clock::time_point now, invariant_book& book) {
  for (auto& [name, c] : cells_) {
    if (!c.current || !c.current->struck)
      continue;
    auto& l = *c.current;
    if (l.resumed_at && now - *l.resumed_at >= bounds_.resumed_quiet) {
      // It survived its stop: it may be struck again.
      ++strikes_[index_of(chaos_kind::stop)].resumed;
      l.struck.reset();
      l.resumed_at.reset();
      continue;
    }
    const auto limit = bound(*l.struck);
    if (!l.late && limit && now - l.struck_at > *limit) {
      l.late = true;
      ++strikes_[index_of(*l.struck)].late;
      book.violate(
          invariant::chaos_handled,
          fmt::format(
              "{} struck by {} has not ended {} ms later (bound {} ms)",
              describe_life(name, l.process), to_string(*l.struck),
              std::chrono::duration_cast<std::chrono::milliseconds>(now - l.struck_at).count(),
              limit->count()));
    }
  }
  std::erase_if(endings_pending_, [&](const ending& e) {
    const auto state = state_if_alive(e.process);
    if (!state) {
      ++verified_gone_;
      return true;
    }
    if (now - e.since <= bounds_.gone)
      return false;
    ++lingering_;
    book.violate(
        invariant::nothing_left,
        fmt::format("{}'s process is still there (state {}) {} ms after its end was "
                    "reported",
                    describe_life(e.name, e.process), *state,
                    std::chrono::duration_cast<std::chrono::milliseconds>(now - e.since).count()));
    return true;
  });
}

bool cell_census::all_ready() const {
  return std::all_of(cells_.begin(), cells_.end(), [](const auto& entry) {
    const auto& l = entry.second.current;
    return l && l->ready && (!l->struck || (l->struck == chaos_kind::stop && l->resumed_at));
  });
}

std::vector<std::string> cell_census::not_ready() const {
  std::vector<std::string> out;
  for (const auto& [name, c] : cells_) {
    const auto& l = c.current;
    if (!l) {
      out.push_back(
          fmt::format("{}: no life{}", name, c.last_end.empty() ? "" : " since it " + c.last_end));
      continue;
    }
    if (!l->ready)
      out.push_back(fmt::format("{}: pid {} started, not READY", name, l->process.pid));
    else if (l->struck && !(l->struck == chaos_kind::stop && l->resumed_at))
      out.push_back(fmt::format("{}: pid {} struck by {}, not ended", name, l->process.pid,
                                to_string(*l->struck)));
  }
  return out;
}

std::vector<process_identity> cell_census::tracked_processes() const {
  std::vector<process_identity> out;
  for (const auto& [name, c] : cells_)
    if (c.current && c.current->process.start_ticks != 0)
      out.push_back(c.current->process);
  for (const auto& e : endings_pending_)
    out.push_back(e.process);
  return out;
}

} // namespace cellhub::soak
