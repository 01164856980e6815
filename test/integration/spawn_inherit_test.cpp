// spawn_options::inherit: several host fds handed to one child, each at its own
// number, beside the doorbell a ticket puts at fd 3; and the options it refuses.
#include "hub_path.hpp"
#include "owned_pipe.hpp"

#include "cellhub/transport/hub_host.hpp"
#include "cellhub/transport/process.hpp"

#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#ifndef SPAWN_PROBE_PATH
#error "SPAWN_PROBE_PATH must name the spawn_probe helper executable"
#endif

namespace tr = cellhub::transport;
using cellhub::test::owned_pipe;
using namespace std::chrono_literals;

namespace {

// Only catches hangs: every wait below is expected to end much sooner.
constexpr auto hang_bound = 10s;

// Lists which of the host's fds 0, 1 and 2 are open, as the probe prints them.
std::string open_stdio() {
  std::string text;
  for (int fd = 0; fd < 3; ++fd)
    if (::fcntl(fd, F_GETFD) >= 0)
      text += std::to_string(fd) + ",";
  return text;
}

tr::exit_status run_to_end(const tr::spawn_options& options) {
  auto child = tr::process::spawn(options);
  BOOST_TEST_REQUIRE(child.has_value(), (child ? "" : child.error().message()));
  auto status = child.value().wait_for(hang_bound);
  BOOST_TEST_REQUIRE(status.has_value(), (status ? "" : status.error().message()));
  return status.value();
}

std::string error_of(const tr::spawn_options& options) {
  auto child = tr::process::spawn(options);
  if (child)
    return "spawned";
  return std::string{tr::to_string(child.error().code)} + ": " + child.error().detail;
}

} // namespace

BOOST_AUTO_TEST_SUITE(spawn_inherit)

BOOST_AUTO_TEST_CASE(several_inherited_fds_reach_the_child_each_at_its_number_and_no_other) {
  const int leaky = ::open("/dev/null", O_RDONLY); // not close-on-exec on purpose
  BOOST_TEST_REQUIRE(leaky >= 0);
  owned_pipe report;
  owned_pipe other;
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  BOOST_TEST_REQUIRE(null_fd >= 0);
  const std::string expected = open_stdio() + "3,5,9";
  tr::spawn_options options{.binary = SPAWN_PROBE_PATH, .args = {"fds", expected, "9"}};
  options.inherit = {{other.write_end, 5}, {null_fd, 3}, {report.write_end, 9}};
  const auto status = run_to_end(options);
  BOOST_TEST(report.read_all(hang_bound) == expected + "\n");
  BOOST_TEST(status.clean(), status.describe());
  ::close(null_fd);
  ::close(leaky);
}

BOOST_AUTO_TEST_CASE(inherited_fds_whose_numbers_cross_each_reach_the_right_target) {
  // Host fd A is to be the child's B and host fd B the child's A: each source is the
  // other's target, so a plain dup2 sequence would hand both numbers the same pipe.
  owned_pipe first;
  owned_pipe second;
  const int a = first.write_end;
  const int b = second.write_end;
  tr::spawn_options options{
      .binary = "/bin/bash",
      .args = {"-c", "echo first >&" + std::to_string(b) + "; echo second >&" + std::to_string(a)}};
  options.inherit = {{a, b}, {b, a}};
  const auto status = run_to_end(options);
  BOOST_TEST(status.clean(), status.describe());
  BOOST_TEST(first.read_all(hang_bound) == "first\n");
  BOOST_TEST(second.read_all(hang_bound) == "second\n");
}

BOOST_AUTO_TEST_CASE(inherit_refuses_low_numbers_numbers_given_twice_and_fds_not_open) {
  owned_pipe pipe;
  tr::spawn_options options{.binary = SPAWN_PROBE_PATH, .args = {"exit", "0"}};
  options.inherit = {{pipe.write_end, 2}};
  BOOST_TEST(error_of(options).starts_with("invalid_argument: "), error_of(options));
  BOOST_TEST(error_of(options).find("outside [3,") != std::string::npos, error_of(options));
  options.inherit = {{pipe.write_end, 4}, {pipe.read_end, 4}};
  BOOST_TEST(error_of(options).find("would both be fd 4") != std::string::npos, error_of(options));
  options.inherit = {{-1, 4}};
  BOOST_TEST(error_of(options).starts_with("invalid_argument: "), error_of(options));
  const int closed = ::dup(pipe.write_end);
  ::close(closed);
  options.inherit = {{closed, 4}};
  BOOST_TEST(error_of(options).find("is not open") != std::string::npos, error_of(options));
  // The same fd at two numbers is fine.
  options.inherit = {{pipe.write_end, 4}, {pipe.write_end, 7}};
  BOOST_TEST(run_to_end(options).clean());
}

BOOST_AUTO_TEST_CASE(ticket_refuses_a_command_that_already_hands_something_else_at_fd_3) {
  auto hub = tr::hub_host::create(cellhub::test::unique_hub_path("inherit-taken-3"));
  BOOST_TEST_REQUIRE(hub.has_value(), (hub ? "" : hub.error().message()));
  auto added = hub.value()->add_peer_transport_with_options({.peer_name = "taken-3"});
  BOOST_TEST_REQUIRE(added.has_value(), (added ? "" : added.error().message()));
  owned_pipe pipe;
  tr::spawn_options command{.binary = SPAWN_PROBE_PATH, .args = {"exit", "0"}};
  command.inherit = {{pipe.write_end, 3}};
  auto child = added.value().ticket.spawn(command);
  BOOST_TEST_REQUIRE(!child.has_value());
  BOOST_TEST(child.error().code == tr::errc::invalid_argument);
  BOOST_TEST(child.error().detail.find("would both be fd 3 in the child (a ticket puts the "
                                       "cell's doorbell at fd 3)") != std::string::npos,
             child.error().message());
}

BOOST_AUTO_TEST_CASE(ticket_applied_as_arguments_and_environment_hands_its_doorbell_once) {
  auto hub = tr::hub_host::create(cellhub::test::unique_hub_path("inherit-twice"));
  BOOST_TEST_REQUIRE(hub.has_value(), (hub ? "" : hub.error().message()));
  auto added = hub.value()->add_peer_transport_with_options({.peer_name = "twice"});
  BOOST_TEST_REQUIRE(added.has_value(), (added ? "" : added.error().message()));
  owned_pipe report;
  const std::string expected = open_stdio() + "3,4";
  tr::spawn_options command{.binary = SPAWN_PROBE_PATH, .args = {"fds", expected, "4"}};
  command.inherit = {{report.write_end, 4}};
  added.value().ticket.apply_to_environment(command);
  added.value().ticket.apply_to_command(command);
  BOOST_TEST(command.inherit.size() == 2u);
  // The probe ignores the ticket's arguments after its own.
  const auto status = run_to_end(command);
  BOOST_TEST(report.read_all(hang_bound) == expected + "\n");
  BOOST_TEST(status.clean(), status.describe());
}

BOOST_AUTO_TEST_SUITE_END()
