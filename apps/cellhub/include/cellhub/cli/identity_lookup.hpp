#pragma once

// Who a cell runs as: the `user` and `group` keys of a [[cell]], resolved against the
// system's user and group databases (getpwnam_r, getgrnam_r, getgrouplist), and whether
// this process may start a cell as someone else.

#include "cellhub/transport/process.hpp"

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cellhub::cli {

/// Holds the largest user or group id a configuration may name: (uid_t)-1 means "no
/// change" to the kernel's set*id calls, so it names nobody.
inline constexpr std::int64_t max_account_id = 4294967294;

/// Describes a user as the user database gives it.
struct user_account {
  /// Holds the user id.
  uid_t uid = 0;
  /// Holds the login name; empty for an id the database does not know.
  std::string name;
  /// Holds the primary group; empty for an id the database does not know.
  std::optional<gid_t> primary_group;
};

/// Finds the user `text` names: a login name, or, when no user has that name and `text`
/// is all digits, a numeric id (which the database need not know). Returns nothing, and
/// says why in `problem`, for an unknown name, an id out of range or a failed lookup.
std::optional<user_account> find_user(std::string_view text, std::string& problem);

/// Finds the user with id `uid`; an id the database does not know is still a user, with
/// no name and no primary group. Returns nothing, and says why in `problem`, only when
/// the lookup itself fails.
std::optional<user_account> find_user(uid_t uid, std::string& problem);

/// Finds the group `text` names: a group name, or, when no group has that name and
/// `text` is all digits, a numeric id (which the database need not know). Returns
/// nothing, and says why in `problem`, for an unknown name, an id out of range or a
/// failed lookup.
std::optional<gid_t> find_group(std::string_view text, std::string& problem);

/// Returns the supplementary groups `account` runs with when `gid` is its group: `gid`
/// and every group of the group database that lists the user (getgrouplist), without
/// duplicates. A user the database does not know has none.
std::vector<gid_t> groups_of(const user_account& account, gid_t gid);

/// Renders a user id as "nobody (65534)", or "65534" when the database does not know it.
std::string describe_user(uid_t uid);

/// Renders a group id as "nogroup (65534)", or "65534" when the database does not know it.
std::string describe_group(gid_t gid);

/// Describes who this process is and whether it may start a cell as someone else.
struct host_identity {
  /// Holds the effective user id.
  uid_t uid = 0;
  /// Holds the effective group id.
  gid_t gid = 0;
  /// Holds the supplementary groups.
  std::vector<gid_t> groups;
  /// Tells whether the process may change a child's identity: it holds CAP_SETUID and
  /// CAP_SETGID in its effective set (root normally does).
  bool can_change = false;

  /// Returns who this process is now.
  static host_identity current();

  /// Tells whether a cell started as `identity` would run as this process runs already:
  /// the same user, the same group and the same groups (counting the group itself as one
  /// of the groups either way). Starting such a cell needs no privilege.
  [[nodiscard]] bool already_is(const transport::spawn_identity& identity) const;
};

} // namespace cellhub::cli
