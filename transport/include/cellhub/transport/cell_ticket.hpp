#pragma once

#include "cellhub/transport/result.hpp"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace cellhub::transport {

/// Names what a cell needs to attach to its hub: where the hub is, which peer entry
/// and life it was given, the token proving it, and its doorbell's fd number.
/// It travels as `--hub-path= --peer-id= --incarnation= --attach-token= --doorbell-fd=`
/// arguments or as `CELLHUB_*` environment variables.
struct cell_ticket {
  /// Holds the hub file's path.
  std::string hub_path;
  /// Holds the peer entry's index.
  std::uint16_t peer_id = 0;
  /// Holds the life of the entry this ticket is for.
  std::uint32_t incarnation = 0;
  /// Holds the random token the entry expects.
  std::uint64_t attach_token = 0;
  /// Holds the doorbell's fd number inside the cell.
  int doorbell_fd = -1;

  /// Returns the ticket as command-line arguments (`--key=value`).
  [[nodiscard]] std::vector<std::string> to_arguments() const;

  /// Returns the ticket as `CELLHUB_*` environment variables.
  [[nodiscard]] std::vector<std::pair<std::string, std::string>> to_environment() const;

  /// Reads a ticket from `--key=value` or `--key value` arguments, ignoring any
  /// other argument; `bad_ticket` names what is missing or malformed.
  static result<cell_ticket> from_arguments(int argc, const char* const* argv);

  /// Reads a ticket from `CELLHUB_HUB_PATH`, `CELLHUB_PEER_ID`, `CELLHUB_INCARNATION`,
  /// `CELLHUB_ATTACH_TOKEN` and `CELLHUB_DOORBELL_FD`.
  static result<cell_ticket> from_environment();

  /// Reads the ticket from the arguments if they carry `--hub-path`, else from the
  /// environment.
  static result<cell_ticket> from_arguments_or_environment(int argc, const char* const* argv);
};

} // namespace cellhub::transport
