#pragma once

#include <atomic>
#include <string>
#include <string_view>
#include <unistd.h>

namespace cellhub::test {

/// Returns a hub path no other test (or test process) uses: name, pid and a counter.
inline std::string unique_hub_path(std::string_view name) {
  static std::atomic<int> counter{0};
  return "/dev/shm/cellhub-test-" + std::string{name} + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(counter.fetch_add(1));
}

} // namespace cellhub::test
