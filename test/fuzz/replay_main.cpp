// Runs a fuzz target over files instead of under libFuzzer: every file named on the command
// line, and every file in every directory named there, is fed once to
// LLVMFuzzerTestOneInput. The normal test suite uses it to replay the seed corpora and the
// crash reproductions with whatever compiler and sanitizers it is built with; a broken
// invariant aborts, as it would under libFuzzer.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

namespace fs = std::filesystem;

void replay(const fs::path& file) {
  std::ifstream in{file, std::ios::binary};
  const std::vector<char> bytes{std::istreambuf_iterator<char>{in},
                                std::istreambuf_iterator<char>{}};
  std::printf("replaying %s (%zu bytes)\n", file.c_str(), bytes.size());
  std::fflush(stdout);
  LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
}

} // namespace

int main(int argc, char** argv) {
  std::size_t count = 0;
  for (int i = 1; i < argc; ++i) {
    const fs::path arg{argv[i]};
    if (fs::is_directory(arg)) {
      std::vector<fs::path> files;
      for (const auto& entry : fs::directory_iterator{arg})
        if (entry.is_regular_file())
          files.push_back(entry.path());
      std::sort(files.begin(), files.end());
      for (const auto& file : files)
        replay(file);
      count += files.size();
    } else if (fs::is_regular_file(arg)) {
      replay(arg);
      ++count;
    } else {
      std::fprintf(stderr, "%s: no such file or directory\n", argv[i]);
      return 1;
    }
  }
  // A corpus that went missing must not pass as "replayed nothing, found nothing".
  if (count == 0) {
    std::fprintf(stderr, "no inputs to replay\n");
    return 1;
  }
  std::printf("%zu inputs replayed, every invariant held\n", count);
  return 0;
}
