#include "cellhub/soak/soak_verdict.hpp"

#include "cellhub/soak/soak_cli.hpp"

#include <fmt/format.h>

namespace cellhub::soak {
namespace {

double mib(std::uint64_t kib) {
  return static_cast<double>(kib) / 1024.0;
}

double seconds(std::chrono::milliseconds d) {
  return std::chrono::duration<double>(d).count();
}

std::string describe(const transport::hub_audit& a) {
  return fmt::format(
      "free {} live {} draining {} slots in flight {} leased {} free-but-not-free {}", a.peers_free,
      a.peers_live, a.peers_draining, a.slots_in_flight_to_cells, a.slots_leased_from_cells,
      a.free_entries_not_free);
}

void judge_replies(soak_record& r) {
  const auto& l = r.ledger;
  r.book.set_figures(invariant::replies_correct,
                     fmt::format("{} corrupt of {} replies", l.corrupt_count(),
                                 l.answered_count() + l.corrupt_count()));
}

void judge_deadlines(soak_record& r) {
  const auto& l = r.ledger;
  r.book.set_figures(
      invariant::requests_within_deadline,
      fmt::format(
          "{} of {} requests open past {} ms + {} ms grace ({} answered late); slowest "
          "answer {} ms, slowest failure {} ms; {} open at most",
          l.overdue_count(), l.sent_count(), r.options.deadline.count(), r.options.grace.count(),
          l.late_count(),
          std::chrono::duration_cast<std::chrono::milliseconds>(l.answer_latency().max()).count(),
          std::chrono::duration_cast<std::chrono::milliseconds>(l.failure_latency().max()).count(),
          l.max_open()));
}

void judge_rss(soak_record& r) {
  if (!r.warmup_end || !r.load_end) {
    r.book.set_figures(invariant::rss_flat, "not measured: the loaded phase did not run");
    return;
  }
  const auto from = r.warmup_end->rss_kib;
  const auto to = r.load_end->rss_kib;
  const auto growth = static_cast<std::int64_t>(to) - static_cast<std::int64_t>(from);
  r.book.set_figures(invariant::rss_flat,
                     fmt::format("{:.1f} MiB at warm-up end (t={:.0f} s) -> {:.1f} MiB at load "
                                 "end (t={:.0f} s): {:+.1f} MiB, bound {:.1f} MiB; max {:.1f} MiB",
                                 mib(from), seconds(r.warmup_end->at), mib(to),
                                 seconds(r.load_end->at), static_cast<double>(growth) / 1024.0,
                                 mib(r.options.rss_growth_kib), mib(r.trend.max_rss_kib())));
  if (growth > static_cast<std::int64_t>(r.options.rss_growth_kib))
    r.book.violate(invariant::rss_flat,
                   fmt::format("RSS grew {:.1f} MiB from the end of warm-up to the end of load "
                               "(bound {:.1f} MiB)",
                               static_cast<double>(growth) / 1024.0,
                               mib(r.options.rss_growth_kib)));
}

void judge_fds(soak_record& r) {
  if (!r.rest_before) {
    r.book.set_figures(invariant::fds_flat, "not measured: the cells never all became READY");
    return;
  }
  if (!r.rest_after) {
    r.book.set_figures(invariant::fds_flat,
                       fmt::format("{} at rest before; no rest after (cells not all READY); max "
                                   "{}",
                                   r.rest_before->fds, r.trend.max_fds()));
    return;
  }
  const auto before = r.rest_before->fds;
  const auto after = r.rest_after->fds;
  r.book.set_figures(invariant::fds_flat,
                     fmt::format("{} at rest before the chaos -> {} at rest after it, bound +{}; "
                                 "max {} while loaded",
                                 before, after, r.options.fd_growth, r.trend.max_fds()));
  if (after > before + r.options.fd_growth)
    r.book.violate(invariant::fds_flat,
                   fmt::format("{} fds open at rest after the run, {} before (bound +{})", after,
                               before, r.options.fd_growth));
}

void judge_audit(soak_record& r) {
  const auto& e = r.end;
  if (!e.audit) {
    r.book.set_figures(invariant::hub_audit_baseline, "not taken: no tree");
    return;
  }
  r.book.set_figures(invariant::hub_audit_baseline,
                     fmt::format("after the stop: {}; baseline: {}", describe(*e.audit),
                                 describe(e.audit_baseline)));
  if (!(*e.audit == e.audit_baseline))
    r.book.violate(invariant::hub_audit_baseline,
                   fmt::format("audit after the stop is {}, a fresh hub's is {}",
                               describe(*e.audit), describe(e.audit_baseline)));
}

void judge_leftovers(soak_record& r) {
  const auto& e = r.end;
  if (!e.tree_started) {
    r.book.set_figures(invariant::nothing_left, "not checked: no tree was started");
    return;
  }
  const auto& c = r.census;
  r.book.set_figures(
      invariant::nothing_left,
      fmt::format("hub {}, its file {}; {} cell processes seen, {} verified gone as their "
                  "ends were reported, {} checked at exit: {} left; {} children "
                  "of the host left; {} lingered past their end",
                  e.hub_released ? "released" : "STILL REFERENCED",
                  e.hub_file_gone ? "gone" : "STILL THERE", c.processes_seen(),
                  c.processes_verified_gone(), e.processes_checked, e.processes_left.size(),
                  e.children_left.size(), c.processes_lingering()));
  if (!e.hub_released)
    r.book.violate(invariant::nothing_left,
                   "the hub is still referenced after the tree and the actor system are gone");
  if (!e.hub_file_gone && !r.hub_path.empty())
    r.book.violate(invariant::nothing_left,
                   fmt::format("the hub file {} is still there after the tree and the actor "
                               "system are gone",
                               r.hub_path));
  for (const auto& left : e.processes_left)
    r.book.violate(invariant::nothing_left, "cell process left after exit: " + left);
  for (const auto& left : e.children_left)
    r.book.violate(invariant::nothing_left, "child of the host left after exit: " + left);
}

void judge_cells(soak_record& r) {
  r.book.set_figures(invariant::cells_ready_at_end,
                     fmt::format("{} of {} cells READY and verified {} ms after chaos stopped",
                                 r.cells_verified, r.census.names().size(), r.settle_took.count()));
}

void judge_chaos(soak_record& r) {
  std::string text;
  for (const auto kind : all_chaos_kinds) {
    const auto& s = r.census.strikes(kind);
    if (!text.empty())
      text += "; ";
    text += fmt::format("{} {} (ended {}{} unexpected {} late {} skipped {})", to_string(kind),
                        s.struck, s.ended,
                        kind == chaos_kind::stop ? fmt::format(" resumed {}", s.resumed) : "",
                        s.unexpected, s.late, s.skipped);
  }
  r.book.set_figures(invariant::chaos_handled, text);
  r.book.set_figures(invariant::no_unprovoked_deaths,
                     fmt::format("{} unprovoked deaths; {} restarts; {} quarantines or "
                                 "escalations",
                                 r.census.unprovoked(), r.census.restarts(), r.census.give_ups()));
}

} // namespace

void conclude(soak_record& r) {
  r.book.set_figures(invariant::host_alive,
                     fmt::format("reached the end after {:.1f} s of load; largest gap between "
                                 "driver ticks {} ms (a crash or sanitizer report would have "
                                 "ended the process)",
                                 static_cast<double>(r.loaded_for.count()) / 1000.0,
                                 r.max_tick_gap.count()));
  judge_replies(r);
  judge_deadlines(r);
  judge_cells(r);
  judge_rss(r);
  judge_fds(r);
  judge_audit(r);
  judge_leftovers(r);
  judge_chaos(r);
}

int exit_code_of(const soak_record& r) {
  if (r.runtime_error)
    return exit_code::runtime_error;
  return r.book.all_held() ? exit_code::held : exit_code::violated;
}

} // namespace cellhub::soak
