// Links through cellhub's TLS module, in one process with real sockets: what a TLS
// client sees of a published actor depending on its certificate and protocol
// version (probed with OpenSSL directly, so that the client does not check the
// host and only the host's checks decide), and the handshake limits working
// inside CAF's middleman.
#include "loopback.hpp"
#include "scratch_dir.hpp"
#include "tls_dir.hpp"

#include "cellhub/remote/handshake_limits.hpp"
#include "cellhub/remote/link.hpp"
#include "cellhub/remote/link_security.hpp"
#include "cellhub/remote/tls_credentials.hpp"

#include <boost/test/unit_test.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <array>
#include <chrono>
#include <filesystem>
#include <memory>
#include <netinet/in.h>
#include <optional>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

namespace rm = cellhub::remote;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// Generous: nothing below waits for a deadline longer than a second.
constexpr auto hang_guard = 30s;

// A directory of its own for one test (mode 0700), removed afterwards.
struct scratch : cellhub::test::scratch_dir {
  scratch()
      : scratch_dir{"cellhub-link"} {}
};

using cellhub::test::generate_tls_credentials;

// (An argument: CAF 0.17 spawning a function without any trips UBSan.)
caf::behavior add(int n) {
  return {[n](int x) { return x + n; }};
}

// One actor system whose links use `security`.
struct node {
  caf::actor_system_config cfg;
  std::optional<caf::actor_system> sys;
  explicit node(const rm::link_security& security) {
    security.configure(cfg);
    sys.emplace(cfg);
  }
};

// A node that publishes an actor answering x with x + 1 on a loopback port.
struct server {
  rm::link_security security;
  node host;
  caf::actor worker;
  std::uint16_t port = 0;
  explicit server(rm::link_security s)
      : security{std::move(s)}
      , host{security} {
    worker = host.sys->spawn(add, 1);
    auto bound = rm::publish(*host.sys, worker, "127.0.0.1", 0, security);
    BOOST_TEST_REQUIRE(bound.has_value(), (bound ? "" : bound.error().message()));
    port = bound.value();
  }
  ~server() { caf::anon_send_exit(worker, caf::exit_reason::user_shutdown); }
};

int connect_tcp(std::uint16_t port) {
  const int fd = cellhub::test::connect_loopback(port);
  // A hang guard for the blocking OpenSSL calls below.
  timeval limit{static_cast<time_t>(hang_guard.count()), 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
  return fd;
}

// Tells whether the peer closes `fd`, waiting at most `limit`.
bool closed_by_peer(int fd, std::chrono::milliseconds limit) {
  pollfd pfd{fd, POLLIN, 0};
  if (::poll(&pfd, 1, static_cast<int>(limit.count())) != 1)
    return false;
  char byte = 0;
  return ::recv(fd, &byte, 1, MSG_DONTWAIT) == 0;
}

// What a TLS client that trusts any host saw.
struct probe_result {
  bool handshake = false; // SSL_connect succeeded on the client's side
  std::size_t bytes = 0;  // bytes of the host's BASP handshake it then read
  std::string reason;     // why OpenSSL failed, if it did
};

// Connects to `port` as a TLS client with the given certificate (none if empty)
// and protocol versions, and reads what the host sends after the handshake.
probe_result probe(std::uint16_t port, const fs::path& tls_dir, int min_version, int max_version) {
  probe_result result;
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx{SSL_CTX_new(TLS_client_method()),
                                                        SSL_CTX_free};
  BOOST_TEST_REQUIRE(ctx != nullptr);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  // Level 0 lets this client offer what the host must refuse by itself.
  SSL_CTX_set_security_level(ctx.get(), 0);
  SSL_CTX_set_min_proto_version(ctx.get(), min_version);
  SSL_CTX_set_max_proto_version(ctx.get(), max_version);
  if (!tls_dir.empty()) {
    BOOST_TEST_REQUIRE(
        SSL_CTX_use_certificate_chain_file(ctx.get(), (tls_dir / "cert.pem").c_str()) == 1);
    BOOST_TEST_REQUIRE(SSL_CTX_use_PrivateKey_file(ctx.get(), (tls_dir / "key.pem").c_str(),
                                                   SSL_FILETYPE_PEM) == 1);
  }
  const int fd = connect_tcp(port);
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl{SSL_new(ctx.get()), SSL_free};
  SSL_set_fd(ssl.get(), fd);
  ERR_clear_error();
  auto why = [] {
    std::array<char, 256> text{};
    ERR_error_string_n(ERR_get_error(), text.data(), text.size());
    return std::string{text.data()};
  };
  if (SSL_connect(ssl.get()) == 1) {
    result.handshake = true;
    std::array<char, 256> buffer{};
    const int n = SSL_read(ssl.get(), buffer.data(), static_cast<int>(buffer.size()));
    if (n > 0)
      result.bytes = static_cast<std::size_t>(n);
    else
      result.reason = why();
  } else {
    result.reason = why();
  }
  ssl.reset();
  ::close(fd);
  return result;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_SUITE(tls_link)

BOOST_AUTO_TEST_CASE(client_with_a_certificate_of_the_ca_is_served_over_tls_1_2_and_1_3) {
  scratch tmp;
  const auto host_dir = tmp.dir / "host";
  server s{rm::link_security::tls(generate_tls_credentials(host_dir))};
  for (const int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    const auto seen = probe(s.port, host_dir, version, version);
    BOOST_TEST(seen.handshake, version << ": " << seen.reason);
    BOOST_TEST(seen.bytes > 0u, version << ": " << seen.reason); // BASP's server handshake
  }
}

BOOST_AUTO_TEST_CASE(client_without_a_certificate_or_with_one_of_another_ca_gets_no_byte) {
  scratch tmp;
  const auto host_dir = tmp.dir / "host";
  const auto foreign_dir = tmp.dir / "foreign";
  generate_tls_credentials(foreign_dir);
  server s{rm::link_security::tls(generate_tls_credentials(host_dir))};
  for (const int version : {TLS1_2_VERSION, TLS1_3_VERSION})
    for (const auto& dir : {fs::path{}, foreign_dir}) {
      // The host's alert ends the handshake (TLS 1.2) or comes instead of the
      // first byte (a TLS 1.3 client is done before the host has checked it).
      const auto seen = probe(s.port, dir, version, version);
      BOOST_TEST(seen.bytes == 0u, version << " " << dir);
      BOOST_TEST(contains(seen.reason, "alert"), version << " " << dir << ": " << seen.reason);
    }
  // The host goes on serving.
  BOOST_TEST(probe(s.port, host_dir, TLS1_3_VERSION, TLS1_3_VERSION).bytes > 0u);
}

BOOST_AUTO_TEST_CASE(client_offering_only_tls_1_1_is_refused) {
  scratch tmp;
  const auto host_dir = tmp.dir / "host";
  server s{rm::link_security::tls(generate_tls_credentials(host_dir))};
  const auto seen = probe(s.port, host_dir, TLS1_VERSION, TLS1_1_VERSION);
  BOOST_TEST(!seen.handshake);
  BOOST_TEST(seen.bytes == 0u);
  BOOST_TEST(contains(seen.reason, "alert protocol version"), seen.reason); // the host's
}

BOOST_AUTO_TEST_CASE(full_handshake_table_makes_room_for_a_new_client_by_closing_the_oldest) {
  scratch tmp;
  const auto host_dir = tmp.dir / "host";
  const auto client_dir = tmp.dir / "client";
  auto host_creds = generate_tls_credentials(host_dir);
  server s{rm::link_security::tls(host_creds, {.max_pending = 2, .deadline = 1h})};
  // Two silent clients fill the table; the host accepts in order, so both are in
  // it before the client below comes.
  const int oldest = connect_tcp(s.port);
  const int newer = connect_tcp(s.port);
  // A client with the CA's certificate (the host's own credentials serve).
  const auto client_security = rm::link_security::tls(host_creds);
  node client{client_security};
  auto peer = rm::connect(*client.sys, "127.0.0.1", s.port, hang_guard, client_security);
  BOOST_TEST_REQUIRE(peer.has_value(), (peer ? "" : peer.error().message()));
  caf::scoped_actor self{*client.sys};
  int answer = 0;
  self->request(peer.value(), caf::timespan{hang_guard}, 41)
      .receive([&](int y) { answer = y; },
               [&](const caf::error& err) { BOOST_FAIL(client.sys->render(err)); });
  BOOST_TEST(answer == 42);
  // The host closes the oldest as it takes the new client in; the close may reach this
  // side after the new client's first answer, so wait for it (bounded).
  BOOST_TEST(closed_by_peer(oldest, 30s));
  BOOST_TEST(!closed_by_peer(newer, 0ms));
  ::close(oldest);
  ::close(newer);
}

BOOST_AUTO_TEST_CASE(connect_checks_the_published_interface_against_the_expected_handle) {
  // The typed interface of an adder, and a typed adder to publish.
  using adder = caf::typed_actor<caf::replies_to<int>::with<int>>;
  using other = caf::typed_actor<caf::replies_to<std::string>::with<int>>;
  const auto security = rm::link_security::insecure();
  node host{security};
  auto typed = host.sys->spawn(
      [](int n) -> adder::behavior_type { return {[n](int x) { return x + n; }}; }, 1);
  auto bound = rm::publish(*host.sys, typed, "127.0.0.1", 0, security);
  BOOST_TEST_REQUIRE(bound.has_value(), (bound ? "" : bound.error().message()));
  node client{security};
  auto right = rm::connect<adder>(*client.sys, "127.0.0.1", bound.value(), hang_guard, security);
  BOOST_TEST_REQUIRE(right.has_value(), (right ? "" : right.error().message()));
  caf::scoped_actor self{*client.sys};
  int answer = 0;
  self->request(right.value(), caf::timespan{hang_guard}, 41)
      .receive([&](int y) { answer = y; },
               [&](const caf::error& err) { BOOST_FAIL(client.sys->render(err)); });
  BOOST_TEST(answer == 42);
  auto wrong = rm::connect<other>(*client.sys, "127.0.0.1", bound.value(), hang_guard, security);
  BOOST_TEST_REQUIRE(!wrong.has_value());
  BOOST_TEST((wrong.error().code == rm::errc::connect_failed));
  BOOST_TEST(contains(wrong.error().message(), "publishes an actor of another type"),
             wrong.error().message());
  caf::anon_send_exit(typed, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_CASE(connection_silent_past_the_deadline_is_closed_and_the_host_goes_on) {
  scratch tmp;
  const auto host_dir = tmp.dir / "host";
  server s{rm::link_security::tls(generate_tls_credentials(host_dir),
                                  {.max_pending = 4, .deadline = 100ms})};
  const int silent = connect_tcp(s.port);
  BOOST_TEST(closed_by_peer(silent, hang_guard));
  ::close(silent);
  BOOST_TEST(probe(s.port, host_dir, TLS1_3_VERSION, TLS1_3_VERSION).bytes > 0u);
}

BOOST_AUTO_TEST_SUITE_END()
