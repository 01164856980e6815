#include "cellhub/bench/report.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>

namespace cellhub::bench {
namespace {

using json = nlohmann::ordered_json;

// Three significant digits without exponents: 0.412, 27.3, 1234.
std::string number(double x) {
  if (!std::isfinite(x))
    return "-";
  const double magnitude = std::fabs(x);
  if (magnitude >= 100)
    return fmt::format("{:.0f}", x);
  if (magnitude >= 10)
    return fmt::format("{:.1f}", x);
  if (magnitude >= 1)
    return fmt::format("{:.2f}", x);
  return fmt::format("{:.3f}", x);
}

// A rate with a k/M suffix: 1.23 M.
std::string rate(double x) {
  if (!std::isfinite(x))
    return "-";
  if (x >= 1e6)
    return number(x / 1e6) + " M";
  if (x >= 1e3)
    return number(x / 1e3) + " k";
  return number(x);
}

// Tells whether `unit` counts things per second (msg/s, calls/s), printed with k/M.
bool counts_per_second(const std::string& unit) {
  return unit == "msg/s" || unit == "calls/s";
}

std::string describe(const std::optional<latency_summary>& dist, double value, double alt,
                     const std::string& unit, const std::string& alt_unit) {
  if (counts_per_second(unit))
    return fmt::format("{} {}", rate(value), unit);
  if (dist)
    return fmt::format("{} / {} / {} {}", number(dist->p50), number(dist->p99), number(dist->max),
                       unit);
  if (!alt_unit.empty())
    return fmt::format("{} {} ({} {})", number(value), unit, rate(alt), alt_unit);
  return fmt::format("{} {}", number(value), unit);
}

std::string verdict(const measurement& row) {
  if (!row.met)
    return "";
  return *row.met ? "met" : "MISSED";
}

std::string ratio_text(const measurement& row) {
  const double r = row.ratio();
  return std::isfinite(r) ? number(r) + "x" : "-";
}

json summary_json(const latency_summary& s) {
  return json{{"count", s.count}, {"min", s.min}, {"p50", s.p50},  {"p90", s.p90},
              {"p99", s.p99},     {"max", s.max}, {"mean", s.mean}};
}

// NaN is not JSON; absent numbers are null.
json finite_or_null(double x) {
  return std::isfinite(x) ? json(x) : json(nullptr);
}

} // namespace

void print_report(std::FILE* out, const machine_info& machine,
                  const std::vector<benchmark_outcome>& outcomes, bool markdown) {
  fmt::print(out, "cellhub-bench: {} CPUs ({}{}), kernel {}, {} build{}, load {} -> {}\n",
             machine.cpus, machine.cpu_model, machine.virtual_machine ? ", VM" : "", machine.kernel,
             machine.build_type, machine.sanitizers.empty() ? "" : " with " + machine.sanitizers,
             machine.load_average, machine.load_average_end);
  fmt::print(out,
             "latencies are p50 / p99 / max; ratio = value / baseline, both from this run\n\n");

  const std::array<std::string, 8> headers = {"benchmark", "measurement", "value", "baseline",
                                              "ratio",     "target",      "",      "baseline is"};
  std::vector<std::array<std::string, 8>> lines;
  for (const auto& outcome : outcomes) {
    if (!outcome.ok)
      lines.push_back({outcome.name, "FAILED: numbers missing", "", "", "", "", "", outcome.error});
    for (const auto& row : outcome.rows)
      lines.push_back({row.benchmark, row.name,
                       describe(row.distribution, row.value, row.alt_value, row.unit, row.alt_unit),
                       row.baseline_name.empty()
                           ? std::string{"-"}
                           : describe(row.baseline_distribution, row.baseline, row.alt_baseline,
                                      row.unit, row.alt_unit),
                       ratio_text(row), row.target, verdict(row), row.baseline_name});
  }
  if (markdown) {
    fmt::print(out, "| {} |\n|{}|\n", fmt::join(headers, " | "),
               fmt::join(std::vector<std::string>(headers.size(), "---"), "|"));
    for (const auto& line : lines)
      fmt::print(out, "| {} |\n", fmt::join(line, " | "));
    return;
  }
  std::array<std::size_t, 8> widths{};
  for (std::size_t c = 0; c < headers.size(); ++c) {
    widths[c] = headers[c].size();
    for (const auto& line : lines)
      widths[c] = std::max(widths[c], line[c].size());
  }
  auto print_line = [&](const std::array<std::string, 8>& line) {
    std::string text;
    for (std::size_t c = 0; c < line.size(); ++c)
      text += fmt::format("{:<{}}  ", line[c], c + 1 == line.size() ? 0 : widths[c]);
    while (!text.empty() && text.back() == ' ')
      text.pop_back();
    fmt::print(out, "{}\n", text);
  };
  print_line(headers);
  for (const auto& line : lines)
    print_line(line);
}

bool write_json_report(const std::string& path, const machine_info& machine,
                       const bench_options& options,
                       const std::vector<benchmark_outcome>& outcomes) {
  json doc;
  doc["machine"] = {{"cpus", machine.cpus},
                    {"cpu_model", machine.cpu_model},
                    {"virtual_machine", machine.virtual_machine},
                    {"kernel", machine.kernel},
                    {"hostname", machine.hostname},
                    {"load_average_start", machine.load_average},
                    {"load_average_end", machine.load_average_end},
                    {"build_type", machine.build_type},
                    {"sanitizers", machine.sanitizers}};
  doc["options"] = {
      {"quick", options.quick},
      {"only", options.only},
      {"pin", options.pin == pin_mode::off  ? "off"
              : options.pin == pin_mode::on ? "on"
                                            : "both"},
      {"spin_ns", options.spin.count()},
      {"kills", options.kills},
      {"max_cells", options.max_cells},
      {"throughput_window_ms", options.window.count()},
      {"iterations", options.iterations},
  };
  json benchmarks = json::array();
  json rows = json::array();
  for (const auto& outcome : outcomes) {
    benchmarks.push_back({{"name", outcome.name},
                          {"ok", outcome.ok},
                          {"error", outcome.error},
                          {"seconds", outcome.seconds},
                          {"rows", outcome.rows.size()}});
    for (const auto& row : outcome.rows) {
      json item{{"benchmark", row.benchmark},
                {"name", row.name},
                {"unit", row.unit},
                {"value", finite_or_null(row.value)}};
      if (row.distribution)
        item["distribution"] = summary_json(*row.distribution);
      if (!row.alt_unit.empty())
        item["alt"] = {{"unit", row.alt_unit}, {"value", finite_or_null(row.alt_value)}};
      if (!row.baseline_name.empty()) {
        json base{{"name", row.baseline_name}, {"value", finite_or_null(row.baseline)}};
        if (row.baseline_distribution)
          base["distribution"] = summary_json(*row.baseline_distribution);
        if (!row.alt_unit.empty())
          base["alt_value"] = finite_or_null(row.alt_baseline);
        item["baseline"] = std::move(base);
        item["ratio"] = finite_or_null(row.ratio());
      }
      if (!row.target.empty()) {
        item["target"] = row.target;
        item["met"] = row.met ? json(*row.met) : json(nullptr);
      }
      if (!row.note.empty())
        item["note"] = row.note;
      rows.push_back(std::move(item));
    }
  }
  doc["benchmarks"] = std::move(benchmarks);
  doc["measurements"] = std::move(rows);
  std::ofstream file{path};
  if (!file)
    return false;
  file << doc.dump(2) << '\n';
  return static_cast<bool>(file);
}

} // namespace cellhub::bench
