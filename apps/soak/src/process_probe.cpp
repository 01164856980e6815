#include "cellhub/soak/process_probe.hpp"

#include <dirent.h>

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace cellhub::soak {
namespace {

// The fields of /proc/PID/stat that the soak reads.
struct stat_fields {
  char state = '?';
  pid_t parent = 0;
  std::uint64_t start_ticks = 0;
};

std::optional<stat_fields> read_stat(pid_t pid) {
  std::ifstream file{"/proc/" + std::to_string(pid) + "/stat"};
  std::string text;
  if (!std::getline(file, text))
    return std::nullopt;
  // The command name is in parentheses and may hold spaces or parentheses itself:
  // the fields start after the last ')'.
  const auto close = text.rfind(')');
  if (close == std::string::npos)
    return std::nullopt;
  std::istringstream rest{text.substr(close + 1)};
  stat_fields out;
  std::string field;
  // Field 3 is the state, 4 the parent; 22 the start time.
  rest >> out.state >> out.parent;
  for (int index = 5; index < 22 && rest >> field; ++index) {
  }
  if (!(rest >> out.start_ticks))
    return std::nullopt;
  return out;
}

template <class Each>
void for_each_pid(Each&& each) {
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr)
    return;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string_view name{entry->d_name};
    pid_t pid = 0;
    const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), pid);
    if (ec == std::errc{} && end == name.data() + name.size())
      each(pid);
  }
  ::closedir(dir);
}

} // namespace

std::optional<std::uint64_t> process_start_ticks(pid_t pid) {
  const auto fields = read_stat(pid);
  if (!fields)
    return std::nullopt;
  return fields->start_ticks;
}

std::optional<char> state_if_alive(const process_identity& who) {
  const auto fields = read_stat(who.pid);
  if (!fields)
    return std::nullopt;
  if (who.start_ticks != 0 && fields->start_ticks != who.start_ticks)
    return std::nullopt;
  return fields->state;
}

std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> out;
  for_each_pid([&](pid_t pid) {
    if (const auto fields = read_stat(pid); fields && fields->parent == parent)
      out.push_back(pid);
  });
  return out;
}

} // namespace cellhub::soak
