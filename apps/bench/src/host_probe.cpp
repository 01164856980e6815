#include "cellhub/bench/host_probe.hpp"

#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string_view>

#ifndef CELLHUB_BENCH_BUILD_TYPE
#define CELLHUB_BENCH_BUILD_TYPE "unknown"
#endif
#ifndef CELLHUB_BENCH_SANITIZERS
#define CELLHUB_BENCH_SANITIZERS ""
#endif

namespace cellhub::bench {

std::optional<std::uint64_t> resident_kib() {
  std::ifstream status{"/proc/self/status"};
  std::string line;
  while (std::getline(status, line)) {
    if (!line.starts_with("VmRSS:"))
      continue;
    std::istringstream fields{line.substr(6)};
    std::uint64_t kib = 0;
    if (fields >> kib)
      return kib;
  }
  return std::nullopt;
}

std::optional<std::uint64_t> shmem_bytes() {
  std::ifstream meminfo{"/proc/meminfo"};
  for (std::string line; std::getline(meminfo, line);)
    if (line.starts_with("Shmem:")) {
      std::istringstream fields{line.substr(6)};
      std::uint64_t kib = 0;
      if (fields >> kib)
        return kib * 1024;
    }
  return std::nullopt;
}

bool wait_until_sleeping(pid_t pid, std::chrono::steady_clock::time_point deadline) {
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  do {
    std::ifstream stat_file{path};
    std::string text;
    std::getline(stat_file, text);
    // The state follows the command name, which is in parentheses and may hold spaces.
    const auto close = text.rfind(')');
    if (close == std::string::npos || close + 2 >= text.size())
      return false; // gone
    const char state = text[close + 2];
    if (state == 'S')
      return true;
  } while (std::chrono::steady_clock::now() < deadline);
  return false;
}

std::string load_average() {
  std::ifstream file{"/proc/loadavg"};
  std::string one, five, fifteen;
  file >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

machine_info describe_machine() {
  machine_info out;
  out.cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  utsname names{};
  if (::uname(&names) == 0) {
    out.kernel = names.release;
    out.hostname = names.nodename;
  }
  std::ifstream cpuinfo{"/proc/cpuinfo"};
  std::string line;
  while (std::getline(cpuinfo, line)) {
    const std::string_view text{line};
    if (out.cpu_model.empty() && text.starts_with("model name")) {
      const auto colon = text.find(':');
      if (colon != std::string_view::npos && colon + 2 <= text.size())
        out.cpu_model = std::string{text.substr(colon + 2)};
    }
    if (text.starts_with("flags") && text.find(" hypervisor") != std::string_view::npos)
      out.virtual_machine = true;
  }
  out.load_average = load_average();
  out.build_type = CELLHUB_BENCH_BUILD_TYPE;
  out.sanitizers = CELLHUB_BENCH_SANITIZERS;
  return out;
}

} // namespace cellhub::bench
