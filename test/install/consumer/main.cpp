// Uses both installed layers: a transport error wrapped into a CAF error.
#include <cellhub/actors/error.hpp>
#include <cellhub/transport/error.hpp>

#include <caf/error.hpp>

#include <cstdio>

int main() {
  namespace tr = cellhub::transport;
  namespace ac = cellhub::actors;
  caf::error err = ac::make_error(tr::make_error(tr::errc::peer_dead, "peer 1"));
  if (!ac::is(err, ac::errc::transport_failure))
    return 1;
  std::printf("consumer: %s\n", std::string{tr::to_string(tr::errc::peer_dead)}.c_str());
  return 0;
}
