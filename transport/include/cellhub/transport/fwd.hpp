#pragma once

// Forward declarations of the transport layer's types, for headers that name them
// without needing their definitions (pointers, references, `std::shared_ptr`).

#include <cstdint>

/// Forward declarations of the transport layer's public types.
namespace cellhub::transport {

enum class errc : std::uint8_t;
struct error;

enum class death_cause : std::uint8_t;
enum class endpoint_side : std::uint8_t;
enum class hub_site_state : std::uint8_t;
enum class signal_result : std::uint8_t;
enum class stop_step : std::uint8_t;
enum class wait_outcome : std::uint8_t;

struct add_peer_options;
struct added_peer;
class cell;
struct cell_options;
struct cell_ticket;
class death_watch;
class doorbell;
class endpoint;
class epoll_set;
struct exit_status;
struct fd_event;
struct fd_limits;
struct hub_audit;
struct hub_config;
class hub_file;
struct hub_geometry;
class hub_host;
struct hub_peer_ticket;
struct hub_site;
struct incoming_message;
struct inherited_fd;
struct life_notice;
struct memory_budget;
class outgoing_payload;
class payload_lease;
struct peer_progress;
class peer_region;
class peer_transport;
class process;
struct slot_class;
class slot_pool;
struct spawn_identity;
struct spawn_options;
class stop_escalation;
struct watched_life;

template <class T>
class ring_consumer;
template <class T>
class ring_producer;

// Types private to the library (defined under transport/src/), named here because
// public classes hold pointers to them or befriend them; users never see them.

/// Keeps transports whose cells must be waited for until they die (`hub_host`).
class hub_keeper;

namespace detail {
/// Reaps the children of spawned processes (`process`).
class child_reaper;
} // namespace detail

} // namespace cellhub::transport
