#include "cellhub/remote/link_security.hpp"

#include "tls_middleman.hpp"

#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <fmt/format.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace cellhub::remote {
namespace {

bool is_loopback(const sockaddr* addr) {
  if (addr->sa_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(addr);
    return (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
  }
  if (addr->sa_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6*>(addr)->sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(&v6))
      return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

} // namespace

link_security link_security::tls(tls_credentials credentials, handshake_limits limits) {
  return link_security{std::move(credentials), limits};
}

link_security link_security::insecure() noexcept {
  return link_security{std::nullopt, handshake_limits{}};
}

void link_security::configure(caf::actor_system_config& cfg) const {
  cfg.load<caf::io::middleman>();
  if (credentials_)
    load_tls_module(cfg, *credentials_, limits_);
}

std::string link_security::describe() const {
  if (!credentials_)
    return "INSECURE: no TLS, no authentication";
  return fmt::format("mutual TLS, credentials in {}", credentials_->dir().string());
}

bool is_loopback(const std::string& host) {
  if (host.empty())
    return false;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0)
    return false;
  bool any = false;
  bool all = true;
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    any = true;
    all = all && is_loopback(a->ai_addr);
  }
  ::freeaddrinfo(found);
  return any && all;
}

result<void> check_link_address(const link_security& security, const std::string& host) {
  if (security.uses_tls() || is_loopback(host))
    return outcome::success();
  return make_error(errc::insecure_address,
                    fmt::format("refusing a link without TLS on '{}': only a loopback address "
                                "(127.0.0.1, ::1) may carry plain BASP, which authenticates "
                                "nobody; drop --insecure to use TLS (docs/remote.md)",
                                host.empty() ? std::string{"every interface"} : host));
}

} // namespace cellhub::remote
