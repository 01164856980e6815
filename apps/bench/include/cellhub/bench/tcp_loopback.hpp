#pragma once

// The cluster benchmark's baselines run over TCP on loopback, as the links between
// nodes do: a connected pair of sockets that speaks the socket baselines' frames.

#include "cellhub/bench/frame_socket.hpp"

#include <optional>
#include <utility>

namespace cellhub::bench {

/// Creates a connected pair of close-on-exec TCP sockets on 127.0.0.1 (an ephemeral
/// port, its listener closed once accepted), both with TCP_NODELAY: the connecting
/// end first, the accepted end second. Nothing when a step fails.
std::optional<std::pair<frame_socket, frame_socket>> tcp_loopback_pair();

} // namespace cellhub::bench
