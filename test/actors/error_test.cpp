#include "cellhub/actors/error.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/error.hpp>

#include <boost/test/unit_test.hpp>

#include <set>
#include <string>

namespace ac = cellhub::actors;

BOOST_AUTO_TEST_SUITE(actors_error)

BOOST_AUTO_TEST_CASE(every_errc_has_a_distinct_name_and_a_nonzero_code) {
  std::set<std::string> seen;
  for (auto code : ac::all_errcs) {
    const std::string name{ac::to_string(code)};
    BOOST_TEST_CONTEXT("errc " << static_cast<int>(code)) {
      BOOST_TEST(static_cast<int>(code) != 0);
      BOOST_TEST(name != "unknown");
      BOOST_TEST(seen.insert(name).second);
    }
  }
  BOOST_TEST(ac::to_string(static_cast<ac::errc>(ac::all_errcs.size() + 1)) == "unknown");
}

BOOST_AUTO_TEST_CASE(errc_round_trips_through_caf_error) {
  for (auto code : ac::all_errcs) {
    caf::error err = ac::make_error(code);
    BOOST_TEST(static_cast<bool>(err));
    BOOST_TEST(ac::is(err, code));
    BOOST_TEST(err.category() == ac::error_category());
  }
  BOOST_TEST(!ac::is(caf::error{}, ac::errc::cell_died));
}

BOOST_AUTO_TEST_CASE(actor_system_renders_errors_by_name) {
  caf::actor_system_config cfg;
  ac::add_error_category(cfg);
  caf::actor_system sys{cfg};
  BOOST_TEST(sys.render(ac::make_error(ac::errc::cell_died)) == "cellhub: cell_died");
  BOOST_TEST(sys.render(ac::make_error(ac::errc::hung, "worker-1")) == "cellhub: hung (worker-1)");
}

BOOST_AUTO_TEST_CASE(transport_error_is_wrapped_with_its_message) {
  namespace tr = cellhub::transport;
  auto err = ac::make_error(tr::make_error(tr::errc::no_free_peer, "1000 of 1000 in use"));
  BOOST_TEST(ac::is(err, ac::errc::transport_failure));
}

BOOST_AUTO_TEST_SUITE_END()
