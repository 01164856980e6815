#pragma once

// TLS credentials for tests that link cellhub::remote: a CA and a certificate of
// their own, made through the library as `cellhub run --listen` makes them.

#include "cellhub/remote/tls_credentials.hpp"

#include <boost/test/unit_test.hpp>

#include <filesystem>

namespace cellhub::test {

/// Generates credentials (a new CA and a certificate it signed) in `dir`, which must
/// not hold any, and returns them; fails the test if it cannot.
inline cellhub::remote::tls_credentials generate_tls_credentials(const std::filesystem::path& dir) {
  auto made = cellhub::remote::tls_credentials::load(dir, cellhub::remote::on_missing::generate);
  BOOST_TEST_REQUIRE(made.has_value(), (made ? "" : made.error().message()));
  return std::move(made).value();
}

} // namespace cellhub::test
