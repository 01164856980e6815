// TLS credentials: generated on first use with private modes, one CA however many
// processes start at once, refused (never repaired) when another user could read
// a key or plant a CA, checked as the links load them, and frozen so that a
// running node does not depend on the files any more. Also the
// address policy of links without TLS.
#include "scratch_dir.hpp"
#include "tls_dir.hpp"

#include "cellhub/remote/link_security.hpp"
#include "cellhub/remote/tls_credentials.hpp"
#include "cellhub/remote/tls_identity.hpp"

#include <boost/test/unit_test.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace rm = cellhub::remote;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// A directory of its own for one test (mode 0700), removed afterwards.
struct scratch : cellhub::test::scratch_dir {
  scratch()
      : scratch_dir{"cellhub-tls"} {}
};

using cellhub::test::mode_of;

std::string read_all(const fs::path& path) {
  std::ifstream in{path, std::ios::binary};
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_file(const fs::path& path, const std::string& text, fs::perms mode) {
  std::ofstream{path, std::ios::binary | std::ios::trunc} << text;
  fs::permissions(path, mode, fs::perm_options::replace);
}

std::set<std::string> names_in(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator{dir})
    names.insert(entry.path().filename().string());
  return names;
}

const auto private_file = fs::perms::owner_read | fs::perms::owner_write;

using cellhub::test::generate_tls_credentials;

rm::error load_error(const fs::path& dir, rm::on_missing missing = rm::on_missing::fail) {
  auto loaded = rm::tls_credentials::load(dir, missing);
  BOOST_TEST_REQUIRE(!loaded.has_value(), "loading " << dir << " should have failed");
  return loaded.error();
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_SUITE(remote_errors)

BOOST_AUTO_TEST_CASE(every_error_code_has_its_own_name) {
  std::set<std::string_view> names;
  for (auto code : rm::all_errcs) {
    const auto name = rm::to_string(code);
    BOOST_TEST(name != "unknown");
    BOOST_TEST(names.insert(name).second, name);
  }
  BOOST_TEST(names.size() == rm::all_errcs.size());
  BOOST_TEST(rm::make_sys_error("cannot open x", ENOENT).message() ==
             "cannot open x (No such file or directory)");
  BOOST_TEST(rm::make_error(rm::errc::timeout, {}).message() == "timeout");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(tls_credentials)

BOOST_AUTO_TEST_CASE(first_load_generates_a_ca_and_a_certificate_with_private_modes) {
  scratch tmp;
  const auto dir = tmp.dir / "config" / "cellhub" / "tls";
  const auto creds = generate_tls_credentials(dir);
  BOOST_TEST(creds.generated());
  BOOST_TEST(creds.dir() == dir);
  BOOST_TEST(contains(creds.subject(), "cellhub"), creds.subject());
  for (const auto& d : {tmp.dir / "config", tmp.dir / "config" / "cellhub", dir})
    BOOST_TEST(mode_of(d) == 0700u, d);
  BOOST_TEST(
      (names_in(dir) == std::set<std::string>{"ca.pem", "ca-key.pem", "cert.pem", "key.pem"}));
  for (const char* name : {"ca.pem", "ca-key.pem", "cert.pem", "key.pem"})
    BOOST_TEST(mode_of(dir / name) == 0600u, name);
  BOOST_TEST(contains(read_all(dir / "key.pem"), "BEGIN PRIVATE KEY"));
  BOOST_TEST(contains(read_all(dir / "ca.pem"), "BEGIN CERTIFICATE"));

  // The second start reads what the first wrote.
  const auto ca_before = read_all(dir / "ca.pem");
  auto again = rm::tls_credentials::load(dir, rm::on_missing::generate);
  BOOST_TEST_REQUIRE(again.has_value());
  BOOST_TEST(!again.value().generated());
  BOOST_TEST(read_all(dir / "ca.pem") == ca_before);
}

BOOST_AUTO_TEST_CASE(loading_without_generating_refuses_a_missing_or_empty_directory) {
  scratch tmp;
  const auto missing = load_error(tmp.dir / "nowhere");
  BOOST_TEST(missing.code == rm::errc::missing_credentials);
  BOOST_TEST(!fs::exists(tmp.dir / "nowhere"));

  const auto dir = tmp.dir / "empty";
  fs::create_directory(dir);
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace);
  const auto empty = load_error(dir);
  BOOST_TEST(empty.code == rm::errc::missing_credentials);
  BOOST_TEST(contains(empty.message(), "cellhub run"), empty.message());
  BOOST_TEST(names_in(dir).empty());
}

BOOST_AUTO_TEST_CASE(concurrent_first_loads_agree_on_one_ca) {
  scratch tmp;
  const auto dir = tmp.dir / "tls";
  constexpr int loaders = 6;
  std::vector<std::optional<rm::result<rm::tls_credentials>>> results(loaders);
  std::vector<std::thread> threads;
  for (int i = 0; i < loaders; ++i)
    threads.emplace_back([&, i] {
      results[static_cast<std::size_t>(i)] =
          rm::tls_credentials::load(dir, rm::on_missing::generate);
    });
  for (auto& t : threads)
    t.join();
  int generated = 0;
  std::set<std::string> cas;
  for (auto& r : results) {
    BOOST_TEST_REQUIRE(r->has_value(), (r->has_value() ? "" : r->error().message()));
    generated += r->value().generated() ? 1 : 0;
    cas.insert(read_all(r->value().ca_file()));
  }
  BOOST_TEST(generated == 1);
  BOOST_TEST(cas.size() == 1u);
  BOOST_TEST(*cas.begin() == read_all(dir / "ca.pem"));
  BOOST_TEST(
      (names_in(dir) == std::set<std::string>{"ca.pem", "ca-key.pem", "cert.pem", "key.pem"}));
}

BOOST_AUTO_TEST_CASE(key_that_group_or_others_can_read_is_refused) {
  scratch tmp;
  const auto dir = tmp.dir / "tls";
  generate_tls_credentials(dir);
  for (const char* name : {"key.pem", "ca-key.pem"}) {
    fs::permissions(dir / name, private_file | fs::perms::group_read, fs::perm_options::replace);
    const auto err = load_error(dir);
    BOOST_TEST(err.code == rm::errc::unsafe_permissions);
    BOOST_TEST(contains(err.message(), name), err.message());
    BOOST_TEST(contains(err.message(), "0640"), err.message());
    BOOST_TEST(contains(err.message(), "chmod 600"), err.message());
    fs::permissions(dir / name, private_file, fs::perm_options::replace);
  }
  BOOST_TEST(rm::tls_credentials::load(dir, rm::on_missing::fail).has_value());
}

BOOST_AUTO_TEST_CASE(directory_that_group_or_others_can_enter_is_refused) {
  scratch tmp;
  const auto dir = tmp.dir / "tls";
  generate_tls_credentials(dir);
  fs::permissions(dir, fs::perms::owner_all | fs::perms::others_exec, fs::perm_options::replace);
  const auto err = load_error(dir, rm::on_missing::generate);
  BOOST_TEST(err.code == rm::errc::unsafe_permissions);
  BOOST_TEST(contains(err.message(), "0701"), err.message());
  BOOST_TEST(contains(err.message(), "chmod 700"), err.message());
}

BOOST_AUTO_TEST_CASE(certificate_others_can_write_is_refused_and_one_they_can_read_is_not) {
  scratch tmp;
  const auto dir = tmp.dir / "tls";
  generate_tls_credentials(dir);
  const auto readable = private_file | fs::perms::group_read | fs::perms::others_read;
  fs::permissions(dir / "ca.pem", readable, fs::perm_options::replace);
  fs::permissions(dir / "cert.pem", readable, fs::perm_options::replace);
  BOOST_TEST(rm::tls_credentials::load(dir, rm::on_missing::fail).has_value());

  fs::permissions(dir / "ca.pem", private_file | fs::perms::group_write, fs::perm_options::replace);
  const auto err = load_error(dir);
  BOOST_TEST(err.code == rm::errc::unsafe_permissions);
  BOOST_TEST(contains(err.message(), "ca.pem"), err.message());
  BOOST_TEST(contains(err.message(), "write"), err.message());
}

BOOST_AUTO_TEST_CASE(directory_of_another_user_is_refused,
                     *boost::unit_test::precondition([](boost::unit_test::test_unit_id) {
                       // Only root can give a directory away.
                       return ::geteuid() == 0;
                     })) {
  scratch tmp;
  const auto dir = tmp.dir / "tls";
  generate_tls_credentials(dir);
  BOOST_TEST_REQUIRE(::chown(dir.c_str(), 65534, 65534) == 0);
  const auto err = load_error(dir);
  BOOST_TEST(err.code == rm::errc::unsafe_permissions);
  BOOST_TEST(contains(err.message(), "belongs to uid 65534"), err.message());
  BOOST_TEST_REQUIRE(::chown(dir.c_str(), 0, 0) == 0);
  BOOST_TEST_REQUIRE(::chown((dir / "key.pem").c_str(), 65534, 65534) == 0);
  BOOST_TEST(load_error(dir).code == rm::errc::unsafe_permissions);
}

BOOST_AUTO_TEST_CASE(incomplete_directory_is_refused_and_left_as_it_was) {
  scratch tmp;
  const auto dir = tmp.dir / "tls";
  generate_tls_credentials(dir);
  fs::remove(dir / "cert.pem");
  const auto ca = read_all(dir / "ca.pem");
  const auto key = read_all(dir / "key.pem");
  const auto err = load_error(dir, rm::on_missing::generate);
  BOOST_TEST(err.code == rm::errc::missing_credentials);
  BOOST_TEST(contains(err.message(), "cert.pem"), err.message());
  BOOST_TEST((names_in(dir) == std::set<std::string>{"ca.pem", "ca-key.pem", "key.pem"}));
  BOOST_TEST(read_all(dir / "ca.pem") == ca);
  BOOST_TEST(read_all(dir / "key.pem") == key);
}

BOOST_AUTO_TEST_CASE(certificate_of_another_ca_or_a_foreign_key_is_invalid) {
  scratch tmp;
  const auto dir = tmp.dir / "tls";
  generate_tls_credentials(dir);
  const auto own_ca = read_all(dir / "ca.pem");
  const auto own_key = read_all(dir / "key.pem");
  auto foreign = rm::tls_identity::make_ca("foreign CA", std::chrono::days{30});
  BOOST_TEST_REQUIRE(foreign.has_value());

  write_file(dir / "ca.pem", foreign.value().certificate_pem, private_file);
  auto err = load_error(dir);
  BOOST_TEST(err.code == rm::errc::invalid_credentials);
  BOOST_TEST(contains(err.message(), "does not verify"), err.message());

  write_file(dir / "ca.pem", own_ca, private_file);
  write_file(dir / "key.pem", foreign.value().key_pem, private_file);
  err = load_error(dir);
  BOOST_TEST(err.code == rm::errc::invalid_credentials);
  BOOST_TEST(contains(err.message(), "is not the key of"), err.message());

  write_file(dir / "key.pem", "not a key\n", private_file);
  BOOST_TEST(load_error(dir).code == rm::errc::invalid_credentials);
  write_file(dir / "key.pem", own_key, private_file);
  BOOST_TEST(rm::tls_credentials::load(dir, rm::on_missing::fail).has_value());
}

BOOST_AUTO_TEST_CASE(encrypted_key_is_refused_without_asking_for_a_passphrase) {
  scratch tmp;
  const auto dir = tmp.dir / "tls";
  generate_tls_credentials(dir);
  BIO* in = BIO_new_file((dir / "key.pem").c_str(), "r");
  EVP_PKEY* key = PEM_read_bio_PrivateKey(in, nullptr, nullptr, nullptr);
  BIO_free(in);
  BOOST_TEST_REQUIRE(key != nullptr);
  BIO* out = BIO_new(BIO_s_mem());
  char pass[] = "secret";
  BOOST_TEST_REQUIRE(PEM_write_bio_PrivateKey(out, key, EVP_aes_256_cbc(),
                                              reinterpret_cast<unsigned char*>(pass), 6, nullptr,
                                              nullptr) == 1);
  char* data = nullptr;
  const long size = BIO_get_mem_data(out, &data);
  write_file(dir / "key.pem", std::string{data, static_cast<std::size_t>(size)}, private_file);
  BIO_free(out);
  EVP_PKEY_free(key);
  const auto err = load_error(dir);
  BOOST_TEST(err.code == rm::errc::invalid_credentials);
  BOOST_TEST(contains(err.message(), "encrypted keys are not supported"), err.message());
}

BOOST_AUTO_TEST_CASE(certificate_issued_by_the_ca_lets_another_directory_in) {
  // What docs/remote.md does with the openssl command for another user or host,
  // through the API: a new key and certificate signed by the same CA, beside a copy
  // of the CA certificate only.
  scratch tmp;
  const auto home = tmp.dir / "home";
  generate_tls_credentials(home);
  const rm::tls_identity ca{read_all(home / "ca-key.pem"), read_all(home / "ca.pem")};
  auto guest = ca.issue("guest", std::chrono::days{30});
  BOOST_TEST_REQUIRE(guest.has_value());
  const auto dir = tmp.dir / "guest";
  fs::create_directory(dir);
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace);
  write_file(dir / "ca.pem", ca.certificate_pem, private_file | fs::perms::others_read);
  write_file(dir / "cert.pem", guest.value().certificate_pem, private_file);
  write_file(dir / "key.pem", guest.value().key_pem, private_file);
  auto loaded = rm::tls_credentials::load(dir, rm::on_missing::fail);
  BOOST_TEST_REQUIRE(loaded.has_value(), (loaded ? "" : loaded.error().message()));
  BOOST_TEST(contains(loaded.value().subject(), "CN = guest"), loaded.value().subject());
}

BOOST_AUTO_TEST_CASE(loaded_credentials_do_not_depend_on_their_files_any_more) {
  scratch tmp;
  const auto dir = tmp.dir / "tls";
  const auto creds = generate_tls_credentials(dir);
  const auto key = read_all(dir / "key.pem");
  const auto cert = read_all(dir / "cert.pem");
  const auto ca = read_all(dir / "ca.pem");
  fs::remove_all(dir);
  BOOST_TEST(read_all(creds.key_file()) == key);
  BOOST_TEST(read_all(creds.certificate_file()) == cert);
  BOOST_TEST(read_all(creds.ca_file()) == ca);
  const auto copy = creds; // copies share the frozen files
  BOOST_TEST(copy.key_file() == creds.key_file());
}

BOOST_AUTO_TEST_CASE(loaded_credentials_hold_one_context_set_up_for_mutual_tls) {
  scratch tmp;
  const auto creds = generate_tls_credentials(tmp.dir / "tls");
  SSL_CTX* ctx = creds.ssl_context();
  BOOST_TEST_REQUIRE(ctx != nullptr);
  const auto copy = creds;
  BOOST_TEST(copy.ssl_context() == ctx); // one context for every link
  BOOST_TEST(SSL_CTX_get_verify_mode(ctx) == (SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT));
  BOOST_TEST(SSL_CTX_get_min_proto_version(ctx) == TLS1_2_VERSION);
  // No session outlives its connection: every link proves its certificate again.
  BOOST_TEST(SSL_CTX_get_session_cache_mode(ctx) == SSL_SESS_CACHE_OFF);
  BOOST_TEST((SSL_CTX_get_options(ctx) & SSL_OP_NO_TICKET) != 0u);
  BOOST_TEST(SSL_CTX_get0_certificate(ctx) != nullptr);
  BOOST_TEST(SSL_CTX_check_private_key(ctx) == 1);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(link_address_policy)

BOOST_AUTO_TEST_CASE(only_loopback_addresses_count_as_loopback) {
  for (const char* host : {"127.0.0.1", "127.1.2.3", "::1", "localhost"})
    BOOST_TEST(rm::is_loopback(host), host);
  for (const char* host : {"", "0.0.0.0", "::", "10.1.2.3", "192.168.0.1", "8.8.8.8"})
    BOOST_TEST(!rm::is_loopback(host), host);
}

BOOST_AUTO_TEST_CASE(insecure_link_is_refused_off_loopback_and_tls_is_not) {
  const auto insecure = rm::link_security::insecure();
  BOOST_TEST(rm::check_link_address(insecure, "127.0.0.1").has_value());
  for (const char* host : {"0.0.0.0", "", "10.1.2.3"}) {
    auto refused = rm::check_link_address(insecure, host);
    BOOST_TEST_REQUIRE(!refused.has_value(), host);
    BOOST_TEST(refused.error().code == rm::errc::insecure_address);
    BOOST_TEST(contains(refused.error().message(), "loopback"), refused.error().message());
  }
  scratch tmp;
  const auto tls = rm::link_security::tls(generate_tls_credentials(tmp.dir / "tls"));
  BOOST_TEST(tls.uses_tls());
  BOOST_TEST(rm::check_link_address(tls, "0.0.0.0").has_value());
}

BOOST_AUTO_TEST_SUITE_END()
