// Tickets travel as arguments or environment variables and are parsed strictly.
#include "cellhub/transport/cell_ticket.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <string>
#include <vector>

namespace tr = cellhub::transport;

namespace {

tr::cell_ticket sample() {
  return {.hub_path = "/dev/shm/cellhub-x",
          .peer_id = 917,
          .incarnation = 4'000'000'000u,
          .attach_token = 0xFEDC'BA98'7654'3210ull,
          .doorbell_fd = 3};
}

tr::result<tr::cell_ticket> parse(std::vector<std::string> args) {
  args.insert(args.begin(), "cell");
  std::vector<const char*> argv;
  for (auto& arg : args)
    argv.push_back(arg.c_str());
  return tr::cell_ticket::from_arguments(static_cast<int>(argv.size()), argv.data());
}

bool same(const tr::cell_ticket& a, const tr::cell_ticket& b) {
  return a.hub_path == b.hub_path && a.peer_id == b.peer_id && a.incarnation == b.incarnation &&
         a.attach_token == b.attach_token && a.doorbell_fd == b.doorbell_fd;
}

} // namespace

BOOST_AUTO_TEST_SUITE(cell_ticket)

BOOST_AUTO_TEST_CASE(ticket_round_trips_through_arguments_among_other_flags) {
  auto args = sample().to_arguments();
  args.insert(args.begin(), "--mode=echo");
  args.push_back("--verbose");
  auto parsed = parse(args);
  BOOST_TEST_REQUIRE(parsed.has_value(), (parsed ? "" : parsed.error().message()));
  BOOST_TEST(same(parsed.value(), sample()));
}

BOOST_AUTO_TEST_CASE(arguments_may_put_the_value_after_a_space) {
  auto parsed = parse({"--hub-path", "/dev/shm/h", "--peer-id", "1", "--incarnation", "2",
                       "--attach-token", "3", "--doorbell-fd", "4"});
  BOOST_TEST_REQUIRE(parsed.has_value());
  BOOST_TEST(parsed.value().hub_path == "/dev/shm/h");
  BOOST_TEST(parsed.value().doorbell_fd == 4);
}

BOOST_AUTO_TEST_CASE(ticket_round_trips_through_the_environment) {
  for (const auto& [name, value] : sample().to_environment())
    ::setenv(name.c_str(), value.c_str(), 1);
  auto parsed = tr::cell_ticket::from_environment();
  const char* argv[] = {"cell", "--mode=idle"};
  auto fallback = tr::cell_ticket::from_arguments_or_environment(2, argv);
  for (const auto& [name, value] : sample().to_environment())
    ::unsetenv(name.c_str());
  BOOST_TEST_REQUIRE(parsed.has_value());
  BOOST_TEST(same(parsed.value(), sample()));
  BOOST_TEST_REQUIRE(fallback.has_value());
  BOOST_TEST(same(fallback.value(), sample()));
}

BOOST_AUTO_TEST_CASE(missing_key_is_named) {
  auto args = sample().to_arguments();
  args.erase(args.begin() + 3); // --attach-token
  auto parsed = parse(args);
  BOOST_TEST_REQUIRE(!parsed.has_value());
  BOOST_TEST(parsed.error().code == tr::errc::bad_ticket);
  BOOST_TEST(parsed.error().message() == "bad_ticket: arguments: missing --attach-token");
}

BOOST_AUTO_TEST_CASE(malformed_numbers_are_refused) {
  for (const char* bad : {"--peer-id=70000", "--peer-id=-1", "--peer-id=12x", "--peer-id="}) {
    auto args = sample().to_arguments();
    args[1] = bad;
    auto parsed = parse(args);
    BOOST_TEST_CONTEXT(bad) {
      BOOST_TEST_REQUIRE(!parsed.has_value());
      BOOST_TEST(parsed.error().code == tr::errc::bad_ticket);
    }
  }
  auto env = tr::cell_ticket::from_environment();
  BOOST_TEST_REQUIRE(!env.has_value());
  BOOST_TEST(env.error().message() == "bad_ticket: environment: missing CELLHUB_HUB_PATH");
}

BOOST_AUTO_TEST_SUITE_END()
