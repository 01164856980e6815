#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace cellhub::cli {

/// Holds how the control link is secured: `--insecure` and `--tls-dir`.
struct link_options {
  /// Uses plain BASP without TLS (`--insecure`); refused on non-loopback addresses.
  bool insecure = false;
  /// Names the TLS directory given with `--tls-dir`; empty: `$CELLHUB_TLS_DIR`, else
  /// `$XDG_CONFIG_HOME/cellhub/tls` or `~/.config/cellhub/tls`.
  std::string tls_dir;
};

/// Holds the options of `cellhub status|restart|stop`.
struct remote_options {
  /// Names the control port as `HOST:PORT`.
  std::string endpoint;
  /// Bounds connecting (TCP, TLS and CAF's handshake) and, separately, waiting for
  /// the answer (`--timeout`); unset: 5s each, but 30s for the answer to `restart`,
  /// which waits for the cell to stop gracefully and start again.
  std::optional<std::chrono::nanoseconds> timeout;
  /// Prints JSON instead of a table or a sentence.
  bool json = false;
  /// Secures the link.
  link_options link;
};

} // namespace cellhub::cli
