#pragma once

#include <array>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>

namespace cellhub::transport {

/// Lists every way a transport call can fail; the transport never throws across its API.
enum class errc : std::uint8_t {
  /// Reports a system call that failed; `error::sys_errno` holds the errno.
  io_error,
  /// Reports a hub file whose lock is held by a live host.
  hub_in_use,
  /// Reports a hub file that does not start with the cellhub magic.
  bad_magic,
  /// Reports a hub file written by an incompatible major layout version.
  version_mismatch,
  /// Reports a hub header whose sizes or offsets do not describe the file.
  bad_layout,
  /// Reports a configuration value out of range (for example zero peers).
  invalid_config,
  /// Reports an argument a caller passed that cannot be used.
  invalid_argument,
  /// Reports that every peer entry of the hub is in use.
  no_free_peer,
  /// Reports an attach with a peer id outside the table.
  unknown_peer,
  /// Reports an attach with an incarnation that is not the entry's current one.
  stale_incarnation,
  /// Reports an attach with a token that does not match the entry's.
  bad_token,
  /// Reports an attach to an entry that is not waiting for a cell.
  not_reserved,
  /// Reports a transport whose peer has died; no further traffic is possible.
  peer_dead,
  /// Reports a transport that was closed locally.
  closed,
  /// Reports a ring with no room for another descriptor (back-pressure).
  ring_full,
  /// Reports a size class with no free slot (back-pressure).
  no_slot,
  /// Reports a payload larger than the largest slot class.
  payload_too_large,
  /// Reports shared-memory content from a peer that breaks the protocol.
  protocol_violation,
  /// Reports a wait that reached its deadline.
  timeout,
  /// Reports a child process that could not be started.
  spawn_failed,
  /// Reports a missing or malformed attach ticket (argv or environment).
  bad_ticket,
  /// Reports a hub path taken by something that is not provably a stale cellhub hub
  /// (another file, a directory, a FIFO, a symbolic link, another user's file); it is
  /// left untouched.
  path_occupied,
  /// Reports a filesystem without room for the hub; the detail gives the bytes needed
  /// and the bytes free.
  no_space,
};

/// Holds every `errc` value once, in declaration order.
inline constexpr std::array all_errcs = {
    errc::io_error,          errc::hub_in_use,
    errc::bad_magic,         errc::version_mismatch,
    errc::bad_layout,        errc::invalid_config,
    errc::invalid_argument,  errc::no_free_peer,
    errc::unknown_peer,      errc::stale_incarnation,
    errc::bad_token,         errc::not_reserved,
    errc::peer_dead,         errc::closed,
    errc::ring_full,         errc::no_slot,
    errc::payload_too_large, errc::protocol_violation,
    errc::timeout,           errc::spawn_failed,
    errc::bad_ticket,        errc::path_occupied,
    errc::no_space,
};

/// Returns the stable snake_case name of `code`.
std::string_view to_string(errc code) noexcept;

/// Writes the name of `code` to `out`.
std::ostream& operator<<(std::ostream& out, errc code);

/// Describes one failure: what kind, a human-readable detail and the errno if any.
struct error {
  /// Names the kind of failure.
  errc code = errc::io_error;
  /// Explains the failure for a person (path, ids, values seen). Empty for routine
  /// back-pressure (`ring_full`, `no_slot`), which must not allocate.
  std::string detail;
  /// Holds the errno of a failed system call, or 0.
  int sys_errno = 0;

  /// Renders the error as `code: detail (strerror)`; an empty detail of a
  /// back-pressure code is rendered as a fixed explanation.
  [[nodiscard]] std::string message() const;
};

/// Builds an error of kind `code` with a detail text.
error make_error(errc code, std::string detail);

/// Builds an `io_error` from the current `errno`, naming the failed operation.
error make_sys_error(std::string what);

/// Builds an `io_error` from an explicit errno value.
error make_sys_error(std::string what, int err);

} // namespace cellhub::transport
