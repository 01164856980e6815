#pragma once

#include "cellhub/cli/console.hpp"
#include "cellhub/cli/link_options.hpp"

#include <cellhub/remote/link_security.hpp>

#include <caf/fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

namespace cellhub::cli {

/// Holds the bounds on the control port's TLS handshakes (the remote layer's defaults);
/// `run --listen` keeps `control_limits.listener_fds()` fds for the port.
inline constexpr remote::handshake_limits control_limits{};

/// Names which end of the control link a command is.
enum class link_role {
  /// `cellhub run --listen`: generates missing credentials (zero set-up).
  listen,
  /// `cellhub status|restart|stop`: reads existing credentials only.
  connect,
};

/// Returns the TLS directory `options` ask for: `--tls-dir`, else `$CELLHUB_TLS_DIR`,
/// else the default; fails (with the reason) when no home directory is known.
remote::result<std::string> tls_dir_of(const link_options& options);

/// Builds the security of the control link to or on `address` before the actor system
/// exists: loads (for `listen`, generates on first use) the TLS credentials, or checks
/// that `--insecure` stays on loopback. Prints why not to stderr and returns the exit
/// code (2 for a refused combination of flags, 1 for unusable credentials) on failure.
std::variant<remote::link_security, int>
make_link_security(const link_options& options, const std::string& address, link_role role);

/// Publishes the control actor `console` on `address:port` with `security` and says on
/// stderr where it listens and how it is protected; returns the bound port, or prints
/// why not and returns nothing.
std::optional<std::uint16_t> publish_control(caf::actor_system& sys, const console_actor& console,
                                             const std::string& address, std::uint16_t port,
                                             const remote::link_security& security);

} // namespace cellhub::cli
