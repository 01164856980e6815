#pragma once

// A host transport and an in-process cell linked through a fresh hub: the
// fixture of the transport's single-process tests.
#include "hub_path.hpp"
#include "in_process.hpp"

#include "cellhub/transport/hub_host.hpp"

#include <boost/test/unit_test.hpp>

#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace cellhub::test {

/// Holds a hub with one attached in-process cell whose READY has been taken.
struct linked_pair {
  /// Owns the hub file.
  std::shared_ptr<transport::hub_host> hub;
  /// Is the host's side of the link.
  std::shared_ptr<transport::peer_transport> host;
  /// Is the cell's side, living in the test process.
  std::optional<transport::cell> cell;

  /// Creates the hub at a hub path unique to this test (named after `label`).
  explicit linked_pair(transport::hub_config config = {}, const std::string& label = "pair") {
    hub = transport::hub_host::create(unique_hub_path(label), std::move(config)).value();
    auto added = hub->add_peer_transport().value();
    host = added.transport;
    auto attached = attach_in_process(added.ticket);
    BOOST_TEST_REQUIRE(attached.has_value());
    cell.emplace(std::move(attached).value());
    auto ready = host->try_receive().value();
    BOOST_TEST_REQUIRE((ready && ready->kind == transport::shm::message_kind::ready));
  }
};

/// Takes the next message a cell has waiting; fails the test when there is none.
inline transport::incoming_message take(transport::cell& cell) {
  auto msg = cell.try_receive();
  BOOST_TEST_REQUIRE(msg.has_value());
  BOOST_TEST_REQUIRE(msg.value().has_value());
  return std::move(*msg.value());
}

} // namespace cellhub::test
