#pragma once

// A private directory of one test's own, and the mode of the files in it.

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <unistd.h>

namespace cellhub::test {

/// Holds a directory of one test's own, `<temp>/PREFIX-PID-NANOSECONDS`, mode 0700,
/// removed with everything in it afterwards.
struct scratch_dir {
  /// Holds the directory's path.
  std::filesystem::path dir;

  /// Creates the directory, named after `prefix`.
  explicit scratch_dir(std::string_view prefix) {
    dir = std::filesystem::temp_directory_path() /
          (std::string{prefix} + "-" + std::to_string(::getpid()) + "-" +
           std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
    std::filesystem::create_directories(dir);
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::replace);
  }
  ~scratch_dir() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;

  /// Writes `text` to `name` in the directory; returns its path.
  std::filesystem::path write(const std::string& name, const std::string& text) const {
    std::ofstream{dir / name} << text;
    return dir / name;
  }
};

/// Returns the permission bits (07777) of `path`; fails the test if it has none.
inline mode_t mode_of(const std::filesystem::path& path) {
  struct stat st {};
  BOOST_TEST_REQUIRE(::stat(path.c_str(), &st) == 0, path);
  return st.st_mode & 07777;
}

} // namespace cellhub::test
