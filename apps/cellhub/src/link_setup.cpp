#include "cellhub/cli/link_setup.hpp"

#include "cellhub/cli/commands.hpp"

#include <cellhub/remote/link.hpp>

#include <caf/actor.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>

namespace cellhub::cli {

remote::result<std::string> tls_dir_of(const link_options& options) {
  if (!options.tls_dir.empty())
    return options.tls_dir;
  if (const char* env = std::getenv("CELLHUB_TLS_DIR"); env != nullptr && env[0] != '\0')
    return std::string{env};
  auto dir = remote::tls_credentials::default_dir();
  if (!dir)
    return dir.error();
  return dir.value().string();
}

std::variant<remote::link_security, int>
make_link_security(const link_options& options, const std::string& address, link_role role) {
  if (options.insecure) {
    if (!options.tls_dir.empty()) {
      std::fprintf(stderr, "cellhub: --insecure and --tls-dir exclude each other\n");
      return exit_bad_usage;
    }
    auto security = remote::link_security::insecure();
    if (auto ok = remote::check_link_address(security, address); !ok) {
      std::fprintf(stderr, "cellhub: %s\n", ok.error().message().c_str());
      return exit_bad_usage;
    }
    return security;
  }
  auto dir = tls_dir_of(options);
  if (!dir) {
    std::fprintf(stderr, "cellhub: %s\n", dir.error().message().c_str());
    return exit_runtime_error;
  }
  auto credentials = remote::tls_credentials::load(dir.value(), role == link_role::listen
                                                                    ? remote::on_missing::generate
                                                                    : remote::on_missing::fail);
  if (!credentials) {
    std::fprintf(stderr, "cellhub: %s\n", credentials.error().message().c_str());
    return exit_runtime_error;
  }
  if (credentials.value().generated())
    std::fprintf(stderr,
                 "cellhub: generated TLS credentials in '%s': a new CA and a certificate for "
                 "this user (docs/remote.md shows how to let other hosts and users in)\n",
                 dir.value().c_str());
  return remote::link_security::tls(std::move(credentials).value(), control_limits);
}

std::optional<std::uint16_t> publish_control(caf::actor_system& sys, const console_actor& console,
                                             const std::string& address, std::uint16_t port,
                                             const remote::link_security& security) {
  auto bound = remote::publish(sys, console, address, port, security);
  if (!bound) {
    std::fprintf(stderr, "cellhub: %s\n", bound.error().message().c_str());
    return std::nullopt;
  }
  // [::1]:4242, as --connect takes it.
  const auto where = address.find(':') != std::string::npos
                         ? fmt::format("[{}]:{}", address, bound.value())
                         : fmt::format("{}:{}", address, bound.value());
  if (security.uses_tls())
    std::fprintf(stderr, "cellhub: control listening on %s (%s)\n", where.c_str(),
                 security.describe().c_str());
  else
    std::fprintf(stderr,
                 "cellhub: control listening on %s (%s: any process of any user on this "
                 "machine can stop it)\n",
                 where.c_str(), security.describe().c_str());
  return bound.value();
}

} // namespace cellhub::cli
