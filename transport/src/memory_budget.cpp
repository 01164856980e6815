#include "cellhub/transport/memory_budget.hpp"

#include "cellhub/transport/hub_site.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <optional>
#include <sstream>
#include <string_view>

namespace cellhub::transport {
namespace {

// Returns the value of `key` (in kB) in /proc/meminfo, in bytes.
std::optional<std::uint64_t> meminfo_bytes(const std::string& text, std::string_view key) {
  std::istringstream lines{text};
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with(key) || line.size() <= key.size() || line[key.size()] != ':')
      continue;
    std::istringstream fields{line.substr(key.size() + 1)};
    std::uint64_t kib = 0;
    if (fields >> kib)
      return kib * 1024;
  }
  return std::nullopt;
}

std::string read_text(const std::string& path) {
  std::ifstream in{path};
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Reads a cgroup v2 limit file: a number of bytes, or nothing for "max" or no file.
std::optional<std::uint64_t> cgroup_limit(const std::string& path) {
  const auto text = read_text(path);
  std::uint64_t value = 0;
  const auto* end = text.data() + text.size();
  if (auto [at, ec] = std::from_chars(text.data(), end, value); ec == std::errc{})
    return value;
  return std::nullopt;
}

// Returns the directory of this process's cgroup v2, or nothing.
std::optional<std::string> cgroup_directory() {
  std::istringstream lines{read_text("/proc/self/cgroup")};
  for (std::string line; std::getline(lines, line);)
    if (line.starts_with("0::"))
      return "/sys/fs/cgroup" + line.substr(3);
  return std::nullopt;
}

} // namespace

result<memory_budget> read_memory_budget() {
  const auto meminfo = read_text("/proc/meminfo");
  const auto ram = meminfo_bytes(meminfo, "MemTotal");
  if (!ram)
    return make_error(errc::io_error, "cannot read MemTotal from /proc/meminfo");
  memory_budget budget{*ram + meminfo_bytes(meminfo, "SwapTotal").value_or(0), "RAM + swap"};
  if (const auto dir = cgroup_directory()) {
    if (const auto max = cgroup_limit(*dir + "/memory.max")) {
      const auto with_swap = *max + cgroup_limit(*dir + "/memory.swap.max").value_or(0);
      if (with_swap < budget.limit)
        budget = {with_swap, "the cgroup's memory.max + memory.swap.max"};
    }
  }
  return budget;
}

result<void> check_memory_budget(std::uint64_t needed, const memory_budget& budget) {
  if (needed <= budget.limit)
    return success();
  return make_error(errc::no_space,
                    fmt::format("the hub's peer regions need up to {}, but this host has {} ({})",
                                describe_bytes(needed), describe_bytes(budget.limit),
                                budget.source));
}

} // namespace cellhub::transport
