// identity_cell — a cell that reports who it runs as and what that lets it do to others,
// for the tests of cells that run as a user of their own. It attaches from its ticket and
// answers each request, whose payload is "PID PATH", with one line:
//
//   uid=U gid=G groups=A,B kill_host=E kill_pid=E open=E
//
// uid, gid and groups are its effective ids; kill_host is what kill(getppid(), 0) gave
// (its parent is the host), kill_pid what kill(PID, 0) gave, open what open(PATH, O_RDONLY)
// gave: "ok" or the errno's name ("EPERM", "EACCES", ...). A PID of 0 or an empty PATH
// skips that probe ("-"). It answers a host goodbye with a goodbye and exits 0, exits 0
// when the host hangs up and 2 when attaching fails.
#include "cellhub/transport/cell.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace tr = cellhub::transport;
namespace shm = cellhub::transport::shm;

namespace {

std::string outcome(int rc) {
  if (rc == 0)
    return "ok";
  const int error = errno;
  const char* name = ::strerrorname_np(error);
  return name != nullptr ? name : std::to_string(error);
}

std::string report(std::string_view request) {
  const std::string text{request};
  const auto space = text.find(' ');
  const long pid = std::strtol(text.substr(0, space).c_str(), nullptr, 10);
  const std::string path = space == std::string::npos ? std::string{} : text.substr(space + 1);

  std::string groups;
  std::vector<gid_t> list(static_cast<std::size_t>(std::max(::getgroups(0, nullptr), 0)));
  const int count = ::getgroups(static_cast<int>(list.size()), list.data());
  for (int i = 0; i < count; ++i)
    groups += (i == 0 ? "" : ",") + std::to_string(list[static_cast<std::size_t>(i)]);

  std::string out = "uid=" + std::to_string(::geteuid()) + " gid=" + std::to_string(::getegid()) +
                    " groups=" + groups;
  out += " kill_host=" + outcome(::kill(::getppid(), 0));
  out += " kill_pid=" + (pid > 0 ? outcome(::kill(static_cast<pid_t>(pid), 0)) : "-");
  if (path.empty()) {
    out += " open=-";
  } else {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    out += " open=" + outcome(fd < 0 ? -1 : 0);
    if (fd >= 0)
      ::close(fd);
  }
  return out;
}

int serve(tr::cell& self) {
  for (;;) {
    auto next = self.receive(std::chrono::seconds{10});
    if (!next) {
      if (next.error().code == tr::errc::timeout)
        continue;
      return next.error().code == tr::errc::peer_dead ? 0 : 3;
    }
    auto& msg = next.value();
    if (msg.kind == shm::message_kind::goodbye) {
      (void)self.goodbye();
      return 0;
    }
    if (msg.kind != shm::message_kind::request)
      continue;
    const auto bytes = msg.payload.bytes();
    const auto answer = report({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
    msg.payload.release();
    auto reply = self.prepare(answer.size());
    if (!reply)
      return 5;
    std::memcpy(reply.value().bytes().data(), answer.data(), answer.size());
    auto sent = self.commit(reply.value(), shm::message_kind::reply, msg.msg_id, 0);
    if (!sent)
      return sent.error().code == tr::errc::peer_dead ? 0 : 6;
  }
}

} // namespace

int main(int argc, char** argv) {
  auto attached = tr::cell::attach(argc, argv);
  if (!attached) {
    std::fprintf(stderr, "identity_cell: %s\n", attached.error().message().c_str());
    return 2;
  }
  return serve(attached.value());
}
