#pragma once

// Forward declarations of the actor layer's types, for headers that name them
// without needing their definitions (pointers, references, `std::shared_ptr`).

#include <cstdint>

/// Forward declarations of the actor layer's public types.
namespace cellhub::actors {

enum class errc : std::uint8_t;

enum class child_state : std::uint8_t;
enum class ending : std::uint8_t;
enum class event_kind : std::uint8_t;
enum class intensity_action : std::uint8_t;
enum class restart_delivery : std::uint8_t;
enum class restart_strategy : std::uint8_t;
enum class restart_type : std::uint8_t;

class backoff;
struct bind_request;
struct backoff_config;
class cell_lane;
struct cell_life;
struct cell_message;
struct cell_spec;
struct child_counts;
struct child_info;
struct child_ready;
struct child_spec;
struct child_started;
struct doorbell_rang;
struct fd_budget;
class hang_detector;
struct lane_handle;
struct life_end;
struct lifecycle_event;
class payload;
struct peer_config;
struct peer_dead;
struct registry_entry;
struct registry_state;
struct remapped;
struct retired_life;
struct spawn_done;
struct spawn_job;
class restart_intensity;
struct supervised_child;
struct supervision_command;
class supervision_core;
class supervision_tree;
struct supervisor_spec;
struct tree_context;
struct tree_options;
struct unbind_request;
struct unwatch_request;
struct watch_request;

} // namespace cellhub::actors
