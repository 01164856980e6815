// A child program for the process-spawning tests: it reports what a spawned cell sees
// (open fds, environment) through its exit code and, optionally, an inherited fd.
//
//   spawn_probe fds EXPECTED [REPORT_FD]  exit 0 if the open fds are exactly EXPECTED
//                                         ("0,1,2,3"), else 3; the fds seen are written
//                                         to stderr and to REPORT_FD if given
//   spawn_probe env NAME VALUE            exit 0 if $NAME == VALUE, 1 if unset, 2 if not
//   spawn_probe signals                   exit 0 if no signal is blocked and SIGPIPE,
//                                         SIGTERM and SIGINT have their default action,
//                                         6 if one is blocked, 7 if one is not default
//   spawn_probe exit CODE                 exit with CODE
//   spawn_probe hang                      block until killed (exits by itself after 60 s)
//   spawn_probe ring                      adopt fd 3 as a doorbell, ring it, then block
//                                         until the host end hangs up; exit 0
//   spawn_probe grandchild FD THEN        fork a background child that blocks until
//                                         killed (60 s safety net), write its pid and
//                                         a newline to FD, then THEN: "exit" exits 0,
//                                         "hang" blocks until killed
//   spawn_probe pgid FD                   write "PID PGID\n" to FD, then exit 0
//   spawn_probe image FD                  write "DUMPABLE READABLE EXE\n" to FD and exit 0:
//                                         PR_GET_DUMPABLE as exec left it, whether
//                                         /proc/self/exe opens for reading (1/0) and
//                                         where it points
#include "cellhub/transport/doorbell.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

namespace {

// Bounds how long a forgotten probe can linger if its test died without killing it.
constexpr unsigned safety_net_seconds = 60;

std::string open_fds() {
  std::set<int> fds;
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr)
    return "opendir failed";
  const int own = ::dirfd(dir); // the listing's own fd is not one the child inherited
  while (const dirent* entry = ::readdir(dir)) {
    const std::string_view name{entry->d_name};
    if (name == "." || name == "..")
      continue;
    const int fd = std::atoi(entry->d_name);
    if (fd != own)
      fds.insert(fd);
  }
  ::closedir(dir);
  std::string text;
  for (int fd : fds)
    text += (text.empty() ? "" : ",") + std::to_string(fd);
  return text;
}

int list_fds(int argc, char** argv) {
  if (argc < 3)
    return 64;
  const std::string seen = open_fds();
  std::fprintf(stderr, "spawn_probe: open fds %s\n", seen.c_str());
  if (argc > 3) {
    const std::string line = seen + "\n";
    if (::write(std::atoi(argv[3]), line.data(), line.size()) < 0)
      return 4;
  }
  return seen == argv[2] ? 0 : 3;
}

int check_env(int argc, char** argv) {
  if (argc < 4)
    return 64;
  const char* value = std::getenv(argv[2]);
  if (value == nullptr)
    return 1;
  return std::string_view{value} == argv[3] ? 0 : 2;
}

int check_signals() {
  sigset_t mask;
  if (::sigprocmask(SIG_SETMASK, nullptr, &mask) != 0)
    return 8;
  for (int sig = 1; sig < SIGRTMIN; ++sig)
    if (sigismember(&mask, sig) == 1)
      return 6;
  for (int sig : {SIGPIPE, SIGTERM, SIGINT}) {
    struct sigaction action {};
    if (::sigaction(sig, nullptr, &action) != 0 || action.sa_handler != SIG_DFL)
      return 7;
  }
  return 0;
}

int describe_image(int argc, char** argv) {
  if (argc < 3)
    return 64;
  // Before anything else: nothing in this program changes the flag exec set.
  const int dumpable = ::prctl(PR_GET_DUMPABLE);
  const int self = ::open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  const bool readable = self >= 0;
  if (readable)
    ::close(self);
  char exe[4096] = {};
  const ssize_t length = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  const std::string line = std::to_string(dumpable) + " " + (readable ? "1" : "0") + " " +
                           std::string(exe, length > 0 ? static_cast<std::size_t>(length) : 0) +
                           "\n";
  return ::write(std::atoi(argv[2]), line.data(), line.size()) == static_cast<ssize_t>(line.size())
             ? 0
             : 9;
}

int hang() {
  ::alarm(safety_net_seconds);
  for (;;)
    ::pause();
}

int ring() {
  ::alarm(safety_net_seconds);
  auto bell = cellhub::transport::doorbell::adopt(3);
  if (bell.signal() != cellhub::transport::signal_result::sent)
    return 5;
  while (bell.wait(std::chrono::nanoseconds{-1}) !=
         cellhub::transport::doorbell::wait_result::peer_dead)
    (void)bell.drain();
  return 0;
}

int start_grandchild(int argc, char** argv) {
  if (argc < 4)
    return 64;
  const int report = std::atoi(argv[2]);
  const pid_t pid = ::fork();
  if (pid < 0)
    return 9;
  if (pid == 0) {
    ::alarm(safety_net_seconds);
    for (;;)
      ::pause();
  }
  const std::string line = std::to_string(pid) + "\n";
  if (::write(report, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
    return 4;
  if (std::string_view{argv[3]} == "exit")
    return 0;
  return hang();
}

int report_group(int argc, char** argv) {
  if (argc < 3)
    return 64;
  const std::string line = std::to_string(::getpid()) + " " + std::to_string(::getpgrp()) + "\n";
  if (::write(std::atoi(argv[2]), line.data(), line.size()) != static_cast<ssize_t>(line.size()))
    return 4;
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 2)
    return 64;
  const std::string_view mode{argv[1]};
  if (mode == "fds")
    return list_fds(argc, argv);
  if (mode == "env")
    return check_env(argc, argv);
  if (mode == "signals")
    return check_signals();
  if (mode == "exit" && argc > 2)
    return std::atoi(argv[2]);
  if (mode == "hang")
    return hang();
  if (mode == "ring")
    return ring();
  if (mode == "grandchild")
    return start_grandchild(argc, argv);
  if (mode == "image")
    return describe_image(argc, argv);
  if (mode == "pgid")
    return report_group(argc, argv);
  return 64;
}
