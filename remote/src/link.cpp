#include "cellhub/remote/link.hpp"

#include "cellhub/remote/link_security.hpp"
#include "tls_middleman.hpp"

#include <caf/actor_system.hpp>
#include <caf/function_view.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/sec.hpp>
#include <fmt/format.h>

namespace cellhub::remote {
namespace {

std::string endpoint_text(const std::string& host, std::uint16_t port) {
  return host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port)
                                             : fmt::format("{}:{}", host, port);
}

std::string duration_text(std::chrono::nanoseconds d) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  return ms % 1000 == 0 ? fmt::format("{}s", ms / 1000) : fmt::format("{}ms", ms);
}

// Returns the first text in `err`'s context (CAF 0.17 puts "no such host" or
// "ip_connect failed" there), or nothing.
std::string context_text(const caf::error& err) {
  const auto& ctx = err.context();
  if (ctx.size() > 0 && ctx.match_element<std::string>(0))
    return ctx.get_as<std::string>(0);
  return {};
}

// Turns what CAF answered a failed connect with into a sentence for a person.
error connect_error(caf::actor_system& sys, const caf::error& err, const std::string& where,
                    std::chrono::nanoseconds timeout, const link_security& security) {
  if (err == caf::sec::request_timeout)
    return make_error(errc::timeout,
                      fmt::format("no answer from {} within {}", where, duration_text(timeout)));
  const auto context = context_text(err);
  if (err == caf::sec::cannot_connect_to_node && context == "no such host")
    return make_error(errc::connect_failed,
                      fmt::format("cannot connect to {}: no such host", where));
  if (err == caf::sec::cannot_connect_to_node && context == "ip_connect failed")
    return make_error(errc::connect_failed,
                      fmt::format("cannot connect to {}: refused or unreachable (does "
                                  "`cellhub run --listen` run there?)",
                                  where));
  // The TCP connection stood, and the handshake ended it: the TLS module fails at
  // once when the first bytes it reads are not TLS (cannot_connect_to_node with no
  // context), or later, when the peer rejects a certificate.
  const bool handshake = err == caf::sec::disconnect_during_handshake ||
                         (err == caf::sec::cannot_connect_to_node && context.empty());
  if (handshake && security.uses_tls())
    return make_error(errc::connect_failed,
                      fmt::format("{} ended the TLS handshake (is it a cellhub control port? "
                                  "Each side needs a certificate signed by the CA the other "
                                  "trusts, and a host run with --insecure speaks no TLS: "
                                  "docs/remote.md)",
                                  where));
  if (handshake)
    return make_error(errc::connect_failed,
                      fmt::format("{} closed the connection during the handshake (a host that "
                                  "uses TLS refuses plain clients: drop --insecure)",
                                  where));
  return make_error(errc::connect_failed,
                    fmt::format("cannot connect to {}: {}", where, sys.render(err)));
}

// Returns the middleman actor that opens links of `security`: cellhub's TLS module's
// (never CAF's plain one, which would accept unauthenticated peers on the same
// system), or CAF's for plain links.
result<caf::io::middleman_actor> link_manager(caf::actor_system& sys,
                                              const link_security& security) {
  if (!security.uses_tls())
    return sys.middleman().actor_handle();
  auto manager = tls_middleman(sys);
  if (!manager)
    return make_error(errc::listen_failed, "the actor system has no TLS module: call "
                                           "link_security::configure before building it");
  return manager;
}

} // namespace

result<std::uint16_t> publish_actor(caf::actor_system& sys, caf::strong_actor_ptr whom,
                                    std::set<std::string> interface, const std::string& address,
                                    std::uint16_t port, const link_security& security) {
  if (auto ok = check_link_address(security, address); !ok)
    return ok.error();
  auto manager = link_manager(sys, security);
  if (!manager)
    return manager.error();
  // What caf::io::publish and caf::openssl::publish send the middleman actor.
  caf::expected<std::uint16_t> bound = caf::sec::cannot_publish_invalid_actor;
  if (whom)
    bound = caf::make_function_view(manager.value())(caf::publish_atom_v, port, std::move(whom),
                                                     std::move(interface), address, true);
  if (!bound)
    return make_error(errc::listen_failed,
                      fmt::format("cannot listen on {}: {}", endpoint_text(address, port),
                                  sys.render(bound.error())));
  return *bound;
}

result<caf::strong_actor_ptr> connect_actor(caf::actor_system& sys, const std::string& host,
                                            std::uint16_t port, std::chrono::nanoseconds timeout,
                                            const link_security& security,
                                            const std::set<std::string>& expected) {
  if (auto ok = check_link_address(security, host); !ok)
    return ok.error();
  // What caf::io::remote_actor and caf::openssl::remote_actor do, but with a
  // deadline: they wait for the middleman actor without one, and a server that
  // never speaks (or never finishes the TLS handshake) would hold them forever.
  auto found = link_manager(sys, security);
  if (!found)
    return make_error(errc::connect_failed, found.error().detail);
  const auto& manager = found.value();
  const auto where = endpoint_text(host, port);
  result<caf::strong_actor_ptr> outcome_value = make_error(errc::connect_failed, "no answer");
  caf::scoped_actor self{sys};
  self->request(manager, std::chrono::duration_cast<caf::timespan>(timeout), caf::connect_atom_v,
                host, port)
      .receive(
          [&](const caf::node_id&, caf::strong_actor_ptr& ptr, const std::set<std::string>& ifs) {
            if (!ptr) {
              outcome_value =
                  make_error(errc::connect_failed, fmt::format("{} publishes no actor", where));
              return;
            }
            if (!sys.assignable(ifs, expected)) {
              outcome_value =
                  make_error(errc::connect_failed,
                             fmt::format("{} publishes an actor of another type", where));
              return;
            }
            outcome_value = std::move(ptr);
          },
          [&](const caf::error& err) {
            outcome_value = connect_error(sys, err, where, timeout, security);
          });
  return outcome_value;
}

} // namespace cellhub::remote
