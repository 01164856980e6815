// user_probe — the child the spawn-as-user tests start (test/integration/spawn_user_test.cpp)
// to see from inside what a cell started as another user can do:
//
//   user_probe identity FD HOST_PID        write "kill=E\n" to FD, E being the errno of
//                                          kill(HOST_PID, 0) (0 if it succeeded), close
//                                          FD, then block until killed (60 s safety net)
//   user_probe spawn-as FD UID GID BINARY  try to spawn BINARY as UID/GID and write
//                                          "ERRC ERRNO MESSAGE\n" (or "spawned\n") to FD
// Exit codes: 0 done, 4 the report could not be written, 64 bad arguments.
#include "cellhub/transport/process.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <string>
#include <string_view>

namespace tr = cellhub::transport;

namespace {

// Bounds how long a forgotten probe can linger if its test died without killing it.
constexpr unsigned safety_net_seconds = 60;

bool write_all(int fd, const std::string& text) {
  return ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
}

int report_identity(int argc, char** argv) {
  if (argc < 4)
    return 64;
  const int fd = std::atoi(argv[2]);
  const pid_t host = std::atoi(argv[3]);
  const int err = ::kill(host, 0) == 0 ? 0 : errno;
  if (!write_all(fd, "kill=" + std::to_string(err) + "\n"))
    return 4;
  ::close(fd);
  ::alarm(safety_net_seconds);
  for (;;)
    ::pause();
}

int spawn_as(int argc, char** argv) {
  if (argc < 6)
    return 64;
  const int fd = std::atoi(argv[2]);
  tr::spawn_options options{.binary = argv[5]};
  options.user = tr::spawn_identity{.uid = static_cast<uid_t>(std::atol(argv[3])),
                                    .gid = static_cast<gid_t>(std::atol(argv[4]))};
  auto child = tr::process::spawn(options);
  if (child) {
    (void)child.value().wait_for(std::chrono::seconds{10});
    return write_all(fd, "spawned\n") ? 0 : 4;
  }
  const auto& err = child.error();
  return write_all(fd, std::string{tr::to_string(err.code)} + " " + std::to_string(err.sys_errno) +
                           " " + err.message() + "\n")
             ? 0
             : 4;
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 2)
    return 64;
  const std::string_view mode{argv[1]};
  if (mode == "identity")
    return report_identity(argc, argv);
  if (mode == "spawn-as")
    return spawn_as(argc, argv);
  return 64;
}
