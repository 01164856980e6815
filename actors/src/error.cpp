#include "cellhub/actors/error.hpp"

#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>

#include <ostream>

namespace cellhub::actors {

std::string_view to_string(errc code) noexcept {
  switch (code) {
  case errc::cell_died:
    return "cell_died";
  case errc::start_failed:
    return "start_failed";
  case errc::hung:
    return "hung";
  case errc::protocol_violation:
    return "protocol_violation";
  case errc::stale_peer:
    return "stale_peer";
  case errc::unknown_name:
    return "unknown_name";
  case errc::restarting:
    return "restarting";
  case errc::hold_buffer_full:
    return "hold_buffer_full";
  case errc::reached_max_restart_intensity:
    return "reached_max_restart_intensity";
  case errc::quarantined:
    return "quarantined";
  case errc::unknown_child:
    return "unknown_child";
  case errc::already_present:
    return "already_present";
  case errc::running:
    return "running";
  case errc::simple_one_for_one:
    return "simple_one_for_one";
  case errc::invalid_spec:
    return "invalid_spec";
  case errc::request_timeout:
    return "request_timeout";
  case errc::transport_failure:
    return "transport_failure";
  case errc::crashed:
    return "crashed";
  case errc::cell_error:
    return "cell_error";
  case errc::overloaded:
    return "overloaded";
  case errc::fd_limit:
    return "fd_limit";
  case errc::shutting_down:
    return "shutting_down";
  case errc::not_a_pool:
    return "not_a_pool";
  case errc::node_down:
    return "node_down";
  case errc::unknown_node:
    return "unknown_node";
  case errc::ambiguous_name:
    return "ambiguous_name";
  }
  return "unknown";
}

std::ostream& operator<<(std::ostream& out, errc code) {
  return out << to_string(code);
}

caf::atom_value error_category() noexcept {
  return caf::atom("cellhub");
}

caf::error make_error(errc code) {
  return caf::error{static_cast<std::uint8_t>(code), error_category()};
}

caf::error make_error(errc code, std::string context) {
  return caf::error{static_cast<std::uint8_t>(code), error_category(),
                    caf::make_message(std::move(context))};
}

caf::error make_error(const transport::error& err) {
  return make_error(errc::transport_failure, err.message());
}

bool is(const caf::error& err, errc code) noexcept {
  // CAF 0.17 dereferences null when asked for the category of an empty error.
  return err && err.category() == error_category() && err.code() == static_cast<std::uint8_t>(code);
}

void add_error_category(caf::actor_system_config& cfg) {
  cfg.add_error_category(error_category(),
                         [](std::uint8_t value, caf::atom_value, const caf::message& context) {
                           std::string text = "cellhub: ";
                           text += to_string(static_cast<errc>(value));
                           if (context.size() == 1 && context.match_element<std::string>(0))
                             text += " (" + context.get_as<std::string>(0) + ")";
                           else if (!context.empty())
                             text += " " + caf::to_string(context);
                           return text;
                         });
}

} // namespace cellhub::actors
