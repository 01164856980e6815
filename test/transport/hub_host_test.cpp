// The hub file, peer entries and attach checks, with host and cell in one process.
#include "hub_path.hpp"
#include "in_process.hpp"
#include "log_capture.hpp"

#include "cellhub/transport/hub_host.hpp"

#include <boost/test/unit_test.hpp>

#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

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

// Adds a peer, takes the region the host handed to the cell's doorbell, lets
// `corrupt` edit its header (or replace the region), hands the result to a fresh
// doorbell with `word` as the size the host announces, and attaches to it.
tr::errc attach_to_corrupted_region(const std::string& path,
                                    void (*corrupt)(shm::region_header&, int& region_fd,
                                                    std::uint64_t& word)) {
  auto hub = make_hub(path);
  auto added = hub->add_peer_transport().value();
  auto handed = added.ticket.cell_doorbell.receive_fd();
  BOOST_TEST_REQUIRE(handed.has_value());
  int region_fd = handed.value().fd;
  std::uint64_t word = handed.value().word;
  shm::region_header header{};
  BOOST_TEST_REQUIRE(::pread(region_fd, &header, sizeof(header), 0) ==
                     static_cast<ssize_t>(sizeof(header)));
  corrupt(header, region_fd, word);
  BOOST_TEST_REQUIRE(::pwrite(region_fd, &header, sizeof(header), 0) ==
                     static_cast<ssize_t>(sizeof(header)));
  auto bells = tr::doorbell::create_pair().value();
  BOOST_TEST_REQUIRE(bells.first.send_fd(region_fd, word).has_value());
  ::close(region_fd);
  auto ticket = in_process_ticket(added.ticket);
  ::close(ticket.doorbell_fd);
  ticket.doorbell_fd = bells.second.release();
  auto attached = tr::cell::attach(ticket, in_process_options());
  BOOST_TEST_REQUIRE(!attached.has_value());
  return attached.error().code;
}

// Returns a fresh memfd holding a copy of the first `size` bytes of `from`, sealed
// with `seals`.
int copy_region(int from, std::uint64_t size, int seals) {
  const int fd = ::memfd_create("copy", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  BOOST_TEST_REQUIRE(fd >= 0);
  BOOST_TEST_REQUIRE(::ftruncate(fd, static_cast<off_t>(size)) == 0);
  std::vector<char> bytes(4096);
  BOOST_TEST_REQUIRE(::pread(from, bytes.data(), bytes.size(), 0) ==
                     static_cast<ssize_t>(bytes.size()));
  BOOST_TEST_REQUIRE(::pwrite(fd, bytes.data(), bytes.size(), 0) ==
                     static_cast<ssize_t>(bytes.size()));
  if (seals != 0)
    BOOST_TEST_REQUIRE(::fcntl(fd, F_ADD_SEALS, seals) == 0);
  return fd;
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

  auto for_token = hub->add_peer_transport().value();
  auto wrong_token = in_process_ticket(for_token.ticket);
  wrong_token.attach_token ^= 1;
  auto refused = tr::cell::attach(wrong_token, in_process_options());
  BOOST_TEST_REQUIRE(!refused.has_value());
  BOOST_TEST(refused.error().code == tr::errc::bad_token);

  auto for_id = hub->add_peer_transport().value();
  auto unknown = in_process_ticket(for_id.ticket);
  unknown.peer_id = hub->geometry().max_peers;
  refused = tr::cell::attach(unknown, in_process_options());
  BOOST_TEST_REQUIRE(!refused.has_value());
  BOOST_TEST(refused.error().code == tr::errc::unknown_peer);

  // The region travels once: a second attach through the same doorbell finds none.
  auto added = hub->add_peer_transport().value();
  auto ticket = in_process_ticket(added.ticket);
  const int spare = ::dup(ticket.doorbell_fd);
  auto first = tr::cell::attach(ticket, in_process_options());
  BOOST_TEST_REQUIRE(first.has_value());
  auto again = ticket;
  again.doorbell_fd = spare;
  refused = tr::cell::attach(again, in_process_options());
  BOOST_TEST_REQUIRE(!refused.has_value());
  BOOST_TEST(refused.error().code == tr::errc::bad_ticket);
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
  // The stale ticket's doorbell still holds the first life's region, never the
  // second's: its host end is gone, so the attach is refused.
  auto refused = tr::cell::attach(stale, in_process_options());
  BOOST_TEST_REQUIRE(!refused.has_value());
  BOOST_TEST(refused.error().code == tr::errc::peer_dead);
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

BOOST_AUTO_TEST_CASE(attach_validates_the_region_handed_over) {
  const auto path = unique_hub_path("region");
  using header_t = shm::region_header;
  BOOST_TEST(attach_to_corrupted_region(path, [](header_t& h, int&, std::uint64_t&) {
               h.magic[0] = 'X';
             }) == tr::errc::bad_magic);
  BOOST_TEST(attach_to_corrupted_region(path, [](header_t& h, int&, std::uint64_t&) {
               h.version_major = shm::version_major + 1;
             }) == tr::errc::version_mismatch);
  BOOST_TEST(attach_to_corrupted_region(path, [](header_t& h, int&, std::uint64_t&) {
               h.peer_id += 1;
             }) == tr::errc::unknown_peer);
  BOOST_TEST(attach_to_corrupted_region(path, [](header_t& h, int&, std::uint64_t&) {
               h.incarnation += 1;
             }) == tr::errc::stale_incarnation);
  BOOST_TEST(attach_to_corrupted_region(path, [](header_t& h, int&, std::uint64_t&) {
               h.attach_token ^= 1;
             }) == tr::errc::bad_token);
  BOOST_TEST(attach_to_corrupted_region(path, [](header_t& h, int&, std::uint64_t&) {
               h.layout.to_host_arena_offset += 64;
             }) == tr::errc::bad_layout);
  BOOST_TEST(attach_to_corrupted_region(path, [](header_t& h, int&, std::uint64_t&) {
               h.layout.slot_class_count = 200;
             }) == tr::errc::bad_layout);
  BOOST_TEST(attach_to_corrupted_region(path, [](header_t& h, int&, std::uint64_t&) {
               h.layout.ring_capacity = 3;
             }) == tr::errc::bad_layout);
  // The size the host announces must be the region's.
  BOOST_TEST(attach_to_corrupted_region(path, [](header_t&, int&, std::uint64_t& word) {
               word += 4096;
             }) == tr::errc::bad_layout);
  // A region whose size is not sealed could be shrunk under the host's mapping.
  BOOST_TEST(attach_to_corrupted_region(path, [](header_t&, int& fd, std::uint64_t& word) {
               const int copy = copy_region(fd, word, 0);
               ::close(fd);
               fd = copy;
             }) == tr::errc::bad_layout);
}

BOOST_AUTO_TEST_CASE(regions_are_sealed_against_resizing_and_never_reused) {
  auto hub = make_hub(unique_hub_path("sealed"), {.max_peers = 1});
  auto first = hub->add_peer_transport().value();
  auto handed = first.ticket.cell_doorbell.receive_fd().value();
  const int seals = ::fcntl(handed.fd, F_GET_SEALS);
  BOOST_TEST((seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) ==
             (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL));
  BOOST_TEST(::ftruncate(handed.fd, 0) != 0);
  BOOST_TEST(errno == EPERM);
  BOOST_TEST(::fcntl(handed.fd, F_ADD_SEALS, F_SEAL_WRITE) != 0);
  struct stat first_region {};
  BOOST_TEST_REQUIRE(::fstat(handed.fd, &first_region) == 0);
  BOOST_TEST(static_cast<std::uint64_t>(first_region.st_size) == hub->geometry().region_size);
  // The next life of the same peer id gets another memory object: whoever still
  // holds the first one (a dead cell's descendant) cannot see the new life.
  first.transport.reset();
  auto second = hub->add_peer_transport().value();
  BOOST_TEST_REQUIRE(second.transport->peer_id() == first.ticket.peer_id);
  auto next = second.ticket.cell_doorbell.receive_fd().value();
  struct stat second_region {};
  BOOST_TEST_REQUIRE(::fstat(next.fd, &second_region) == 0);
  BOOST_TEST(second_region.st_ino != first_region.st_ino);
  ::close(handed.fd);
  ::close(next.fd);
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
