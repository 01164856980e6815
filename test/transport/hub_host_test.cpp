// The hub file, peer entries and attach checks, with host and cell in one process.
#include "hub_path.hpp"
#include "in_process.hpp"
#include "log_capture.hpp"

#include "cellhub/transport/hub_host.hpp"

#include <boost/test/unit_test.hpp>

#include <cstring>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

namespace tr = cellhub::transport;
namespace shm = cellhub::transport::shm;
using cellhub::test::attach_in_process;
using cellhub::test::in_process_options;
using cellhub::test::in_process_ticket;
using cellhub::test::unique_hub_path;

namespace {

std::shared_ptr<tr::hub_host> make_hub(const std::string& path, tr::hub_config config = {}) {
  auto hub = tr::hub_host::create(path, std::move(config));
  BOOST_TEST_REQUIRE(hub.has_value(), (hub ? "" : hub.error().message()));
  return hub.value();
}

// Copies the hub file, lets `corrupt` edit the copy's header, and attaches to it.
tr::errc attach_to_corrupted_copy(const std::string& path,
                                  void (*corrupt)(shm::hub_header&, std::string& copy_path)) {
  auto hub = make_hub(path);
  auto added = hub->add_peer_transport().value();
  std::string copy = path + "-copy";
  {
    const int in = ::open(path.c_str(), O_RDONLY);
    const int out = ::open(copy.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    BOOST_TEST_REQUIRE((in >= 0 && out >= 0));
    shm::hub_header header{};
    BOOST_TEST_REQUIRE(::read(in, &header, sizeof(header)) == static_cast<ssize_t>(sizeof(header)));
    corrupt(header, copy);
    BOOST_TEST_REQUIRE(::write(out, &header, sizeof(header)) ==
                       static_cast<ssize_t>(sizeof(header)));
    BOOST_TEST_REQUIRE(::ftruncate(out, static_cast<off_t>(hub->geometry().file_size)) == 0);
    ::close(in);
    ::close(out);
  }
  auto ticket = in_process_ticket(added.ticket);
  ticket.hub_path = copy;
  auto attached = tr::cell::attach(ticket, in_process_options());
  ::unlink(copy.c_str());
  BOOST_TEST_REQUIRE(!attached.has_value());
  return attached.error().code;
}

} // namespace

BOOST_AUTO_TEST_SUITE(hub_host)

BOOST_AUTO_TEST_CASE(hub_file_is_private_and_removed_with_its_host) {
  const auto path = unique_hub_path("private");
  {
    auto hub = make_hub(path);
    struct stat st {};
    BOOST_TEST_REQUIRE(::stat(path.c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 0777) == 0600u);
    BOOST_TEST(static_cast<std::uint64_t>(st.st_size) == hub->geometry().file_size);
  }
  BOOST_TEST(::access(path.c_str(), F_OK) != 0);
}

BOOST_AUTO_TEST_CASE(creating_a_hub_held_by_a_live_host_fails_clearly) {
  const auto path = unique_hub_path("held");
  auto first = make_hub(path);
  auto second = tr::hub_host::create(path);
  BOOST_TEST_REQUIRE(!second.has_value());
  BOOST_TEST(second.error().code == tr::errc::hub_in_use);
  BOOST_TEST(second.error().message().find(path) != std::string::npos);
  // The live hub is untouched.
  BOOST_TEST(first->add_peer_transport().has_value());
}

BOOST_AUTO_TEST_CASE(impossible_configurations_are_refused) {
  const auto path = unique_hub_path("config");
  auto refused = [&](tr::hub_config config) {
    auto hub = tr::hub_host::create(path, std::move(config));
    return !hub && hub.error().code == tr::errc::invalid_config;
  };
  BOOST_TEST(refused({.max_peers = 0}));
  BOOST_TEST(refused({.max_peers = 5000}));
  BOOST_TEST(refused({.ring_capacity = 100}));
  BOOST_TEST(refused({.slot_classes = {}}));
  BOOST_TEST(refused({.slot_classes = {{100, 4}}}));
  BOOST_TEST(refused({.slot_classes = {{1024, 4}, {1024, 4}}}));
  BOOST_TEST(refused({.slot_classes = {{1024, 0}}}));
  BOOST_TEST(::access(path.c_str(), F_OK) != 0);
}

BOOST_AUTO_TEST_CASE(cell_attaches_marks_entry_and_announces_ready) {
  auto hub = make_hub(unique_hub_path("attach"));
  auto added = hub->add_peer_transport_with_options({.peer_name = "worker-1"}).value();
  auto cell = attach_in_process(added.ticket);
  BOOST_TEST_REQUIRE(cell.has_value(), (cell ? "" : cell.error().message()));
  BOOST_TEST(cell.value().name() == "worker-1");
  BOOST_TEST(cell.value().peer_id() == added.transport->peer_id());
  BOOST_TEST(hub->entry(added.transport->peer_id()).state.load() ==
             static_cast<std::uint32_t>(shm::peer_state::attached));
  auto ready = added.transport->try_receive().value();
  BOOST_TEST_REQUIRE(ready.has_value());
  BOOST_TEST((ready->kind == shm::message_kind::ready));
  BOOST_TEST(added.transport->ready_pid() == static_cast<std::uint32_t>(::getpid()));
}

BOOST_AUTO_TEST_CASE(attach_refuses_wrong_token_unknown_peer_and_second_attach) {
  auto hub = make_hub(unique_hub_path("refuse"));
  auto added = hub->add_peer_transport().value();
  auto ticket = in_process_ticket(added.ticket);
  const int spare = ::dup(ticket.doorbell_fd);

  auto wrong_token = ticket;
  wrong_token.attach_token ^= 1;
  wrong_token.doorbell_fd = ::dup(spare);
  auto refused = tr::cell::attach(wrong_token, in_process_options());
  BOOST_TEST_REQUIRE(!refused.has_value());
  BOOST_TEST(refused.error().code == tr::errc::bad_token);

  auto unknown = ticket;
  unknown.peer_id = hub->geometry().max_peers;
  unknown.doorbell_fd = ::dup(spare);
  refused = tr::cell::attach(unknown, in_process_options());
  BOOST_TEST_REQUIRE(!refused.has_value());
  BOOST_TEST(refused.error().code == tr::errc::unknown_peer);

  auto first = tr::cell::attach(ticket, in_process_options());
  BOOST_TEST_REQUIRE(first.has_value());
  auto again = ticket;
  again.doorbell_fd = spare;
  refused = tr::cell::attach(again, in_process_options());
  BOOST_TEST_REQUIRE(!refused.has_value());
  BOOST_TEST(refused.error().code == tr::errc::not_reserved);
}

BOOST_AUTO_TEST_CASE(reused_entry_bumps_incarnation_and_refuses_the_stale_ticket) {
  auto hub = make_hub(unique_hub_path("reuse"), {.max_peers = 1});
  auto first = hub->add_peer_transport().value();
  auto stale = in_process_ticket(first.ticket);
  const auto first_incarnation = first.transport->incarnation();
  first.transport.reset();

  auto second = hub->add_peer_transport().value();
  BOOST_TEST(second.transport->peer_id() == stale.peer_id);
  BOOST_TEST(second.transport->incarnation() == first_incarnation + 1);
  auto refused = tr::cell::attach(stale, in_process_options());
  BOOST_TEST_REQUIRE(!refused.has_value());
  BOOST_TEST(refused.error().code == tr::errc::stale_incarnation);
  BOOST_TEST(attach_in_process(second.ticket).has_value());
}

BOOST_AUTO_TEST_CASE(new_peer_takes_the_entry_free_longest) {
  auto hub = make_hub(unique_hub_path("fifo"), {.max_peers = 3});
  auto a = hub->add_peer_transport().value();
  const auto a_id = a.transport->peer_id();
  a.transport.reset();
  auto b = hub->add_peer_transport().value();
  BOOST_TEST(b.transport->peer_id() != a_id);
}

BOOST_AUTO_TEST_CASE(death_log_line_escapes_a_name_that_holds_a_newline) {
  auto hub = make_hub(unique_hub_path("forge"));
  const std::string name = "evil\n00:00:00.000000 WARN peer_id=7 peer_name=\"x\" forged";
  auto added = hub->add_peer_transport_with_options({.peer_name = name}).value();
  added.ticket.cell_doorbell = {}; // the cell's end closes: the next ring fails
  cellhub::test::log_capture log;
  BOOST_TEST((added.transport->signal() == tr::signal_result::peer_dead));
  // One record on one line, with the name escaped inside its quotes.
  BOOST_TEST(log.count("\n") == 1u);
  BOOST_TEST(log.count(R"(peer_name="evil\n00:00:00.000000 WARN peer_id=7 peer_name=\"x\" forged" )"
                       "Cell died (doorbell signal failed)") == 1u);
}

BOOST_AUTO_TEST_CASE(full_table_refuses_then_recovers_when_an_entry_frees) {
  auto hub = make_hub(unique_hub_path("full"), {.max_peers = 2});
  auto a = hub->add_peer_transport().value();
  auto b = hub->add_peer_transport().value();
  auto c = hub->add_peer_transport();
  BOOST_TEST_REQUIRE(!c.has_value());
  BOOST_TEST(c.error().code == tr::errc::no_free_peer);
  a.transport.reset();
  BOOST_TEST(hub->add_peer_transport().has_value());
}

BOOST_AUTO_TEST_CASE(attach_validates_magic_version_size_and_offsets) {
  const auto path = unique_hub_path("header");
  BOOST_TEST(attach_to_corrupted_copy(path, [](shm::hub_header& h, std::string&) {
               h.magic[0] = 'X';
             }) == tr::errc::bad_magic);
  BOOST_TEST(attach_to_corrupted_copy(path, [](shm::hub_header& h, std::string&) {
               h.version_major = shm::version_major + 1;
             }) == tr::errc::version_mismatch);
  BOOST_TEST(attach_to_corrupted_copy(path, [](shm::hub_header& h, std::string&) {
               h.file_size += 4096;
             }) == tr::errc::bad_layout);
  BOOST_TEST(attach_to_corrupted_copy(path, [](shm::hub_header& h, std::string&) {
               h.to_host_arena_offset += 64;
             }) == tr::errc::bad_layout);
  BOOST_TEST(attach_to_corrupted_copy(path, [](shm::hub_header& h, std::string&) {
               h.slot_class_count = 200;
             }) == tr::errc::bad_layout);
  BOOST_TEST(attach_to_corrupted_copy(path, [](shm::hub_header& h, std::string&) {
               h.ring_capacity = 3;
             }) == tr::errc::bad_layout);
}

BOOST_AUTO_TEST_CASE(thousand_peers_are_added_and_attached_on_one_hub) {
  // Each in-process cell holds a mapping and two fds; make room for them.
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &limit);
  BOOST_TEST_REQUIRE(limit.rlim_cur >= 3100u);

  auto hub = make_hub(unique_hub_path("thousand"),
                      {.max_peers = 1000, .ring_capacity = 8, .slot_classes = {{256, 2}}});
  std::vector<std::shared_ptr<tr::peer_transport>> transports;
  std::vector<tr::cell> cells;
  for (int i = 0; i < 1000; ++i) {
    auto added = hub->add_peer_transport();
    BOOST_TEST_REQUIRE(added.has_value());
    auto cell = attach_in_process(added.value().ticket);
    BOOST_TEST_REQUIRE(cell.has_value(), (cell ? "" : cell.error().message()));
    transports.push_back(added.value().transport);
    cells.push_back(std::move(cell).value());
  }
  std::size_t ready = 0;
  for (auto& transport : transports)
    if (auto msg = transport->try_receive();
        msg && msg.value() && msg.value()->kind == shm::message_kind::ready)
      ++ready;
  BOOST_TEST(ready == 1000u);
  BOOST_TEST(hub->audit().peers_live == 1000u);
  BOOST_TEST(!hub->add_peer_transport().has_value());
}

BOOST_AUTO_TEST_SUITE_END()
