#include "cellhub/soak/soak_report.hpp"

#include "cellhub/apps/duration.hpp"
#include "cellhub/soak/soak_verdict.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace cellhub::soak {
namespace {

double mib(std::uint64_t kib) {
  return static_cast<double>(kib) / 1024.0;
}

double ms(std::chrono::nanoseconds d) {
  return static_cast<double>(d.count()) / 1e6;
}

std::string failures_text(const request_ledger& l) {
  std::string text;
  for (const auto& [reason, count] : l.failures())
    text += fmt::format("{}{} {}", text.empty() ? "" : ", ", reason, count);
  return text.empty() ? "none" : text;
}

// Picks at most `n` samples, evenly spread, first and last included.
std::vector<resource_sample> spread(const std::vector<resource_sample>& all, std::size_t n) {
  if (all.size() <= n)
    return all;
  std::vector<resource_sample> out;
  for (std::size_t i = 0; i < n; ++i)
    out.push_back(all[i * (all.size() - 1) / (n - 1)]);
  return out;
}

std::string run_description(const soak_record& r) {
  const auto& o = r.options;
  return fmt::format("{} cells, load {}/s, payload <= {} B, strikes/s kill {} stop {} garbage {} "
                     "linger {}, seed {}",
                     o.cells, o.load, o.payload, o.rate(chaos_kind::kill), o.rate(chaos_kind::stop),
                     o.rate(chaos_kind::garbage), o.rate(chaos_kind::linger), o.seed);
}

} // namespace

void print_summary(std::FILE* out, const soak_record& r) {
  const auto& o = r.options;
  const auto& l = r.ledger;
  const auto& c = r.census;
  fmt::print(out, "\ncellhub-soak summary ({} build{}{}, {} CPUs, load average {} -> {})\n",
             r.machine.build_type, r.machine.sanitizers.empty() ? "" : " with ",
             r.machine.sanitizers, r.machine.cpus, r.machine.load_average,
             r.machine.load_average_end);
  fmt::print(
      out, "  run        {} for {:.1f} s{} (asked {}), warm-up {}, startup {} ms, settle {} ms\n",
      run_description(r), static_cast<double>(r.loaded_for.count()) / 1000.0,
      r.interrupted ? " (interrupted)" : "", apps::format_duration(o.duration),
      apps::format_duration(o.effective_warmup()), r.startup_took.count(), r.settle_took.count());
  fmt::print(out, "  requests   {} sent: {} answered, {} failed ({}), {} corrupt, {} overdue\n",
             l.sent_count(), l.answered_count(), l.failed_count(), failures_text(l),
             l.corrupt_count(), l.overdue_count());
  fmt::print(out,
             "  latency    answers p50 {:.2f} ms p99 {:.2f} ms max {:.1f} ms; failures p99 "
             "{:.1f} ms max {:.1f} ms (bucket bounds)\n",
             ms(l.answer_latency().quantile(0.5)), ms(l.answer_latency().quantile(0.99)),
             ms(l.answer_latency().max()), ms(l.failure_latency().quantile(0.99)),
             ms(l.failure_latency().max()));
  for (const auto kind : all_chaos_kinds) {
    const auto& s = c.strikes(kind);
    fmt::print(out,
               "  {:<10} struck {}, ended as expected {}{}, unexpected {}, late {}, skipped "
               "{}; reaction p50 {:.1f} ms max {:.1f} ms\n",
               to_string(kind), s.struck, s.ended,
               kind == chaos_kind::stop ? fmt::format(", resumed {}", s.resumed) : "", s.unexpected,
               s.late, s.skipped, ms(s.reaction.quantile(0.5)), ms(s.reaction.max()));
  }
  fmt::print(out, "  endings   ");
  for (const auto& [label, causes] : c.endings())
    for (const auto& [cause, count] : causes)
      fmt::print(out, " [{}] {} x{};", label, cause, count);
  fmt::print(out, "\n  processes  {} cell processes seen, {} restarts, {} unprovoked deaths\n",
             c.processes_seen(), c.restarts(), c.unprovoked());
  fmt::print(out, "  resources  t(s)/RSS(MiB)/fds:");
  for (const auto& s : spread(r.trend.samples(), 8))
    fmt::print(out, "  {:.0f}/{:.1f}/{}", static_cast<double>(s.at.count()) / 1000.0,
               mib(s.rss_kib), s.fds);
  fmt::print(out, "\n");
  fmt::print(out, "  end        tree stopped in {} ms ({}); audit {}\n", r.end.stop_took.count(),
             r.end.stop_reason,
             r.end.audit && *r.end.audit == r.end.audit_baseline ? "at baseline"
                                                                 : "NOT at baseline");
  fmt::print(out, "  invariants\n");
  for (const auto which : all_invariants) {
    const auto& record = r.book.record(which);
    fmt::print(out, "    {} {:<25} {}\n", record.held() ? "PASS" : "FAIL", to_string(which),
               record.figures);
    for (const auto& example : record.examples)
      fmt::print(out, "         - {}\n", example);
    if (record.violations > record.examples.size())
      fmt::print(out, "         - ... {} more\n", record.violations - record.examples.size());
  }
  if (r.runtime_error) {
    fmt::print(out, "  result     RUNTIME ERROR: {} (exit 1)\n", *r.runtime_error);
    return;
  }
  const auto violated = r.book.violated();
  if (violated.empty()) {
    fmt::print(out, "  result     all {} invariants held (exit 0)\n", all_invariants.size());
    return;
  }
  std::string names;
  for (const auto which : violated)
    names += fmt::format("{}{}", names.empty() ? "" : ", ", to_string(which));
  fmt::print(out, "  result     {} of {} invariants VIOLATED: {} (exit {})\n", violated.size(),
             all_invariants.size(), names, exit_code_of(r));
}

bool write_json_summary(const std::string& path, const soak_record& r, std::string& problem) {
  using nlohmann::json;
  const auto& o = r.options;
  const auto& l = r.ledger;
  const auto& c = r.census;
  json j;
  j["options"] = {{"duration_ms", o.duration.count()},
                  {"cells", o.cells},
                  {"load_per_s", o.load},
                  {"payload_max_bytes", o.payload},
                  {"seed", o.seed},
                  {"deadline_ms", o.deadline.count()},
                  {"grace_ms", o.grace.count()},
                  {"warmup_ms", o.effective_warmup().count()},
                  {"settle_ms", o.settle.count()},
                  {"hang_timeout_ms", o.hang_timeout.count()},
                  {"shutdown_timeout_ms", o.shutdown_timeout.count()},
                  {"stop_min_ms", o.stop_min.count()},
                  {"stop_max_ms", o.stop_max.count()},
                  {"rss_growth_bound_kib", o.rss_growth_kib},
                  {"fd_growth_bound", o.fd_growth},
                  {"hub_path", r.hub_path},
                  {"cell_binary", r.cell_binary}};
  for (const auto kind : all_chaos_kinds)
    j["options"]["rates_per_s"][std::string{to_string(kind)}] = o.rate(kind);
  j["machine"] = {{"cpus", r.machine.cpus},
                  {"kernel", r.machine.kernel},
                  {"cpu_model", r.machine.cpu_model},
                  {"build_type", r.machine.build_type},
                  {"sanitizers", r.machine.sanitizers},
                  {"load_average_start", r.machine.load_average},
                  {"load_average_end", r.machine.load_average_end}};
  j["timing"] = {{"startup_ms", r.startup_took.count()},      {"loaded_ms", r.loaded_for.count()},
                 {"settle_ms", r.settle_took.count()},        {"stop_ms", r.end.stop_took.count()},
                 {"max_tick_gap_ms", r.max_tick_gap.count()}, {"interrupted", r.interrupted}};
  j["requests"] = {
      {"sent", l.sent_count()},
      {"answered", l.answered_count()},
      {"failed", l.failed_count()},
      {"failures", l.failures()},
      {"corrupt", l.corrupt_count()},
      {"overdue", l.overdue_count()},
      {"late", l.late_count()},
      {"max_open", l.max_open()},
      {"answer_p50_us", l.answer_latency().quantile(0.5).count()},
      {"answer_p99_us", l.answer_latency().quantile(0.99).count()},
      {"answer_max_us",
       std::chrono::ceil<std::chrono::microseconds>(l.answer_latency().max()).count()},
      {"failure_max_us",
       std::chrono::ceil<std::chrono::microseconds>(l.failure_latency().max()).count()}};
  for (const auto kind : all_chaos_kinds) {
    const auto& s = c.strikes(kind);
    j["chaos"][std::string{to_string(kind)}] = {
        {"struck", s.struck},
        {"ended_as_expected", s.ended},
        {"resumed", s.resumed},
        {"unexpected", s.unexpected},
        {"late", s.late},
        {"skipped", s.skipped},
        {"reaction_p50_us", s.reaction.quantile(0.5).count()},
        {"reaction_max_us",
         std::chrono::ceil<std::chrono::microseconds>(s.reaction.max()).count()}};
  }
  j["endings"] = c.endings();
  j["cells"] = {{"names", c.names()},       {"processes_seen", c.processes_seen()},
                {"restarts", c.restarts()}, {"unprovoked_deaths", c.unprovoked()},
                {"give_ups", c.give_ups()}, {"verified_at_end", r.cells_verified}};
  auto sample_json = [](const std::optional<resource_sample>& s) -> json {
    if (!s)
      return nullptr;
    return {{"t_ms", s->at.count()}, {"rss_kib", s->rss_kib}, {"fds", s->fds}};
  };
  j["resources"] = {
      {"rest_before", sample_json(r.rest_before)}, {"warmup_end", sample_json(r.warmup_end)},
      {"load_end", sample_json(r.load_end)},       {"rest_after", sample_json(r.rest_after)},
      {"max_rss_kib", r.trend.max_rss_kib()},      {"max_fds", r.trend.max_fds()},
      {"samples_taken", r.trend.count()},          {"samples", json::array()}};
  for (const auto& s : r.trend.samples())
    j["resources"]["samples"].push_back(sample_json(s));
  auto audit_json = [](const transport::hub_audit& a) -> json {
    return {{"peers_free", a.peers_free},
            {"peers_live", a.peers_live},
            {"peers_draining", a.peers_draining},
            {"slots_in_flight_to_cells", a.slots_in_flight_to_cells},
            {"slots_leased_from_cells", a.slots_leased_from_cells},
            {"free_entries_not_free", a.free_entries_not_free}};
  };
  j["end"] = {{"stop_reason", r.end.stop_reason},
              {"audit", r.end.audit ? audit_json(*r.end.audit) : json(nullptr)},
              {"audit_baseline", audit_json(r.end.audit_baseline)},
              {"hub_file_gone", r.end.hub_file_gone},
              {"processes_checked", r.end.processes_checked},
              {"processes_left", r.end.processes_left},
              {"children_left", r.end.children_left}};
  for (const auto which : all_invariants) {
    const auto& record = r.book.record(which);
    j["invariants"][std::string{to_string(which)}] = {{"held", record.held()},
                                                      {"violations", record.violations},
                                                      {"figures", record.figures},
                                                      {"examples", record.examples}};
  }
  j["runtime_error"] = r.runtime_error ? json(*r.runtime_error) : json(nullptr);
  j["exit_code"] = exit_code_of(r);

  std::ofstream file{path, std::ios::out | std::ios::trunc};
  if (file)
    file << j.dump(2) << '\n';
  file.flush();
  if (!file) {
    problem = fmt::format("cannot write {}: {}", path, std::strerror(errno));
    return false;
  }
  return true;
}

} // namespace cellhub::soak
