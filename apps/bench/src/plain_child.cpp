#include "cellhub/bench/plain_child.hpp"

#include "cellhub/bench/bench_context.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>

namespace cellhub::bench {

namespace tr = cellhub::transport;

ready_pipe::ready_pipe() {
  int fds[2] = {-1, -1};
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw bench_failure{"pipe2 for the ready pipe failed"};
  read_fd_ = fds[0];
  write_fd_ = fds[1];
}

ready_pipe::~ready_pipe() {
  ::close(read_fd_);
  ::close(write_fd_);
}

std::size_t ready_pipe::await(std::size_t count, std::chrono::steady_clock::time_point deadline) {
  std::size_t got = 0;
  std::array<char, 4096> sink{};
  while (got < count) {
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      break;
    pollfd entry{read_fd_, POLLIN, 0};
    const int ready = ::poll(&entry, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR)
      break;
    if (ready <= 0)
      continue;
    // Never read more than asked for: the rest belongs to the next wait.
    const ssize_t n = ::read(read_fd_, sink.data(), std::min(sink.size(), count - got));
    if (n > 0)
      got += static_cast<std::size_t>(n);
    else if (n == 0 || errno != EINTR)
      break;
  }
  return got;
}

tr::process spawn_plain_child(const std::string& binary, const ready_pipe& pipe, bool stay,
                              int cpu) {
  tr::spawn_options command{.binary = binary, .args = {"--mode=pipe-ready", "--pipe-fd=3"}};
  if (stay)
    command.args.emplace_back("--stay");
  if (cpu >= 0)
    command.args.push_back("--cpu=" + std::to_string(cpu));
  command.inherit = {{pipe.write_fd(), 3}};
  // The floor is a bare spawn: exec of the file itself, without the sealed copy that
  // cellhub's cells are started from, so the ratio shows what that copy costs.
  command.sealed_image = false;
  auto child = tr::process::spawn(command);
  if (!child)
    throw bench_failure{"spawning a plain child: " + child.error().message()};
  return std::move(child).value();
}

} // namespace cellhub::bench
