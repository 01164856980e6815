#include "cellhub/cli/identity_lookup.hpp"

#include <fmt/format.h>

#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <set>
#include <vector>

namespace cellhub::cli {
namespace {

// The user and group databases can hold long entries (a group with many members); the
// buffer grows until the entry fits, up to this much.
constexpr std::size_t max_entry_buffer = std::size_t{1} << 20;

enum class found { yes, no, failed };

// Runs one getpw*_r / getgr*_r call, growing the buffer on ERANGE, and hands the entry to
// `take` (its strings point into the buffer, so `take` copies what it needs). The manual
// lists 0, ENOENT, ESRCH, EBADF and EPERM as the answers an NSS module may give for "no
// such entry"; anything else is a failed lookup (its errno in `error`).
template <class Entry, class Call, class Take>
found look_up(Call call, Take take, int& error) {
  Entry entry{};
  std::vector<char> buffer(1024);
  for (;;) {
    Entry* result = nullptr;
    const int rc = call(&entry, buffer.data(), buffer.size(), &result);
    if (rc == ERANGE && buffer.size() < max_entry_buffer) {
      buffer.resize(buffer.size() * 2);
      continue;
    }
    if (result != nullptr) {
      take(*result);
      return found::yes;
    }
    if (rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF || rc == EPERM)
      return found::no;
    error = rc;
    return found::failed;
  }
}

bool all_digits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Parses a whole decimal id within 0..max_account_id; nothing for anything else.
std::optional<std::uint32_t> parse_id(std::string_view text) {
  if (!all_digits(text))
    return std::nullopt;
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() ||
      value > static_cast<std::uint64_t>(max_account_id))
    return std::nullopt;
  return static_cast<std::uint32_t>(value);
}

template <class Call>
found user_entry(Call call, user_account& out, int& error) {
  return look_up<passwd>(
      call,
      [&out](const passwd& pw) {
        out = {pw.pw_uid, pw.pw_name, pw.pw_gid};
      },
      error);
}

found user_by_name(const std::string& name, user_account& out, int& error) {
  return user_entry(
      [&name](passwd* entry, char* buffer, std::size_t size, passwd** got) {
        return ::getpwnam_r(name.c_str(), entry, buffer, size, got);
      },
      out, error);
}

found user_by_id(uid_t uid, user_account& out, int& error) {
  return user_entry([uid](passwd* entry, char* buffer, std::size_t size,
                          passwd** got) { return ::getpwuid_r(uid, entry, buffer, size, got); },
                    out, error);
}

found group_by_name(const std::string& name, gid_t& out, int& error) {
  return look_up<group>(
      [&name](group* entry, char* buffer, std::size_t size, group** got) {
        return ::getgrnam_r(name.c_str(), entry, buffer, size, got);
      },
      [&out](const group& gr) { out = gr.gr_gid; }, error);
}

// Finds the name of a group id, or nothing when the database does not know it.
std::optional<std::string> group_name(gid_t gid) {
  std::string name;
  int error = 0;
  const auto result =
      look_up<group>([gid](group* entry, char* buffer, std::size_t size,
                           group** got) { return ::getgrgid_r(gid, entry, buffer, size, got); },
                     [&name](const group& gr) { name = gr.gr_name; }, error);
  if (result != found::yes)
    return std::nullopt;
  return name;
}

std::set<gid_t> with_group(const std::vector<gid_t>& groups, gid_t gid) {
  std::set<gid_t> out{groups.begin(), groups.end()};
  out.insert(gid);
  return out;
}

} // namespace

std::optional<user_account> find_user(std::string_view text, std::string& problem) {
  const std::string name{text};
  user_account account;
  int error = 0;
  switch (user_by_name(name, account, error)) {
  case found::yes:
    return account;
  case found::failed:
    problem = fmt::format("cannot look up user \"{}\": {}", name, std::strerror(error));
    return std::nullopt;
  case found::no:
    break;
  }
  // As chown(1) does: a name first, then a number.
  if (all_digits(text)) {
    if (const auto id = parse_id(text))
      return find_user(static_cast<uid_t>(*id), problem);
    problem = fmt::format("user id {} is out of range: ids go up to {}", name, max_account_id);
    return std::nullopt;
  }
  problem = fmt::format("unknown user \"{}\": the user database (getpwnam) has no such user", name);
  return std::nullopt;
}

std::optional<user_account> find_user(uid_t uid, std::string& problem) {
  user_account account;
  int error = 0;
  switch (user_by_id(uid, account, error)) {
  case found::yes:
    return account;
  case found::failed:
    problem = fmt::format("cannot look up user id {}: {}", uid, std::strerror(error));
    return std::nullopt;
  case found::no:
    break;
  }
  // An id without an entry is a user still (a container's or a sandbox's), as in chown.
  return user_account{uid, {}, std::nullopt};
}

std::optional<gid_t> find_group(std::string_view text, std::string& problem) {
  const std::string name{text};
  gid_t gid = 0;
  int error = 0;
  switch (group_by_name(name, gid, error)) {
  case found::yes:
    return gid;
  case found::failed:
    problem = fmt::format("cannot look up group \"{}\": {}", name, std::strerror(error));
    return std::nullopt;
  case found::no:
    break;
  }
  if (all_digits(text)) {
    if (const auto id = parse_id(text))
      return static_cast<gid_t>(*id);
    problem = fmt::format("group id {} is out of range: ids go up to {}", name, max_account_id);
    return std::nullopt;
  }
  problem =
      fmt::format("unknown group \"{}\": the group database (getgrnam) has no such group", name);
  return std::nullopt;
}

std::vector<gid_t> groups_of(const user_account& account, gid_t gid) {
  if (account.name.empty())
    return {};
  std::vector<gid_t> groups(32);
  for (;;) {
    int count = static_cast<int>(groups.size());
    if (::getgrouplist(account.name.c_str(), gid, groups.data(), &count) >= 0) {
      groups.resize(static_cast<std::size_t>(count));
      break;
    }
    // glibc sets `count` to the number needed; grow at least twice over in case it does not.
    groups.resize(std::max(static_cast<std::size_t>(count), groups.size() * 2));
  }
  std::vector<gid_t> out;
  for (const auto g : groups)
    if (std::find(out.begin(), out.end(), g) == out.end())
      out.push_back(g);
  return out;
}

std::string describe_user(uid_t uid) {
  std::string problem;
  const auto account = find_user(uid, problem);
  if (!account || account->name.empty())
    return std::to_string(uid);
  return fmt::format("{} ({})", account->name, uid);
}

std::string describe_group(gid_t gid) {
  if (const auto name = group_name(gid))
    return fmt::format("{} ({})", *name, gid);
  return std::to_string(gid);
}

host_identity host_identity::current() {
  host_identity out;
  out.uid = ::geteuid();
  out.gid = ::getegid();
  const int count = ::getgroups(0, nullptr);
  if (count > 0) {
    out.groups.resize(static_cast<std::size_t>(count));
    const int got = ::getgroups(count, out.groups.data());
    out.groups.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
  }
  // Capabilities rather than uid 0: root in a container may lack them, and a service
  // given only CAP_SETUID and CAP_SETGID has what a change of identity needs.
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
  if (::syscall(SYS_capget, &header, data) == 0) {
    const auto effective = data[0].effective;
    out.can_change = (effective & (1U << CAP_SETUID)) != 0 && (effective & (1U << CAP_SETGID)) != 0;
  }
  return out;
}

bool host_identity::already_is(const transport::spawn_identity& identity) const {
  return identity.uid == uid && identity.gid == gid &&
         with_group(identity.groups, identity.gid) == with_group(groups, gid);
}

} // namespace cellhub::cli
