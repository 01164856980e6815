#pragma once

// Giving up every capability, so that a process running as root becomes "a process of
// its user without privilege" for tests of the isolation between processes of one user.
//
// Two reasons the isolation tests need it when they run as root. Root with
// CAP_SYS_PTRACE (or CAP_DAC_OVERRIDE, CAP_CHECKPOINT_RESTORE, ...) may read any
// process's memory and descriptors: no isolation can stop it, so the attacker gives its
// capabilities up. And a process without capabilities may not ptrace-access (open
// /proc/PID/fd/*, mem, environ, pidfd_getfd, process_vm_readv) a process whose
// capabilities are not a subset of its own, whatever that process does: so the host and
// the neighbours give them up too, or a /proc attack would fail because of root's
// privileges rather than because of what the hub does.

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

namespace cellhub::test {

/// Tells whether the calling thread holds no capability (effective, permitted,
/// inheritable).
inline bool holds_no_capability() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  std::array<__user_cap_data_struct, _LINUX_CAPABILITY_U32S_3> data{};
  if (::syscall(SYS_capget, &header, data.data()) != 0)
    return false;
  for (const auto& word : data)
    if (word.effective != 0 || word.permitted != 0 || word.inheritable != 0)
      return false;
  return true;
}

/// Drops every capability: the bounding set (so that nothing executed afterwards, even
/// as root, gets one back), the ambient set, then the effective, permitted and
/// inheritable sets (raw capset, no libcap). Capabilities belong to each thread: call it
/// from the main thread (the one /proc/PID and pidfds name) before starting others,
/// which inherit the empty sets, as do the processes it starts. Returns an empty string
/// on success, else why it failed.
inline std::string drop_all_capabilities() {
  if (::gettid() != ::getpid())
    return "call it from the main thread";
  int last_cap = 63;
  if (std::ifstream in{"/proc/sys/kernel/cap_last_cap"}; in)
    in >> last_cap;
  for (int cap = 0; cap <= last_cap; ++cap)
    (void)::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0); // EPERM without CAP_SETPCAP: none to drop
  // A program root executes gets its bounding set back as capabilities.
  if (::geteuid() == 0)
    for (int cap = 0; cap <= last_cap; ++cap)
      if (::prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1)
        return "capability " + std::to_string(cap) +
               " stays in the bounding set, so what this process starts as root gets it back";
  (void)::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  std::array<__user_cap_data_struct, _LINUX_CAPABILITY_U32S_3> data{};
  if (::syscall(SYS_capset, &header, data.data()) != 0)
    return std::string{"capset: "} + std::strerror(errno);
  if (!holds_no_capability())
    return "capabilities are left after capset";
  return {};
}

} // namespace cellhub::test
