#include "cellhub/transport/error.hpp"
#include "cellhub/transport/result.hpp"

#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <set>
#include <string>

namespace tr = cellhub::transport;

BOOST_AUTO_TEST_SUITE(transport_error)

BOOST_AUTO_TEST_CASE(every_errc_has_a_distinct_snake_case_name) {
  std::set<std::string> seen;
  for (auto code : tr::all_errcs) {
    const std::string name{tr::to_string(code)};
    BOOST_TEST_CONTEXT("errc " << static_cast<int>(code)) {
      BOOST_TEST(name != "unknown");
      BOOST_TEST(name.find_first_not_of("abcdefghijklmnopqrstuvwxyz_") == std::string::npos);
      BOOST_TEST(seen.insert(name).second);
    }
  }
}

BOOST_AUTO_TEST_CASE(all_errcs_lists_the_values_in_declaration_order) {
  for (std::size_t i = 0; i < tr::all_errcs.size(); ++i)
    BOOST_TEST(static_cast<std::size_t>(tr::all_errcs[i]) == i);
  // The value after the last listed one is not a declared enumerator.
  BOOST_TEST(tr::to_string(static_cast<tr::errc>(tr::all_errcs.size())) == "unknown");
}

BOOST_AUTO_TEST_CASE(sys_error_message_names_operation_and_errno) {
  const auto err = tr::make_sys_error("open /dev/shm/x", ENOENT);
  BOOST_TEST(err.code == tr::errc::io_error);
  BOOST_TEST(err.sys_errno == ENOENT);
  BOOST_TEST(err.message() == "io_error: open /dev/shm/x (No such file or directory)");
}

BOOST_AUTO_TEST_CASE(back_pressure_without_detail_still_explains_itself) {
  BOOST_TEST(tr::make_error(tr::errc::no_slot, {}).message() ==
             "no_slot: every fitting slot is in flight");
  BOOST_TEST(tr::make_error(tr::errc::ring_full, {}).message() ==
             "ring_full: the ring has no room for another descriptor");
  BOOST_TEST(tr::make_error(tr::errc::no_slot, "class 2").message() == "no_slot: class 2");
  BOOST_TEST(tr::make_error(tr::errc::timeout, {}).message() == "timeout");
}

BOOST_AUTO_TEST_CASE(hub_site_refusals_have_their_own_codes_and_keep_their_detail) {
  BOOST_TEST(tr::to_string(tr::errc::path_occupied) == "path_occupied");
  BOOST_TEST(tr::to_string(tr::errc::no_space) == "no_space");
  BOOST_TEST(tr::make_error(tr::errc::path_occupied, "/x exists").message() ==
             "path_occupied: /x exists");
  BOOST_TEST(tr::make_error(tr::errc::no_space, "hub /x needs 1 MiB").message() ==
             "no_space: hub /x needs 1 MiB");
}

BOOST_AUTO_TEST_CASE(result_carries_value_or_error) {
  tr::result<int> good = 42;
  tr::result<int> bad = tr::make_error(tr::errc::peer_dead, "peer 3");
  BOOST_TEST(good.has_value());
  BOOST_TEST(good.value() == 42);
  BOOST_TEST(!bad.has_value());
  BOOST_TEST(bad.error().message() == "peer_dead: peer 3");
}

BOOST_AUTO_TEST_SUITE_END()
